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
 5. scoring.py compares; every sandbox process is dead before results.json is written.
Time: the whole grading ends by the deadline (protocol.LIMITS): every step gets at most what is left
of it, and what a step leaves behind is removed in this process within the cleanup limit, so
results.json is written inside Gradescope's 10 minutes whatever the submission does. The runner's
measurements (each step's time and peak memory, the container's peak) go to measurements.json
beside results.json.

Run as a module from the folder that holds the package: `cd source/grader && python -m
proj4_autograder.runner` (run_autograder does; the package is proj4_instructor.autograder in the
instructor repository). Environment (all optional): AUTOGRADER_ROOT (/autograder),
AUTOGRADER_PYTHON (ROOT/venv/bin/python if present, else this interpreter), AUTOGRADER_THREADS (1),
protocol.ENV_NAMES for the limits a test may tighten (AUTOGRADER_DEADLINE, AUTOGRADER_TOTAL_TIMEOUT, ...),
AUTOGRADER_SANDBOX_USER (proj4grader; "none" runs student code as the current user, without a
sandbox: local use only), AUTOGRADER_SANDBOX_UID (an id of no account for this grading alone, used
instead of the user's: `proj4-instructor grade` draws one per container), AUTOGRADER_SEED (tests
only: a fixed seed instead of a random one).
"""
from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from . import intake, protocol, sandbox, scoring

# protocol.LIMITS says each limit's unit, enforcer and reason.
OUTPUT_LIMIT = protocol.value("output_chars")
RESULTS_LIMIT = protocol.value("results_bytes")
RESERVED = protocol.value("reserved_bytes")
ANSWERS_LIMIT = protocol.value("answers_bytes")
TRUSTED_LIMIT = protocol.value("trusted_bytes")
EVENTS_LIMIT = protocol.value("events_bytes")
MIN_STEP = float(protocol.value("min_step"))
PUBLIC = protocol.PUBLIC
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
    threads: int
    sandbox_user: str
    sandbox_uid: Optional[int]
    seed: Optional[int]
    context: Dict[str, str] = field(default_factory=dict)  # what the grading found out (for measurements)

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
        return cls(
            root=root,
            python=env.get("AUTOGRADER_PYTHON") or (str(venv_python) if venv_python.exists() else sys.executable),
            threads=int(env.get("AUTOGRADER_THREADS", "1")),
            sandbox_user=env.get("AUTOGRADER_SANDBOX_USER", "proj4grader"),
            sandbox_uid=int(env["AUTOGRADER_SANDBOX_UID"]) if env.get("AUTOGRADER_SANDBOX_UID") else None,
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
    machine can enter it."""
    work = settings.work
    if work.exists():
        sandbox.remove(work)
    work.mkdir(mode=0o700, parents=True)
    if user is not None:
        os.chown(work, 0, user.gid)
        os.chmod(work, 0o750)
    else:
        os.chmod(work, 0o755)
    (work / "code" / "proj4_code").mkdir(parents=True)
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


# -- time: one deadline for the whole grading ---------------------------------------------------------------

@dataclass
class Clock:
    """The grading's deadline, and what each step was given and took (protocol.LIMITS)."""

    start: float
    deadline: float  # seconds after start
    reserve: float  # kept back for scoring and results.json
    cleanup: float
    steps: List[dict] = field(default_factory=list)

    def left(self) -> float:
        return self.deadline - self.reserve - (time.monotonic() - self.start)

    def seconds_for(self, limit: float) -> float:
        """A step's wall clock: its own limit, or what is left of the deadline if that is less."""
        return max(0.0, min(limit, self.left()))

    def remove(self, folder: Path) -> sandbox.Removal:
        """Remove a step's folder in this process, within the cleanup limit and the deadline."""
        return sandbox.remove(folder, time.monotonic() + max(1.0, min(self.cleanup, self.left())))

    def record(self, name: str, outcome: Optional[sandbox.Outcome], given: float, notes: List[str] = (),
               limit: float = 0.0) -> None:
        """A step's measurements; without an outcome, the step was not run (`limit`: its own limit)."""
        entry = {"step": name, "given_s": round(given, 1), "notes": list(notes)}
        if outcome is not None:
            entry.update(seconds=round(outcome.seconds, 1), peak_rss_mb=round(outcome.max_rss_mb, 1),
                         watchdog_peak_mb=round(outcome.peak_mb, 1), outcome=outcome.describe(),
                         notes=list(notes) + outcome.notes)
        elif limit < MIN_STEP:
            entry.update(seconds=0.0, peak_rss_mb=0.0, outcome=f"not run: its limit is {limit:g} s")
        else:
            entry.update(seconds=0.0, peak_rss_mb=0.0, outcome="not run: the grading's time ran out")
        self.steps.append(entry)


def limits(config: dict, seconds: float, clock: Clock) -> sandbox.Limits:
    return sandbox.Limits(seconds=seconds, memory_bytes=int(protocol.limit(config, "memory_limit_mb")) * 2**20,
                          processes=int(protocol.LIMITS["processes"].value),
                          file_bytes=int(protocol.LIMITS["file_bytes"].value),
                          disk_bytes=int(protocol.LIMITS["disk_bytes"].value),
                          disk_files=int(protocol.LIMITS["disk_files"].value),
                          cleanup_seconds=max(1.0, min(clock.cleanup, clock.left())))


# -- the steps ------------------------------------------------------------------------------------------

def trusted_step(settings: Settings, work: Path, config: dict, user, seed: int, clock: Clock) -> dict:
    """trusted.py on pristine code, before any student code runs; retried without a checkpoint that
    stopped it (each attempt within the step's limit and all within the deadline). The folder with the
    reference solution is gone when this returns (removed without a time limit: it holds only the
    grader's own files)."""
    folder = work / "trusted"
    copy_readable(settings.source / "grader" / "trusted_code", folder)
    copy_readable(settings.source / "grader" / "prepared", folder / "prepared")
    tmp = step_folder(folder, "tmp", user)
    skip: List[str] = []
    try:
        for attempt in range(len(config["parts"]) + 1):
            # each attempt has the step's time, all of them within the grading's deadline
            seconds = clock.seconds_for(protocol.limit(config, "trusted_timeout"))
            if seconds < MIN_STEP:
                raise RuntimeError("the trusted evaluation ran out of time")
            request = protocol.trusted_request(seed=seed, threads=settings.threads,
                                               model_dir=str(work / "model_output"),
                                               prepared=str(folder / "prepared"), workdir=str(tmp), config=config,
                                               skip=skip)
            (folder / protocol.FILES["trusted_request"]).write_text(json.dumps(request))
            os.chmod(folder / protocol.FILES["trusted_request"], 0o644)
            out = tmp / protocol.FILES["trusted_out"]
            outcome = sandbox.run([settings.python, "-I", str(folder / "trusted.py"),
                                   str(folder / protocol.FILES["trusted_request"]), str(out)], cwd=tmp,
                                  env=protocol.base_env(str(tmp), settings.threads), user=user,
                                  limits=limits(config, seconds, clock))
            clock.record(f"trusted (run {attempt + 1})", outcome, seconds)
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
        removal = sandbox.remove(folder)  # the reference solution must be gone before student code runs
        if removal.left or folder.exists():
            raise sandbox.SandboxBreach(f"the trusted step's folder could not be removed ({removal.left} left)")


def answers_run(settings: Settings, work: Path, config: dict, user, seed: int, seconds: float, skip: List[str],
                clock: Clock):
    """One run of answers.py in the sandbox, skipping the probes in `skip`: (answers, outcome)."""
    folder = step_folder(work, "answers", user)
    answers_config = folder / protocol.FILES["answers_config"]
    answers_config.write_text(json.dumps(protocol.answers_config(
        seed=seed, threads=settings.threads, model_dir=str(work / "model_output"), skip=skip,
        probe_timeout=protocol.limit(config, "probe_timeout"), config=config)))
    out = folder / protocol.FILES["answers_out"]
    cmd = [settings.python, str(work / "code" / "grader" / "answers.py"), str(out), str(answers_config)]
    outcome = sandbox.run(cmd, cwd=folder, env=protocol.student_env(str(folder), settings.threads, str(work / "code")),
                          user=user, limits=limits(config, seconds, clock))
    data = sandbox.read_file(out, ANSWERS_LIMIT)
    outcome.notes += clock.remove(folder).note("its step folder")  # a full disk, say, is gone before the next step
    try:
        answers = json.loads(data) if data else {}
    except (ValueError, RecursionError):
        answers = {}
    return (answers if isinstance(answers, dict) else {}), outcome


def answers_step(settings: Settings, work: Path, config: dict, user, seed: int, probe_names: List[str],
                 clock: Clock):
    """answers.py in the sandbox; returns (answers, outcomes). Nothing here trusts its content.

    answers.py writes its file after every probe. If the process ends before the last one by itself
    (os._exit, a crash, a signal; not the time limit, not the watchdog), it runs again for the probes
    after the one it ended in, which gets that as its error: code that kills the process costs the
    checks of the probe it ran in, not every later probe's."""
    deadline = time.monotonic() + clock.seconds_for(protocol.limit(config, "total_timeout"))
    merged: dict = {"probes": {}, "checkpoint_outputs": {}}
    outcomes = []
    while True:
        seconds = max(0.0, min(deadline - time.monotonic(), clock.left()))
        if seconds < MIN_STEP:
            clock.record("answers", None, seconds, limit=protocol.limit(config, "total_timeout"))
            return merged, outcomes
        done = list(merged["probes"])
        answers, outcome = answers_run(settings, work, config, user, seed, seconds, done, clock)
        outcomes.append(outcome)
        clock.record(f"answers (run {len(outcomes)})", outcome, seconds)
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


def public_step(settings: Settings, work: Path, config: dict, user, clock: Clock):
    """The public tests in the sandbox, for the student's feedback only, one pytest process per group
    of files (the frozen-backbone parts' files apart: one process building every model would not fit
    768 MB); returns (events, the outcomes)."""
    folder = step_folder(work, "public", user)
    events, outcomes = [], []
    deadline = time.monotonic() + clock.seconds_for(protocol.limit(config, "public_timeout"))
    groups = config.get("public_groups") or [sorted({t.split("::")[0] for t in config["public_tests"]})]
    code = str(work / "code")
    for number, group in enumerate(groups):
        seconds = max(0.0, min(deadline - time.monotonic(), clock.left()))
        if seconds < MIN_STEP:
            clock.record(f"public tests (group {number + 1})", None, seconds,
                         limit=protocol.limit(config, "public_timeout"))
            continue
        log = folder / protocol.FILES["events"].format(group=number)
        env = protocol.student_env(str(folder), settings.threads, f"{code}{os.pathsep}{work / 'code' / 'grader'}", {
            "CI": "1", "PROJ4_DATA_DIR": str(folder / "no-data"), "PROJ4_MODEL_DIR": str(work / "model_output"),
            "GRADER_EVENTS": str(log)})
        cmd = protocol.pytest_command(settings.python, code, group, protocol.limit(config, "test_timeout"))
        outcome = sandbox.run(cmd, cwd=folder, env=env, user=user, limits=limits(config, seconds, clock))
        outcomes.append(outcome)
        clock.record(f"public tests (group {number + 1})", outcome, seconds)
        for line in (sandbox.read_file(log, EVENTS_LIMIT) or b"").decode("utf-8", "replace").splitlines():
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(event, dict):
                events.append(event)
    clock.remove(folder)
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
            (work / "code" / "proj4_code").mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / "starter" / "proj4_code" / name, work / "code" / "proj4_code" / name)
            os.chmod(work / "code" / "proj4_code" / name, 0o644)
            notes.append(f"proj4_code/{name} is not in the submission: graded with the starter's version")
    return notes


# -- one grading ------------------------------------------------------------------------------------------

def grade(settings: Settings, config: dict, clock: Clock) -> dict:
    grader = settings.source / "grader"
    key = json.loads((grader / "test_key.json").read_text())
    user, sandbox_note = sandbox.identity(settings.sandbox_user, settings.sandbox_uid)
    if user is not None:
        sandbox.kill_uid(user.uid)  # whatever an earlier grading in this container left
        sandbox.clean_shared_dirs(user.uid, time.monotonic() + clock.cleanup)
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

    trusted = trusted_step(settings, work, config, user, seed, clock)
    answers, answer_runs = answers_step(settings, work, config, user, seed, list(trusted["expected"]), clock)
    answer_run = answer_runs[-1] if answer_runs else sandbox.Outcome(None, True, 0.0, "")
    answer_note = f"the answer process {answer_run.describe()}" if answer_run.returncode != 0 else ""
    evidence = scoring.Evidence(answers, trusted, key)
    tests, leaderboard = scoring.score(evidence, config, answer_note)
    try:
        events, public_runs = public_step(settings, work, config, user, clock)
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
    lines += notes + taken.notes
    if taken.ignored:
        lines.append("Not used (provided files come from the autograder; others are not graded): "
                     + ", ".join(taken.ignored[:20])
                     + (f" and {len(taken.ignored) - 20} more" if len(taken.ignored) > 20 else ""))
    if answer_note:
        lines.append(f"Your code's process {answer_run.describe()}; the checks it did not answer score 0.")
    skipped = [s["step"] for s in clock.steps if s.get("outcome", "") == "not run: the grading's time ran out"]
    if skipped:
        lines.append(f"The grading's time ran out before: {', '.join(skipped)} (their checks score 0).")
    if evidence.grader_errors:
        lines.append("The grader failed on its own side for: " + ", ".join(evidence.grader_errors)
                     + " (not your fault: the course staff will regrade).")
    lines.append("Points come from the grader's checks (1.x, 2.x); your public tests (3.x) are feedback.")
    print("\n".join(lines))  # the staff's log (stdout, hidden from students)
    network = ("cut off" if user and sandbox.network_isolated(user) else
               "not cut off by the runner (the container does not allow a network namespace)")
    print(f"{sandbox_note}; network: {network}")
    print(f"seed of this grading: {seed}; trusted side: {json.dumps(trusted.get('seconds', {}))}")
    for i, run in enumerate(answer_runs, start=1):
        print(f"---- answers (run {i} of {len(answer_runs)}): {run.describe()} after {run.seconds:.1f} s, "
              f"peak RSS {run.max_rss_mb:.0f} MB; {'; '.join(run.notes) or 'nothing left behind'} ----\n{run.log}")
    for number, run in enumerate(public_runs):
        print(f"---- public tests, group {number + 1}: {run.describe()} after {run.seconds:.1f} s, "
              f"peak RSS {run.max_rss_mb:.0f} MB; {'; '.join(run.notes) or 'nothing left behind'} ----\n{run.log}")
    print(f"peak RSS per step: trusted {trusted.get('peak_rss_mb', 0):.0f} MB, answers "
          f"{max((r.max_rss_mb for r in answer_runs), default=0):.0f} MB, public tests "
          f"{max((r.max_rss_mb for r in public_runs), default=0):.0f} MB")
    settings.context.update(sandbox=sandbox_note, network=network)
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


CGROUP_PEAKS = ("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes")


def cgroup_peak_mb() -> Optional[float]:
    """The memory peak of this container's cgroup (v2, then v1), page cache included; None elsewhere."""
    for path in CGROUP_PEAKS:
        try:
            return int(Path(path).read_text().split()[0]) / 2**20
        except (OSError, ValueError, IndexError):
            continue
    return None


def write_measurements(settings: Settings, clock: Clock) -> None:
    """measurements.json beside results.json (the TA's and the rehearsal's; Gradescope ignores it)."""
    data = protocol.measurements(steps=clock.steps, seconds=time.monotonic() - clock.start, deadline=clock.deadline,
                                 cgroup_peak_mb=cgroup_peak_mb(), sandbox=settings.context.get("sandbox", ""),
                                 network=settings.context.get("network", ""))
    data["children_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    try:
        (settings.results.parent / protocol.FILES["measurements"]).write_text(json.dumps(data, indent=1))
    except OSError as err:  # a full disk: the log line below still has them
        print(f"measurements.json could not be written: {err}")
    print(f"measurements: {json.dumps(data)}")


def main() -> int:
    start = time.monotonic()
    os.umask(0o022)  # the code folder must be readable by the sandbox user
    settings = Settings.from_env()
    results: Optional[dict] = None
    max_score = 0.0
    clock = Clock(start, float(protocol.LIMITS["deadline"].value), float(protocol.LIMITS["finish_reserve"].value),
                  float(protocol.LIMITS["cleanup"].value))
    try:
        config = json.loads((settings.source / "grader" / "config.json").read_text())
        clock.deadline, clock.cleanup = protocol.limit(config, "deadline"), protocol.limit(config, "cleanup")
        max_score = scoring.max_score(config)
        reserve(settings.results, max_score)
        sandbox.become_subreaper()
        results = grade(settings, config, clock)
    except BaseException:  # noqa: BLE001 - whatever happens, Gradescope gets a results.json
        details = traceback.format_exc()
        print(details, file=sys.stderr)  # the staff's log; the student sees only what it says, never paths
        results = error_results(f"{sys.exc_info()[0].__name__} (the course staff have the details)", max_score)
    finally:
        try:
            user, _ = sandbox.identity(settings.sandbox_user, settings.sandbox_uid)
            if user is not None:
                sandbox.kill_uid(user.uid)
                sandbox.remove_ipc(user.uid)
        except Exception:  # noqa: BLE001 - a breach here is reported below, never a missing results.json
            print(traceback.format_exc(), file=sys.stderr)
            results = error_results("the sandbox could not be closed (the course staff have the details)", max_score)
        if results is None:
            results = error_results("grading stopped before it finished", max_score)
        results["execution_time"] = round(time.monotonic() - start, 1)
        write_results(settings.results, results)
        write_measurements(settings, clock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
