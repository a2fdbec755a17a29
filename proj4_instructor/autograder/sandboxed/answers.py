"""The answer producer: the only autograder code that runs student code. It decides nothing.

Rule: this process runs as the unprivileged sandbox user (sandbox.py) and writes ANSWERS only, to
the JSON file named on its command line: the outputs of the student's functions on inputs drawn
from this grading's seed (probes.py) and of the student's from-scratch classes loaded with their
own checkpoints. What they are compared with was computed by the trusted side before this process
started, from the same seed, and stays in the runner's memory.
Reason: anything in this process can be changed by the submission (monkeypatching, os._exit, a
forged file), so what it writes is only ever a value to compare, never a verdict.

Each probe runs on its own, in a try/except: a crash is that probe's error and the others still
run. The file is rewritten after every probe, so a process stopped midway leaves what it had; the
runner runs it again for the probes after the one it died in (config "skip": the ones already done).

    python answers.py OUT.json CONFIG.json
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import probes


class ProbeTimeout(BaseException):
    """A probe ran past its time: the whole probe is stopped, the next one starts."""


def main(argv) -> int:
    out, config = Path(argv[0]), json.loads(Path(argv[1]).read_text())
    torch.set_num_threads(int(config.get("threads", 1)))
    seed = int(config["seed"])
    answers = {"probes": {}, "checkpoint_outputs": {}}

    def save():
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(answers))
        os.replace(tmp, out)

    limit = int(config.get("probe_timeout", 60))

    def alarm(signum, frame):  # not an Exception: the probes' own guards must not swallow it
        raise ProbeTimeout(f"this probe took more than {limit} s (an endless loop in your code?)")

    signal.signal(signal.SIGALRM, alarm)

    def attempt(key: str, fn):
        start = time.monotonic()
        signal.alarm(limit)  # a probe that hangs costs its own checks, not the probes after it
        try:
            entry = {"answer": fn()}
        except BaseException as err:  # noqa: BLE001 - SystemExit from student code is one probe's failure
            entry = {"error": "".join(traceback.format_exception_only(type(err), err)).strip()[-1500:],
                     "traceback": traceback.format_exc()[-3000:]}
        finally:
            signal.alarm(0)
        entry["seconds"] = round(time.monotonic() - start, 2)
        answers["probes"][key] = entry
        save()

    skip = set(config.get("skip", ()))  # answered (or ended) in an earlier run of this grading
    for name, fn in probes.PROBES.items():
        if name not in skip:
            attempt(name, lambda n=name, f=fn: f(probes.Draw(seed, n)))
    try:
        answers["checkpoint_outputs"] = probes.checkpoint_outputs(seed, config["model_dir"], config["parts"])
    except BaseException as err:  # noqa: BLE001 - whatever the student's checkpoints raise is their answer
        answers["checkpoint_outputs"] = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
