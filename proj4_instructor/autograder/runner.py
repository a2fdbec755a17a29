"""The proj4 Gradescope autograder: submission in, results.json out. Standard library only.

Principle: a point comes only from evidence a submission cannot produce without correct work. The
trusted side computes every number the points depend on; student code only ever answers.

 0. results.json is written at once with an "Autograder error" entry and padded to RESERVED bytes,
    so a disk the sandbox fills cannot stop the real one (written in place, in those bytes, at the end).
 1. intake.py copies the graded files (one proj4_code/ folder, the four checkpoints) into a
    root-owned work folder, within fixed bounds; a missing student module is the starter's.
 2. trusted.py, before any student code runs, from a folder of pristine code (deleted right after):
    reads each checkpoint with weights_only, evaluates it on the test images in the pristine
    architecture, and computes the reference's answers to the probes on inputs drawn from a seed
    drawn for this grading alone.
 3. answers.py in the sandbox (sandbox.py): the student's answers to the same probes.
 4. the public tests in the sandbox, as feedback only (0 points).
 5. scoring.py compares; every sandbox process is dead and its files removed before results.json
    is written.

Run as a module from the folder that holds the package: `cd source/grader && python -m
proj4_autograder.runner` (run_autograder does; the package is proj4_instructor.autograder in the
instructor repository). Environment (all optional): AUTOGRADER_ROOT (/autograder),
AUTOGRADER_PYTHON (ROOT/venv/bin/python if present, else this interpreter), AUTOGRADER_TOTAL_TIMEOUT,
AUTOGRADER_PUBLIC_TIMEOUT, AUTOGRADER_TEST_TIMEOUT, AUTOGRADER_PROBE_TIMEOUT, AUTOGRADER_THREADS (1),
AUTOGRADER_MEMORY_MB,
AUTOGRADER_SANDBOX_USER (proj4grader; "none" runs student code as the current user, without a
sandbox: local use only), AUTOGRADER_SEED (tests only: a fixed seed instead of a random one).
"""
from __future__ import annotations

import fcntl
import json
import os
import resource
import secrets
import shutil
import stat
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from . import intake, sandbox, scoring

OUTPUT_LIMIT = 5000  # characters of output kept per test in results.json
RESULTS_LIMIT = 900_000  # bytes: results.json stays well under 1 MB
RESERVED = 1 << 20
ANSWERS_LIMIT = 8 * 2**20  # bytes of answers.json read
TRUSTED_LIMIT = 16 * 2**20
EVENTS_LIMIT = 16 * 2**20
PLUGIN = "proj4_grader_plugin"
PUBLIC = "proj4_unit_tests"
PACKAGE = Path(__file__).resolve().parent


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Head and tail of a long text, saying how much was cut."""
    text = text or ""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-(limit - head):]}"


def clean(text) -> str:
    """Valid UTF-8 text without control characters (lone surrogates become '?')."""
    text = str(text).encode("utf-8", "replace").decode("utf-8", "replace")
    return "".join(c if c.isprintable() or c in "\n\t" else "?" for c in text)


@dataclass
class Settings:
    root: Path
    python: str
    total_timeout: Optional[float]  # None: config.json's
    test_timeout: Optional[float]
    public_timeout: Optional[float]
    threads: int
    memory_mb: Optional[int]
    probe_timeout: Optional[float]
    sandbox_user: str
    seed: Optional[int]

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results" / "results.json"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        root = Path(env.get("AUTOGRADER_ROOT", "/autograder")).resolve()
        venv_python = root / "venv" / "bin" / "python"
        number = lambda name: float(env[name]) if env.get(name) else None  # noqa: E731
        return cls(
            root=root,
            python=env.get("AUTOGRADER_PYTHON") or (str(venv_python) if venv_python.exists() else sys.executable),
            total_timeout=number("AUTOGRADER_TOTAL_TIMEOUT"),
            test_timeout=number("AUTOGRADER_TEST_TIMEOUT"),
            public_timeout=number("AUTOGRADER_PUBLIC_TIMEOUT"),
            threads=int(env.get("AUTOGRADER_THREADS", "1")),
            memory_mb=int(env["AUTOGRADER_MEMORY_MB"]) if env.get("AUTOGRADER_MEMORY_MB") else None,
            probe_timeout=number("AUTOGRADER_PROBE_TIMEOUT"),
            sandbox_user=env.get("AUTOGRADER_SANDBOX_USER", "proj4grader"),
            seed=int(env["AUTOGRADER_SEED"]) if env.get("AUTOGRADER_SEED") else None,
        )


# -- results.json ---------------------------------------------------------------------------------

def reserve(path: Path, max_score: float) -> None:
    """Write an error result now, padded to RESERVED bytes: the final one goes into the same blocks.
    Its folder is root's alone from the start (other users of the machine read nothing in it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if path.is_symlink():
        path.unlink()
    body = json.dumps(error_results("grading did not finish", max_score)).encode()
    with open(path, "wb") as f:
        f.write(body + b" " * (RESERVED - len(body)))
        f.flush()
        os.fsync(f.fileno())


def encode(results: dict) -> bytes:
    """results.json as valid UTF-8 JSON under RESULTS_LIMIT bytes (outputs shortened if needed)."""
    def cleaned(value):
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [cleaned(v) for v in value]
        if isinstance(value, dict):
            return {clean(k): cleaned(v) for k, v in value.items()}
        return value

    results = cleaned(results)
    limit = OUTPUT_LIMIT
    while True:
        body = json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False).encode("utf-8")
        if len(body) <= RESULTS_LIMIT or limit < 50:
            return body
        limit //= 2
        results["output"] = clip(results.get("output", ""), limit * 4)
        for test in results.get("tests", []):
            test["output"] = clip(test.get("output", ""), limit)


def write_results(path: Path, results: dict) -> None:
    """Into the reserved file, in place (no new blocks needed); after every sandbox process is dead."""
    body = encode(results)
    try:
        with open(path, "r+b") as f:
            f.write(body)
            f.truncate(len(body))
    except FileNotFoundError:  # not reserved (the runner failed before it could)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def error_results(details: str, max_score: float = 0.0) -> dict:
    return {
        "score": 0.0,
        "output": "The autograder itself failed; this is not a grade. Please tell the course staff.",
        "visibility": "visible",
        "tests": [{
            "name": "Autograder error", "number": "0.1", "score": 0.0, "max_score": max_score,
            "status": "failed", "visibility": "visible",
            "output": "The autograder failed while grading your submission. Please tell the course staff.\n\n"
                      + clip(details, 300),
        }],
    }


# -- the work folder ---------------------------------------------------------------------------------

def copy_readable(src: Path, dst: Path) -> None:
    """A root-owned copy the sandbox user may read but not change."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [dst, *dst.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def prepare_work(settings: Settings, user: Optional[sandbox.Identity]) -> Path:
    """A fresh, root-owned work folder: code/ (read-only for the sandbox) and model_output/. With a
    sandbox user it is root:<the user's group>, mode 0750: the user can read it, no other user of the
    machine can enter it (on a machine that grades several submissions at once, each worker's
    sandbox user would otherwise read the reference solution in the others' trusted step, their
    submissions and their checkpoints)."""
    work = settings.work
    if work.exists():
        sandbox.remove(work)
    work.mkdir(mode=0o700, parents=True)
    if user is not None:
        os.chown(work, 0, user.gid)
        os.chmod(work, 0o750)
    else:
        os.chmod(work, 0o755)
    (work / "code").mkdir()
    (work / "model_output").mkdir()
    for package in sorted((settings.source / "provided").iterdir()):
        copy_readable(package, work / "code" / package.name)
    copy_readable(settings.source / "tests" / "public", work / "code" / PUBLIC)
    copy_readable(settings.source / "sandbox", work / "code" / "grader")
    return work


def step_folder(work: Path, name: str, user: Optional[sandbox.Identity]) -> Path:
    """An empty folder only the sandbox user can write: the step's working folder, HOME and TMPDIR."""
    folder = work / name
    folder.mkdir()
    os.chmod(folder, 0o700)
    if user:
        os.chown(folder, user.uid, user.gid)
    return folder


# glibc: allocations from 64 KB up get their own mapping, returned to the kernel when freed, so a
# process's resident size follows what it holds instead of its fragmented high-water mark (models
# are built and dropped one after another in every step).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}


def sandbox_env(settings: Settings, folder: Path, pythonpath: str) -> Dict[str, str]:
    return {
        **MALLOC_ENV,
        "PATH": os.defpath, "LANG": "C.UTF-8", "HOME": str(folder), "TMPDIR": str(folder),
        "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": str(settings.threads), "MKL_NUM_THREADS": str(settings.threads),
        "TORCH_HOME": str(folder / "torch"),
    }


def limits(settings: Settings, config: dict, seconds: float) -> sandbox.Limits:
    return sandbox.Limits(seconds=seconds, memory_bytes=(settings.memory_mb or config["memory_limit_mb"]) * 2**20)


# -- the steps ------------------------------------------------------------------------------------------

def trusted_step(settings: Settings, work: Path, config: dict, user, seed: int) -> dict:
    """trusted.py on pristine code, before any student code runs; retried without a checkpoint that
    stopped it. The folder with the reference solution is gone when this returns."""
    folder = work / "trusted"
    copy_readable(settings.source / "grader" / "trusted_code", folder)
    copy_readable(settings.source / "grader" / "prepared", folder / "prepared")
    tmp = step_folder(folder, "tmp", user)
    skip: List[str] = []
    try:
        for _ in range(len(config["parts"]) + 1):
            request = {"seed": seed, "threads": settings.threads, "model_dir": str(work / "model_output"),
                       "prepared": str(folder / "prepared"), "parts": config["parts"], "workdir": str(tmp),
                       "pixel_mean": config["pixel_mean"], "pixel_std": config["pixel_std"], "skip": skip}
            (folder / "request.json").write_text(json.dumps(request))
            os.chmod(folder / "request.json", 0o644)
            out = tmp / "trusted.json"
            outcome = sandbox.run([settings.python, "-I", str(folder / "trusted.py"), str(folder / "request.json"),
                                   str(out)], cwd=tmp, env={**MALLOC_ENV, "PATH": os.defpath, "LANG": "C.UTF-8",
                                                           "HOME": str(tmp), "TMPDIR": str(tmp),
                                                           "OMP_NUM_THREADS": str(settings.threads)},
                                  user=user, limits=limits(settings, config, config["trusted_timeout"]))
            print(f"---- trusted evaluation: {outcome.describe()} after {outcome.seconds:.1f} s, "
                  f"peak RSS {outcome.max_rss_mb:.0f} MB ----\n{outcome.log[-3000:]}")
            data = sandbox.read_file(out, TRUSTED_LIMIT) if outcome.returncode == 0 else None
            if data:
                return {**json.loads(data), "peak_rss_mb": outcome.max_rss_mb}
            started = [line.split(" ", 1) for line in outcome.log.splitlines()
                       if line.startswith(("checkpoint ", "probe "))]
            if not started or started[-1][0] != "checkpoint" or started[-1][1] in skip:
                raise RuntimeError(f"the trusted evaluation failed ({outcome.describe()}):\n{outcome.log[-3000:]}")
            skip.append(started[-1][1])  # that checkpoint stopped it: grade the others without it
        raise RuntimeError("the trusted evaluation kept failing")
    finally:
        sandbox.remove(folder)  # the reference solution must be gone before student code runs


def answers_run(settings: Settings, work: Path, config: dict, user, seed: int, seconds: float, skip: List[str]):
    """One run of answers.py in the sandbox, skipping the probes in `skip`: (answers, outcome)."""
    folder = step_folder(work, "answers", user)
    answers_config = folder / "config.json"
    answers_config.write_text(json.dumps({
        "seed": seed, "threads": settings.threads, "model_dir": str(work / "model_output"), "skip": skip,
        "probe_timeout": settings.probe_timeout or config["probe_timeout"],
        "parts": [{k: p[k] for k in ("class_name", "module", "checkpoint", "backbone")} for p in config["parts"]]}))
    cmd = [settings.python, str(work / "code" / "grader" / "answers.py"), str(folder / "answers.json"),
           str(answers_config)]
    outcome = sandbox.run(cmd, cwd=folder, env=sandbox_env(settings, folder, str(work / "code")), user=user,
                          limits=limits(settings, config, seconds))
    data = sandbox.read_file(folder / "answers.json", ANSWERS_LIMIT)
    sandbox.remove(folder)  # whatever it wrote there (a full disk, say) is gone before the next step
    try:
        answers = json.loads(data) if data else {}
    except (ValueError, RecursionError):
        answers = {}
    return (answers if isinstance(answers, dict) else {}), outcome


def answers_step(settings: Settings, work: Path, config: dict, user, seed: int, seconds: float,
                 probe_names: List[str]):
    """answers.py in the sandbox; returns (answers, outcomes). Nothing here trusts its content.

    answers.py writes its file after every probe. If the process ends before the last one by itself
    (os._exit, a crash, a signal; not the time limit, not the watchdog), it runs again for the probes
    after the one it ended in, which gets that as its error: code that kills the process costs the
    checks of the probe it ran in, not every later probe's."""
    deadline = time.monotonic() + seconds
    merged: dict = {"probes": {}, "checkpoint_outputs": {}}
    outcomes = []
    while True:
        done = list(merged["probes"])
        answers, outcome = answers_run(settings, work, config, user, seed, max(5.0, deadline - time.monotonic()),
                                       done)
        outcomes.append(outcome)
        probes = answers.get("probes") if isinstance(answers.get("probes"), dict) else {}
        for name, entry in probes.items():
            if name in probe_names and name not in merged["probes"]:
                merged["probes"][name] = entry
        if isinstance(answers.get("checkpoint_outputs"), dict):
            merged["checkpoint_outputs"] = answers["checkpoint_outputs"]
        pending = [name for name in probe_names if name not in merged["probes"]]
        ended_itself = outcome.returncode != 0 and not outcome.timed_out and not outcome.stopped_for
        if not ended_itself or not pending or deadline - time.monotonic() < 10:
            return merged, outcomes
        merged["probes"][pending[0]] = {"error": f"your code ended the grader's process during this probe: it "
                                                 f"{outcome.describe()}"}


def public_step(settings: Settings, work: Path, config: dict, user, seconds: float):
    """The public tests in the sandbox, for the student's feedback only, one pytest process per group
    of files (the frozen-backbone parts' files apart: one process building every model would not fit
    768 MB); returns (events, the outcomes)."""
    folder = step_folder(work, "public", user)
    events, outcomes = [], []
    deadline = time.monotonic() + seconds
    groups = config.get("public_groups") or [sorted({t.split("::")[0] for t in config["public_tests"]})]
    for number, group in enumerate(groups):
        log = folder / f"events-{number}.jsonl"
        env = {**sandbox_env(settings, folder, f"{work / 'code'}{os.pathsep}{work / 'code' / 'grader'}"), "CI": "1",
               "PROJ4_DATA_DIR": str(folder / "no-data"), "PROJ4_MODEL_DIR": str(work / "model_output"),
               "GRADER_EVENTS": str(log)}
        test_timeout = settings.test_timeout or config["test_timeout"]
        cmd = [settings.python, "-m", "pytest", "-p", PLUGIN, "-c", str(work / "code" / "grader" / "pytest.ini"),
               "--rootdir", str(work / "code"), "-p", "no:cacheprovider", "-q", "--continue-on-collection-errors",
               "-o", f"timeout={test_timeout:g}",
               *[str(work / "code" / name) for name in group]]
        outcomes.append(sandbox.run(cmd, cwd=folder, env=env, user=user,
                                    limits=limits(settings, config, max(5.0, deadline - time.monotonic()))))
        for line in (sandbox.read_file(log, EVENTS_LIMIT) or b"").decode("utf-8", "replace").splitlines():
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(event, dict):
                events.append(event)
    sandbox.remove(folder)
    return events, outcomes


def feedback_tests(events: List[dict], known: List[str]) -> List[dict]:
    """The public tests' outcomes as 0-point results: what the student's own run reported, for the
    tests the release collected (names come from that list, never from the sandbox)."""
    outcomes: Dict[str, str] = {}
    messages: Dict[str, str] = {}
    files = {nodeid.split("::")[0] for nodeid in known}
    for event in events:
        nodeid = event.get("nodeid")
        if not isinstance(nodeid, str):
            continue
        if event.get("event") == "test" and nodeid in known:
            if event.get("outcome") != "passed":
                outcomes[nodeid] = "failed" if event.get("outcome") == "failed" else outcomes.get(nodeid, "skipped")
                if event.get("outcome") == "failed":
                    messages[nodeid] = str(event.get("message", ""))[-1200:]
            else:
                outcomes.setdefault(nodeid, "passed")
        elif event.get("event") == "collect_error" and nodeid in files:
            for test in known:
                if test.startswith(nodeid + "::"):
                    outcomes[test] = "failed"
                    messages[test] = "collection error (the test file could not be imported):\n" + \
                        str(event.get("message", ""))[-1200:]
    tests = []
    for i, nodeid in enumerate(known, start=1):
        outcome = outcomes.get(nodeid, "not run")
        note = {"not run": "Not run (the public tests stopped before it, or it needs data the grader does not "
                           "have).", "skipped": "Skipped."}.get(outcome, "")
        tests.append({"name": f"public test {nodeid.split('/', 1)[-1]}", "number": f"3.{i}", "score": 0.0,
                      "max_score": 0.0, "status": "passed" if outcome == "passed" else "failed",
                      "visibility": "visible",
                      "output": clip("Feedback only, worth 0 points: the points come from the grader's checks "
                                     f"above. {note}\n" + messages.get(nodeid, ""), 1500)})
    return tests


def add_starter(work: Path, source: Path, config: dict, taken: intake.Intake) -> List[str]:
    notes = []
    for name in config["student_files"]:
        if f"proj4_code/{name}" not in taken.accepted:
            shutil.copy2(source / "starter" / "proj4_code" / name, work / "code" / "proj4_code" / name)
            os.chmod(work / "code" / "proj4_code" / name, 0o644)
            notes.append(f"proj4_code/{name} is not in the submission: graded with the starter's version")
    return notes


# -- one grading ------------------------------------------------------------------------------------------

def grade(settings: Settings, config: dict) -> dict:
    grader = settings.source / "grader"
    key = json.loads((grader / "test_key.json").read_text())
    user, sandbox_note = sandbox.identity(settings.sandbox_user)
    if user is not None:
        sandbox.kill_uid(user.uid)  # whatever an earlier grading on this machine left
        sandbox.clean_shared_dirs(user.uid)
        sandbox.remove_ipc(user.uid)
    for folder in (settings.source, settings.submission, settings.results.parent):
        if user and folder.exists():
            os.chmod(folder, 0o700)
    work = prepare_work(settings, user)
    try:
        taken = intake.take_submission(settings.submission, work / "code", config)
    except intake.Refused as err:
        return refused_results(str(err), config)
    for name in list(taken.accepted):
        if name.startswith("model_output/"):
            os.replace(work / "code" / name, work / name)
    sandbox.remove(work / "code" / "model_output")
    notes = add_starter(work, settings.source, config, taken)
    seed = settings.seed if settings.seed is not None else secrets.randbits(62)

    trusted = trusted_step(settings, work, config, user, seed)
    # the student's code has its whole time limit, however long the trusted side took (a hostile
    # checkpoint that slows the evaluator costs its own checks, not the time of every other check)
    answers, answer_runs = answers_step(settings, work, config, user, seed,
                                        settings.total_timeout or config["total_timeout"], list(trusted["expected"]))
    answer_run = answer_runs[-1]
    answer_note = f"the answer process {answer_run.describe()}" if answer_run.returncode != 0 else ""
    evidence = scoring.Evidence(answers, trusted, key)
    tests, leaderboard = scoring.score(evidence, config, answer_note)
    try:
        events, public_runs = public_step(settings, work, config, user,
                                          settings.public_timeout or config["public_timeout"])
    except sandbox.SandboxBreach:
        raise
    except Exception as err:  # noqa: BLE001 - feedback only: the points above stand (a full disk, say)
        print(f"the public tests could not run:\n{traceback.format_exc()}")  # the staff's log
        events, public_runs = [], [sandbox.Outcome(None, False, 0.0, f"could not start: {type(err).__name__}: {err}")]
    tests += feedback_tests(events, config["public_tests"])
    for test in tests:
        test["output"] = clip(test["output"])

    lines = [f"Code graded: {taken.code_folder or 'none found (the starter was graded)'}"]
    lines.append(f"Files graded: {', '.join(sorted(taken.accepted)) or 'none'}")
    lines += [f"Refused: {r}" for r in taken.refused[:20]]
    lines += notes
    if taken.ignored:
        lines.append("Not used (provided files come from the autograder; others are not graded): "
                     + ", ".join(taken.ignored[:20])
                     + (f" and {len(taken.ignored) - 20} more" if len(taken.ignored) > 20 else ""))
    if answer_note:
        lines.append(f"Your code's process {answer_run.describe()}; the checks it did not answer score 0.")
    if evidence.grader_errors:
        lines.append("The grader failed on its own side for: " + ", ".join(evidence.grader_errors)
                     + " (not your fault: the course staff will regrade).")
    lines.append("Points come from the grader's checks (1.x, 2.x); your public tests (3.x) are feedback.")
    print("\n".join(lines))  # the staff's log (stdout, hidden from students)
    print(sandbox_note + ("; network: cut off" if user and sandbox.network_isolated(user) else
                          "; network: not cut off (the container does not allow a network namespace)"))
    print(f"seed of this grading: {seed}; trusted side: {json.dumps(trusted.get('seconds', {}))}")
    for i, run in enumerate(answer_runs, start=1):
        print(f"---- answers (run {i} of {len(answer_runs)}): {run.describe()} after {run.seconds:.1f} s, "
              f"peak RSS {run.max_rss_mb:.0f} MB; {'; '.join(run.notes) or 'nothing left behind'} ----\n{run.log}")
    for number, run in enumerate(public_runs):
        print(f"---- public tests, group {number + 1}: {run.describe()} after {run.seconds:.1f} s, "
              f"peak RSS {run.max_rss_mb:.0f} MB; {'; '.join(run.notes) or 'nothing left behind'} ----\n{run.log}")
    print(f"peak RSS per step: trusted {trusted.get('peak_rss_mb', 0):.0f} MB, answers "
          f"{max(r.max_rss_mb for r in answer_runs):.0f} MB, public tests "
          f"{max((r.max_rss_mb for r in public_runs), default=0):.0f} MB")
    print(f"peak memory of the sandboxed processes: "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
    return {
        "score": round(sum(t["score"] for t in tests), 2),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "leaderboard": leaderboard,
    }


def refused_results(reason: str, config: dict) -> dict:
    return {"score": 0.0, "output": f"The submission could not be graded: {reason}", "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [{"name": "Submission", "number": "0.1", "score": 0.0, "max_score": scoring.max_score(config),
                       "status": "failed", "visibility": "visible", "output": clip(reason, 2000)}],
            "leaderboard": [{"name": f"Part {p['number']} {p['class_name']} test accuracy (%)", "value": 0.0,
                             "order": "desc"} for p in config["parts"] if p.get("leaderboard")]}


LOCK_DIRS = ("/run/proj4-autograder", "/var/lock/proj4-autograder", "/tmp/proj4-autograder-locks")


def lock_sandbox_user(name: str) -> Optional[Path]:
    """Wait until no other grading on this machine uses the sandbox user `name`, and hold it (until
    this process exits): the runner kills every process of its user, so two gradings sharing one
    would kill each other's. The lock lives in a folder only root may write (a lock the sandbox
    could create or hold would let it stop later gradings). Returns that folder."""
    for folder in LOCK_DIRS:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError:
            continue
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
            continue
        fd = os.open(f"{folder}/{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until this process exits (the fd stays open)
        return Path(folder)
    print(f"warning: no root-only folder for the lock of the sandbox user {name!r}; grade one submission at "
          "a time with it")
    return None


def close_work(work: Path, gid: Optional[int] = None) -> None:
    """root's alone from now on: what a grading leaves (a kept folder, say) is no later grading's to read.
    With `gid`, only if the folder is still open to that group (a grading of that sandbox user)."""
    try:
        info = os.lstat(work)
    except OSError:
        return
    if os.geteuid() == 0 and stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and gid in (None, info.st_gid):
        os.chown(work, 0, 0)
        os.chmod(work, 0o700)


def close_interrupted_grading(lock_folder: Optional[Path], name: str, work: Path, gid: int) -> None:
    """A grading killed before its end (the machine, or root's kill -9) leaves its work folder open to
    its sandbox user, with a submission in it and, in its trusted step, the reference solution: the
    next grading with that user closes it. Which folder is open is recorded beside the user's lock
    (root's alone); the record is cleared when a grading ends."""
    if lock_folder is None:
        return
    record = lock_folder / f"{name}.work"
    try:
        previous = record.read_text()
    except OSError:
        previous = ""
    if previous:
        print(f"closing the work folder of an interrupted grading: {previous}")
        close_work(Path(previous), gid)
    record.write_text(str(work))


def main() -> int:
    start = time.monotonic()
    os.umask(0o022)  # the code folder must be readable by the sandbox user
    settings = Settings.from_env()
    results: Optional[dict] = None
    max_score = 0.0
    lock_folder: Optional[Path] = None
    try:
        config = json.loads((settings.source / "grader" / "config.json").read_text())
        max_score = scoring.max_score(config)
        reserve(settings.results, max_score)
        sandbox.become_subreaper()
        sandbox_user = sandbox.identity(settings.sandbox_user)[0]
        if sandbox_user is not None:
            lock_folder = lock_sandbox_user(settings.sandbox_user)
            close_interrupted_grading(lock_folder, settings.sandbox_user, settings.work, sandbox_user.gid)
        results = grade(settings, config)
    except BaseException:  # noqa: B036 - whatever happens, Gradescope gets a results.json
        details = traceback.format_exc()
        print(details, file=sys.stderr)  # the staff's log; the student sees only the last line
        results = error_results(details.strip().splitlines()[-1], max_score)
    finally:
        try:
            user, _ = sandbox.identity(settings.sandbox_user)
            if user is not None:
                sandbox.kill_uid(user.uid)
                sandbox.clean_shared_dirs(user.uid)
                sandbox.remove_ipc(user.uid)
            close_work(settings.work)
            if lock_folder is not None:
                (lock_folder / f"{settings.sandbox_user}.work").write_text("")
        except Exception:  # noqa: BLE001 - a breach here is reported below, never a missing results.json
            results = error_results(traceback.format_exc().strip().splitlines()[-1], max_score)
        if results is None:
            results = error_results("grading stopped before it finished", max_score)
        results["execution_time"] = round(time.monotonic() - start, 1)
        write_results(settings.results, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
