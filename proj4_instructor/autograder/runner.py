"""The proj4 Gradescope autograder: submission in, results.json out. Standard library only.

Gradescope runs `run_autograder`, which runs this file with the submission in /autograder/submission.
Every /autograder path can be moved with AUTOGRADER_ROOT (`proj4 grade` and the instructor tests
grade in a temporary folder laid out like /autograder). Steps:

 1. Copy only allow-listed files out of the submission (loose files or zips): the student modules of
    proj4_code (config "student_files") and the four checkpoints. Zip-slip paths, symlinks and
    oversized files are refused; a missing student module is replaced by its starter (all stubs).
    The provided modules come from the autograder's pristine copy, never from the submission.
 2. Copy the pristine public tests and the hidden tests next to them and run pytest on each (two
    processes: the peak memory is the larger of the two), as an unprivileged user where possible,
    with a per-test timeout and a time limit for the whole run. The plugin (proj4_grader_plugin)
    writes one JSON line per event; it removes the hidden test files from disk as soon as they are
    imported, before any student code runs.
 3. Score every test of the manifest (made when the autograder was built, from the reference
    solution): a test that did not pass, whether it failed, errored in setup, was skipped, could
    not be collected or never ran, is a failed test worth 0, never a missing one; partial credit
    only where a test records a fraction (the accuracy tests, which state their formula).
 4. Write results.json in a `finally`: if the runner itself fails, the results hold one visible
    zero-score "Autograder error" test with the traceback.

Environment (all optional): AUTOGRADER_ROOT (/autograder), AUTOGRADER_DATA_DIR (ROOT/data),
AUTOGRADER_PYTHON (ROOT/venv/bin/python if present, else this interpreter), AUTOGRADER_TEST_TIMEOUT
and AUTOGRADER_TOTAL_TIMEOUT (seconds; defaults in config.json), AUTOGRADER_THREADS (torch
threads, 1), AUTOGRADER_SANDBOX_USER (proj4grader; "none" runs the tests as the current user).

Known limit: the tests run in the same process as student code, so a deliberately malicious
submission could tamper with its own test reports in memory; it cannot write results.json, read
the autograder's source folder or, once pytest has imported them, the hidden test files.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Dict, IO, List, Optional, Tuple

OUTPUT_LIMIT = 5000  # characters of output kept per test in results.json
LOG_LIMIT = 20_000  # characters of pytest's own output kept (head and tail) for the grader's log
PLUGIN = "proj4_grader_plugin"
HIDDEN, PUBLIC = "hidden_tests", "proj4_unit_tests"


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Head and tail of a long text, saying how much was cut."""
    text = text or ""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-(limit - head):]}"


@dataclass
class Settings:
    root: Path
    data_dir: Path
    python: str
    test_timeout: Optional[float]  # None: config.json's
    total_timeout: Optional[float]
    threads: int
    sandbox_user: str

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
            data_dir=Path(env.get("AUTOGRADER_DATA_DIR", root / "data")).resolve(),
            python=env.get("AUTOGRADER_PYTHON") or (str(venv_python) if venv_python.exists() else sys.executable),
            test_timeout=number("AUTOGRADER_TEST_TIMEOUT"),
            total_timeout=number("AUTOGRADER_TOTAL_TIMEOUT"),
            threads=int(env.get("AUTOGRADER_THREADS", "1")),
            sandbox_user=env.get("AUTOGRADER_SANDBOX_USER", "proj4grader"),
        )


# -- 1. the submission ------------------------------------------------------------------------

@dataclass
class Intake:
    """What was taken from the submission, and what was not."""

    accepted: Dict[str, str] = field(default_factory=dict)  # target name -> where it came from
    refused: List[str] = field(default_factory=list)  # "path: reason"
    ignored: List[str] = field(default_factory=list)


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_member(name: str) -> str:
    """Why a path from a submission must not be used ("" if it is fine)."""
    if "\x00" in name:
        return "NUL in the name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        return "absolute path (zip-slip)"
    if ".." in PurePosixPath(posix).parts:
        return "'..' in the path (zip-slip)"
    return ""


def target_of(name: str, config: dict) -> Optional[str]:
    """Where an allow-listed file goes in the work folder, or None if it is not allow-listed."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if not parts or "__MACOSX" in parts:
        return None
    base = parts[-1]
    if base in config["checkpoints"]:
        return f"model_output/{base}"
    if base in config["student_files"] and (len(parts) == 1 or parts[-2] == "proj4_code"):
        return f"proj4_code/{base}"
    return None


def _copy_limited(src: IO[bytes], dst: Path, limit: int) -> bool:
    """Copy at most `limit` bytes; False (and nothing written) if the source is longer."""
    tmp = dst.with_name(dst.name + ".part")
    total = 0
    with open(tmp, "wb") as out:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                out.close()
                tmp.unlink()
                return False
            out.write(chunk)
    os.replace(tmp, dst)
    return True


def take_submission(submission: Path, work: Path, config: dict) -> Intake:
    """Copy the allow-listed files of the submission (loose files and the members of any zip)."""
    intake = Intake()
    candidates: List[Tuple[str, int, Callable[[], IO[bytes]]]] = []  # (path, size, opener)

    def consider_zip(zip_path: Path, label: str) -> None:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                for info in zf.infolist():
                    name = f"{label}:{info.filename}"
                    if info.is_dir():
                        continue
                    if stat.S_ISLNK(info.external_attr >> 16):
                        intake.refused.append(f"{name}: symbolic link")
                    elif unsafe_member(info.filename):
                        intake.refused.append(f"{name}: {unsafe_member(info.filename)}")
                    else:
                        candidates.append((info.filename, info.file_size,
                                           lambda zp=zip_path, i=info.filename: _open_zip_member(zp, i)))
        except (zipfile.BadZipFile, OSError) as err:
            intake.refused.append(f"{label}: not a readable zip ({err})")

    for folder, dirs, files in os.walk(submission, followlinks=False):
        for name in sorted(dirs):  # os.walk does not enter symlinked folders; say so
            if (Path(folder) / name).is_symlink():
                intake.refused.append(f"{(Path(folder) / name).relative_to(submission).as_posix()}: symbolic link")
        for name in sorted(files):
            path = Path(folder) / name
            rel = path.relative_to(submission).as_posix()
            if path.is_symlink():
                intake.refused.append(f"{rel}: symbolic link")
            elif path.suffix.lower() == ".zip":
                consider_zip(path, rel)
            else:
                candidates.append((rel, path.lstat().st_size, lambda p=path: _open_no_follow(p)))

    # The shallowest copy of a file wins (a zip of the project folder nests everything one deeper).
    chosen: Dict[str, Tuple[str, int, Callable]] = {}
    for candidate in sorted(candidates, key=lambda c: (c[0].count("/"), c[0])):
        target = target_of(candidate[0], config)
        if target is None:
            intake.ignored.append(candidate[0])
        elif target in chosen:
            intake.ignored.append(f"{candidate[0]} (duplicate of {chosen[target][0]})")
        else:
            chosen[target] = candidate
    for target, (name, size, opener) in sorted(chosen.items()):
        limit = config["max_checkpoint_bytes"] if target.endswith(".pt") else config["max_source_bytes"]
        dest = work / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        if size > limit:
            intake.refused.append(f"{name}: {size:,} bytes, more than the {limit:,} allowed")
            continue
        try:
            with opener() as src:
                if not _copy_limited(src, dest, limit):
                    intake.refused.append(f"{name}: more than the {limit:,} bytes allowed")
                    continue
        except Exception as err:  # a damaged or encrypted zip member, a file that became a symlink
            intake.refused.append(f"{name}: cannot be read ({type(err).__name__}: {err})")
            continue
        os.chmod(dest, 0o644)  # readable by the sandbox user, whatever mode the student's file had
        intake.accepted[target] = name
    return intake


def _open_no_follow(path: Path) -> IO[bytes]:
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


class _open_zip_member:
    """Context manager: one member of a zip, opened for reading."""

    def __init__(self, zip_path: Path, member: str):
        self.zip_path, self.member = zip_path, member

    def __enter__(self):
        self.zf = zipfile.ZipFile(self.zip_path)
        self.file = self.zf.open(self.member)
        return self.file

    def __exit__(self, *exc):
        self.file.close()
        self.zf.close()


# -- 2. the test run ----------------------------------------------------------------------------

def prepare_work(settings: Settings, config: dict) -> Path:
    """A fresh work folder: pristine tests, grader files and provided modules (no student files yet)."""
    work = settings.work
    if work.exists():
        shutil.rmtree(work)
    (work / "proj4_code").mkdir(parents=True)
    (work / "model_output").mkdir()
    (work / "report").mkdir()
    (work / "home" / "tmp").mkdir(parents=True)
    source = settings.source
    shutil.copytree(source / "tests" / "public", work / PUBLIC)
    shutil.copytree(source / "tests" / "hidden", work / HIDDEN)
    (work / "_grader").mkdir()
    for name in (f"{PLUGIN}.py", "config.json"):
        shutil.copy2(source / "grader" / name, work / "_grader" / name)
    shutil.copy2(source / "grader" / "pytest.ini", work / "pytest.ini")
    return work


def add_code(work: Path, source: Path, config: dict, intake: Intake) -> List[str]:
    """Provided modules from the pristine copy; student modules missing from the submission from the starter."""
    notes = []
    for file in sorted((source / "provided" / "proj4_code").iterdir()):
        shutil.copy2(file, work / "proj4_code" / file.name)
    for name in config["student_files"]:
        if f"proj4_code/{name}" not in intake.accepted:
            shutil.copy2(source / "starter" / "proj4_code" / name, work / "proj4_code" / name)
            notes.append(f"proj4_code/{name} is not in the submission: graded with the starter's version (stubs)")
    return notes


def sandbox_identity(settings: Settings) -> Tuple[Optional[Tuple[int, int]], str]:
    """(uid, gid) of the unprivileged user to run the tests as, or None, and why."""
    name = settings.sandbox_user
    if not name or name == "none":
        return None, "tests ran as the current user (AUTOGRADER_SANDBOX_USER=none)"
    if os.geteuid() != 0:
        return None, "tests ran as the current user (the runner is not root)"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None, f"tests ran as root: user {name!r} does not exist (setup.sh creates it)"
    probe = subprocess.run([settings.python, "-c", "import pytest"], cwd="/", env={"PATH": os.defpath},
                           user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], capture_output=True,
                           text=True, timeout=120)
    if probe.returncode != 0:
        return None, (f"tests ran as root: user {name!r} cannot run {settings.python} "
                      f"({probe.stderr.strip()[-300:]})")
    return (entry.pw_uid, entry.pw_gid), f"tests ran as the unprivileged user {name!r}"


def lock_down(settings: Settings, work: Path, ids: Tuple[int, int]) -> None:
    """Only the report, home and hidden-test folders are the sandbox user's; the rest is read-only."""
    uid, gid = ids
    for folder in (settings.source, settings.submission, settings.results.parent):
        if folder.exists():
            os.chmod(folder, 0o700 if folder != settings.results.parent else 0o755)
    for folder in (work / "report", work / HIDDEN):
        os.chown(folder, uid, gid)
    for path in [work / "home", *(work / "home").rglob("*")]:
        os.chown(path, uid, gid)
    # The hidden files stay root's and read-only; owning their folder lets the plugin unlink them.
    for path in (work / HIDDEN).iterdir():
        os.chmod(path, 0o444)


class HeadTail:
    """Keeps the first and last `limit` characters of a stream of any length."""

    def __init__(self, limit: int = LOG_LIMIT):
        self.limit, self.head, self.tail, self.total = limit, "", "", 0

    def add(self, text: str) -> None:
        self.total += len(text)
        if len(self.head) < self.limit:
            room = self.limit - len(self.head)
            self.head, text = self.head + text[:room], text[room:]
        self.tail = (self.tail + text)[-self.limit:]

    def text(self) -> str:
        cut = self.total - len(self.head) - len(self.tail)
        return self.head + (f"\n[... {cut} characters cut ...]\n" if cut > 0 else "") + self.tail


@dataclass
class Run:
    returncode: Optional[int]
    timed_out: bool
    seconds: float
    log: str
    events: List[dict]


def run_pytest(settings: Settings, work: Path, config: dict, ids: Optional[Tuple[int, int]],
               targets=(HIDDEN, PUBLIC), extra_args=(), timeout: Optional[float] = None) -> Run:
    """One pytest process over `targets`, stopped after `timeout` seconds (default: the total limit)."""
    test_timeout = settings.test_timeout or config["test_timeout"]
    timeout = timeout or settings.total_timeout or config["total_timeout"]
    events_file = work / "report" / f"events-{'-'.join(targets)}.jsonl"
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(work / "home"),
        "TMPDIR": str(work / "home" / "tmp"),
        "PYTHONPATH": os.pathsep.join([str(work), str(work / "_grader")]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": str(settings.threads),
        "MKL_NUM_THREADS": str(settings.threads),
        "GRADER_THREADS": str(settings.threads),
        "CI": "1",  # the public conftest then fails, instead of skipping, on a missing checkpoint
        "PROJ4_DATA_DIR": str(settings.data_dir),
        "PROJ4_MODEL_DIR": str(work / "model_output"),
        "PROJ4_GRADER_CONFIG": str(work / "_grader" / "config.json"),
        "GRADER_EVENTS": str(events_file),
        "GRADER_HIDDEN_DIR": str(work / HIDDEN),
        "TORCH_HOME": str(work / "home" / "torch"),
    }
    if HIDDEN in targets:
        # glibc returns big freed blocks to the kernel and faults them in again on the next batch;
        # keeping them halves the time of the 224 x 224 accuracy tests (for ~0.1 GB more memory,
        # which the public tests, many small allocations and little gain, are spared).
        env.update(MALLOC_MMAP_THRESHOLD_=str(256 * 2**20), MALLOC_TRIM_THRESHOLD_=str(256 * 2**20))
    cmd = [settings.python, "-m", "pytest", "-p", PLUGIN, "-c", "pytest.ini", "--rootdir", ".",
           "-p", "no:cacheprovider", "-q", "--continue-on-collection-errors", "--durations=10",
           "-o", f"timeout={test_timeout:g}",
           *extra_args, *targets]
    user = {"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}
    start = time.monotonic()
    log = HeadTail()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, **user)

    def read():
        for chunk in iter(lambda: proc.stdout.read1(1 << 16), b""):
            log.add(chunk.decode("utf-8", "replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_everything(proc, settings, ids)
    reader.join(timeout=10)
    return Run(proc.returncode, timed_out, time.monotonic() - start, log.text(), read_events(events_file))


def _kill_everything(proc: subprocess.Popen, settings: Settings, ids) -> None:
    """Stop pytest and anything student code started, so nothing can write after us."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    if ids:  # processes that left the group: kill(-1) as the sandbox user reaches all of its own
        subprocess.run([settings.python, "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"], cwd="/",
                       env={"PATH": os.defpath}, user=ids[0], group=ids[1], extra_groups=[],
                       capture_output=True, timeout=60)


def read_events(path: Path) -> List[dict]:
    events = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


# -- 3. scores ----------------------------------------------------------------------------------

def _fraction(value, default: float) -> float:
    try:
        return min(1.0, max(0.0, float(value)))
    except (TypeError, ValueError):
        return default


def judge(test: dict, phases: Dict[str, dict], collect_errors: List[dict], run: Run,
          total_timeout: float) -> Tuple[float, str]:
    """(credit in [0, 1], output) of one manifest test."""
    hidden = test["hidden"]

    def failure(event: dict) -> str:
        message = event.get("message") or ""
        text = message if hidden else f"{message}\n\n{event.get('longrepr', '')}".strip()
        out = event.get("stdout", "")
        return text + (f"\n--- captured stdout ---\n{out}" if out and not hidden else "")

    if not phases:
        for error in collect_errors:
            where = error.get("nodeid", "")
            if not where or test["file"] == where or test["file"].startswith(where.rstrip("/") + "/"):
                detail = error.get("message", "").strip()
                detail = detail.splitlines()[-1] if hidden and detail else detail
                return 0.0, f"Failed: {test['file']} could not be loaded (collection error):\n{detail}"
        if run.timed_out:
            return 0.0, f"Not run: the whole test run hit its time limit ({total_timeout:g} s)"
        return 0.0, f"Not run: the test process ended early (exit code {run.returncode})"
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    if setup is not None and setup.get("outcome") == "failed":
        return 0.0, "Error while setting up the test:\n" + failure(setup)
    if setup is not None and setup.get("outcome") == "skipped":
        return 0.0, f"Skipped, which counts as failed here: {setup.get('message', '')}"
    if call is None:
        why = "time limit of the whole run" if run.timed_out else f"exit code {run.returncode}"
        return 0.0, f"Not finished: the test process was stopped ({why})"
    props = call.get("properties") or {}
    shown = props.get("grader_output", "")
    if call.get("outcome") == "passed":
        credit, output = _fraction(props.get("score_fraction"), 1.0), shown
    elif call.get("outcome") == "skipped":
        return 0.0, f"Skipped, which counts as failed here: {call.get('message', '')}"
    else:
        credit = _fraction(props.get("score_fraction"), 0.0)
        output = shown or failure(call)
    if teardown is not None and teardown.get("outcome") == "failed":
        return 0.0, output + "\nError while cleaning up after the test:\n" + failure(teardown)
    return credit, output


def display_name(test: dict) -> str:
    short = test["nodeid"].split("/", 1)[-1] if not test["hidden"] else test["nodeid"].split("::", 1)[-1]
    if test["hidden"] and test.get("doc"):
        param = re.search(r"\[(.*)\]$", test["nodeid"])
        return test["doc"] + (f" [{param.group(1)}]" if param else "")
    return short


def score(manifest: dict, runs: Dict[bool, Run], total_timeout: float) -> List[dict]:
    """Results of every manifest test; runs[True] ran the hidden tests, runs[False] the public ones."""
    phases: Dict[str, Dict[str, dict]] = {}
    collect_errors = []
    for event in runs[True].events + runs[False].events:
        if event.get("event") == "test":
            phases.setdefault(event.get("nodeid"), {})[event.get("when")] = event
        elif event.get("event") == "collect_error":
            collect_errors.append(event)
    tests, counters = [], {False: 0, True: 0}
    for test in manifest["tests"]:
        credit, output = judge(test, phases.get(test["nodeid"], {}), collect_errors, runs[test["hidden"]],
                               total_timeout)
        points = float(test["points"])
        counters[test["hidden"]] += 1
        tests.append({
            "name": display_name(test),
            "number": f"{2 if test['hidden'] else 1}.{counters[test['hidden']]}",
            "score": round(credit * points, 2),
            "max_score": points,
            "status": "passed" if credit >= 1.0 else "failed",
            "visibility": test["visibility"],
            "output": clip(output),
        })
    return tests


# -- 4. results.json ----------------------------------------------------------------------------

def grade(settings: Settings) -> dict:
    grader = settings.source / "grader"
    config = json.loads((grader / "config.json").read_text())
    manifest = json.loads((grader / "manifest.json").read_text())
    work = prepare_work(settings, config)
    intake = take_submission(settings.submission, work, config)
    notes = add_code(work, settings.source, config, intake)
    ids, sandbox_note = sandbox_identity(settings)
    if ids:
        lock_down(settings, work, ids)
    total_timeout = settings.total_timeout or config["total_timeout"]
    # Hidden and public tests in two processes: the peak memory is the larger of the two, not their sum.
    deadline = time.monotonic() + total_timeout
    runs: Dict[bool, Run] = {}
    for hidden, target in ((True, HIDDEN), (False, PUBLIC)):
        remaining = deadline - time.monotonic()
        if remaining < 5:
            runs[hidden] = Run(None, True, 0.0, f"{target}: not started, no time left", [])
        else:
            runs[hidden] = run_pytest(settings, work, config, ids, targets=(target,), timeout=remaining)
    tests = score(manifest, runs, total_timeout)

    lines = [f"Files graded: {', '.join(sorted(intake.accepted)) or 'none'}"]
    lines += [f"Refused: {r}" for r in intake.refused]
    lines += notes
    if intake.ignored:
        lines.append(f"Not used (provided files come from the autograder; others are not graded): "
                     f"{', '.join(intake.ignored[:20])}"
                     + (f" and {len(intake.ignored) - 20} more" if len(intake.ignored) > 20 else ""))
    if any(run.timed_out for run in runs.values()):
        lines.append(f"The test run hit its time limit ({total_timeout:g} s); tests that did not finish score 0.")
    total = sum(t["score"] for t in tests)
    print("\n".join(lines))
    print(sandbox_note)
    for hidden, run in runs.items():
        print(f"---- {HIDDEN if hidden else PUBLIC}: pytest exit code {run.returncode} after {run.seconds:.1f} s ----")
        print(run.log)
    # Gradescope's default limit is 768 MB: the largest test process so far, for the staff's log.
    print(f"peak memory of the test processes: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
    return {
        "score": round(total, 2),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def error_results(details: str, settings: Optional[Settings]) -> dict:
    max_score = 0.0
    try:  # say out of how many points, if the manifest can be read
        manifest = json.loads((settings.source / "grader" / "manifest.json").read_text())
        max_score = float(sum(t["points"] for t in manifest["tests"]))
    except Exception:
        pass
    return {
        "score": 0.0,
        "output": "The autograder itself failed; this is not a grade. Please tell the course staff.",
        "visibility": "visible",
        "tests": [{
            "name": "Autograder error",
            "number": "0.1",
            "score": 0.0,
            "max_score": max_score,
            "status": "failed",
            "visibility": "visible",
            "output": "The autograder failed while grading your submission (not your code's fault unless "
                      "the message says so). Please tell the course staff.\n\n" + clip(details, 3000),
        }],
    }


def write_results(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, path)


def main() -> int:
    start = time.monotonic()
    settings: Optional[Settings] = None
    results: Optional[dict] = None
    try:
        os.umask(0o022)  # the work folder must be readable by the sandbox user
        settings = Settings.from_env()
        results = grade(settings)
    except BaseException:  # noqa: B036 - whatever happens, Gradescope gets a results.json
        details = traceback.format_exc()
        print(details, file=sys.stderr)
        results = error_results(details, settings)
    finally:
        if results is None:
            results = error_results("grading stopped before it finished", settings)
        results["execution_time"] = round(time.monotonic() - start, 1)
        root = settings.root if settings else Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
        write_results(root / "results" / "results.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
