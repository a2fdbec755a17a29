"""The proj4 Gradescope autograder: submission in, results.json out. Standard library only.

Principle: points come only from evidence a submission cannot forge except by being correct. The
trusted side (this runner, as root, and facts.py, which imports no student code) computes every
score; the process that runs student code (answers.py, in the sandbox) only writes answers.

 1. intake.py copies the allow-listed files of the submission (every proj4_code/*.py, the four
    checkpoints) into a root-owned work folder; a missing student module is the starter's.
    Provided packages (proj4_lib/) come from the autograder's pristine copy.
 2. facts.py reads each checkpoint with torch.load(weights_only=True) before any student code runs.
 3. sandbox.py runs answers.py as the unprivileged user: probes of the student functions on fixed
    inputs and each checkpoint's predictions on the anonymous test images (labels stay here).
 4. sandbox.py runs the public tests (pytest + proj4_grader_plugin) for feedback: shown, 0 points.
 5. scoring.py compares the answers with the reference's (expected.json, made at build time) and
    the predictions with the test key; results.json is written here, after the sandbox is gone.

Environment (all optional): AUTOGRADER_ROOT (/autograder), AUTOGRADER_DATA_DIR (ROOT/data: the
anonymous test images), AUTOGRADER_PYTHON (ROOT/venv/bin/python if present, else this
interpreter), AUTOGRADER_TOTAL_TIMEOUT (seconds for the answers; default in config.json),
AUTOGRADER_TEST_TIMEOUT (pytest's per-test timeout), AUTOGRADER_PUBLIC_TIMEOUT (seconds for the
public tests), AUTOGRADER_THREADS (torch threads, 1), AUTOGRADER_MEMORY_MB, AUTOGRADER_SANDBOX_USER
(proj4grader; "none" runs student code as the current user, without a sandbox: local use only).
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import intake  # noqa: E402
import sandbox  # noqa: E402
import scoring  # noqa: E402

OUTPUT_LIMIT = 5000  # characters of output kept per test in results.json
ANSWERS_LIMIT = 8 * 2**20  # bytes of answers.json read
EVENTS_LIMIT = 16 * 2**20
PLUGIN = "proj4_grader_plugin"
PUBLIC = "proj4_unit_tests"


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
    total_timeout: Optional[float]  # None: config.json's
    test_timeout: Optional[float]
    public_timeout: Optional[float]
    threads: int
    memory_mb: Optional[int]
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
            total_timeout=number("AUTOGRADER_TOTAL_TIMEOUT"),
            test_timeout=number("AUTOGRADER_TEST_TIMEOUT"),
            public_timeout=number("AUTOGRADER_PUBLIC_TIMEOUT"),
            threads=int(env.get("AUTOGRADER_THREADS", "1")),
            memory_mb=int(env["AUTOGRADER_MEMORY_MB"]) if env.get("AUTOGRADER_MEMORY_MB") else None,
            sandbox_user=env.get("AUTOGRADER_SANDBOX_USER", "proj4grader"),
        )


# -- the work folder ------------------------------------------------------------------------------

def prepare_work(settings: Settings, config: dict, user: Optional[sandbox.Identity]) -> Path:
    """A fresh, root-owned work folder: code/ (read-only for the sandbox), model_output/, and one
    private writable folder per sandboxed step (created by `step_folder`)."""
    work = settings.work
    if work.exists():
        shutil.rmtree(work)
    code = work / "code"
    (code / "proj4_code").mkdir(parents=True)
    (work / "model_output").mkdir()
    source = settings.source
    for package in sorted((source / "provided").iterdir()):
        shutil.copytree(package, code / package.name)
    shutil.copytree(source / "tests" / "public", code / PUBLIC)
    shutil.copytree(source / "sandbox", code / "grader")  # answers.py, the plugin, pytest.ini
    # What the answer process needs to know; the thresholds stay here.
    parts = [{k: v for k, v in part.items() if k not in ("threshold", "floor")} for part in config["parts"]]
    public_config = {"parts": parts, "pixel_mean": config["pixel_mean"], "pixel_std": config["pixel_std"]}
    (code / "grader" / "answers_config.json").write_text(json.dumps({
        **public_config, "threads": settings.threads, "model_dir": str(work / "model_output"),
        "images_dir": str(settings.data_dir)}))
    for folder in (settings.source, settings.submission, settings.results.parent):
        if user and folder.exists():
            os.chmod(folder, 0o700)
    return work


def add_starter(work: Path, source: Path, config: dict, taken: intake.Intake) -> List[str]:
    notes = []
    for name in config["student_files"]:
        if f"proj4_code/{name}" not in taken.accepted:
            shutil.copy2(source / "starter" / "proj4_code" / name, work / "code" / "proj4_code" / name)
            notes.append(f"proj4_code/{name} is not in the submission: graded with the starter's version")
    return notes


def step_folder(work: Path, name: str, user: Optional[sandbox.Identity]) -> Path:
    """An empty folder only the sandbox user can write: the step's working folder, HOME and TMPDIR."""
    folder = work / name
    folder.mkdir()
    os.chmod(folder, 0o700)
    if user:
        os.chown(folder, user.uid, user.gid)
    return folder


def sandbox_env(settings: Settings, work: Path, folder: Path) -> Dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(folder),
        "TMPDIR": str(folder),
        "PYTHONPATH": str(work / "code"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": str(settings.threads),
        "MKL_NUM_THREADS": str(settings.threads),
        "TORCH_HOME": str(folder / "torch"),
    }


# -- the steps ------------------------------------------------------------------------------------

def checkpoint_facts(settings: Settings, work: Path, config: dict, user) -> dict:
    """facts.py as the sandbox user, before any student code has run; JSON on its stdout."""
    paths = [str(work / "model_output" / name) for name in config["checkpoints"]]
    script = (settings.source / "grader" / "facts.py").read_text()
    outcome = sandbox.run([settings.python, "-I", "-c", script, *paths], cwd=Path("/"),
                          env={"PATH": os.defpath, "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}, user=user,
                          limits=sandbox.Limits(seconds=120, memory_bytes=_memory(settings, config)),
                          python=settings.python, log_limit=1 << 22)
    for line in reversed(outcome.log.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"facts.py failed ({outcome.describe()}):\n{outcome.log[-3000:]}")


def _memory(settings: Settings, config: dict) -> int:
    return (settings.memory_mb or config["memory_limit_mb"]) * 2**20


def produce_answers(settings: Settings, work: Path, config: dict, user, seconds: float,
                    probes_only: bool = False):
    """answers.py in the sandbox; returns (answers dict, outcome). Nothing here trusts its content."""
    folder = step_folder(work, "answers", user)
    cmd = [settings.python, str(work / "code" / "grader" / "answers.py"), str(folder / "answers.json"),
           str(work / "code" / "grader" / "answers_config.json")] + (["--probes-only"] if probes_only else [])
    outcome = sandbox.run(cmd, cwd=folder, env=sandbox_env(settings, work, folder), user=user,
                          limits=sandbox.Limits(seconds=seconds, memory_bytes=_memory(settings, config)),
                          python=settings.python)
    data = sandbox.read_file(folder / "answers.json", ANSWERS_LIMIT)
    try:
        answers = json.loads(data) if data else {}
    except (ValueError, RecursionError):
        answers = {}
    return (answers if isinstance(answers, dict) else {}), outcome


def public_tests(settings: Settings, work: Path, config: dict, user, seconds: float):
    """The public tests in the sandbox, for the student's feedback only; returns (events, outcome)."""
    folder = step_folder(work, "public", user)
    env = {**sandbox_env(settings, work, folder), "CI": "1", "PROJ4_DATA_DIR": str(folder / "no-data"),
           "PROJ4_MODEL_DIR": str(work / "model_output"), "GRADER_EVENTS": str(folder / "events.jsonl")}
    env["PYTHONPATH"] += os.pathsep + str(work / "code" / "grader")
    test_timeout = settings.test_timeout or config["test_timeout"]
    cmd = [settings.python, "-m", "pytest", "-p", PLUGIN, "-c", str(work / "code" / "grader" / "pytest.ini"),
           "--rootdir", str(work / "code"), "-p", "no:cacheprovider", "-q", "-o", f"timeout={test_timeout:g}",
           str(work / "code" / PUBLIC)]
    outcome = sandbox.run(cmd, cwd=folder, env=env, user=user,
                          limits=sandbox.Limits(seconds=seconds, memory_bytes=_memory(settings, config)),
                          python=settings.python)
    events = []
    for line in (sandbox.read_file(folder / "events.jsonl", EVENTS_LIMIT) or b"").decode("utf-8", "replace") \
            .splitlines():
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(event, dict):
            events.append(event)
    return events, outcome


def feedback_tests(events: List[dict], start: int) -> List[dict]:
    """The public tests' outcomes as 0-point results: what the student's own run reported."""
    outcomes: Dict[str, str] = {}
    messages: Dict[str, str] = {}
    for event in events:
        nodeid = str(event.get("nodeid", ""))
        if event.get("event") == "test" and nodeid.startswith(PUBLIC):
            if event.get("outcome") != "passed" or nodeid not in outcomes:
                outcomes[nodeid] = "passed" if event.get("outcome") == "passed" and \
                    outcomes.get(nodeid, "passed") == "passed" else "failed"
            if event.get("outcome") == "failed":
                messages[nodeid] = str(event.get("message", ""))
        elif event.get("event") == "collect_error" and nodeid.startswith(PUBLIC):
            # A test file that cannot be imported (a student module that does not import) is shown failed,
            # not dropped from the feedback.
            outcomes[nodeid] = "failed"
            messages[nodeid] = "collection error (the test file could not be imported):\n" + \
                str(event.get("message", ""))[-1200:]
    tests = []
    for i, (nodeid, outcome) in enumerate(sorted(outcomes.items()), start=start):
        tests.append({"name": f"public test {nodeid.split('/', 1)[-1]}", "number": f"3.{i - start + 1}",
                      "score": 0.0, "max_score": 0.0, "status": outcome, "visibility": "visible",
                      "output": clip("Feedback only, worth 0 points: the points come from the grader's checks "
                                     "above.\n" + messages.get(nodeid, ""), 1500)})
    return tests


# -- results.json -----------------------------------------------------------------------------------

def grade(settings: Settings) -> dict:
    grader = settings.source / "grader"
    config = json.loads((grader / "config.json").read_text())
    expected = json.loads((grader / "expected.json").read_text())
    key = json.loads((grader / "test_key.json").read_text())
    user, sandbox_note = sandbox.identity(settings.sandbox_user)
    work = prepare_work(settings, config, user)
    taken = intake.take_submission(settings.submission, work / "code", config)
    for name in list(taken.accepted):
        if name.startswith("model_output/"):
            os.replace(work / "code" / name, work / name)
    shutil.rmtree(work / "code" / "model_output", ignore_errors=True)
    notes = add_starter(work, settings.source, config, taken)

    total = settings.total_timeout or config["total_timeout"]
    deadline = time.monotonic() + total
    facts = checkpoint_facts(settings, work, config, user)
    answers, answer_run = produce_answers(settings, work, config, user, max(5.0, deadline - time.monotonic()))
    answer_note = f"the answer process {answer_run.describe()}" if answer_run.returncode != 0 else ""
    tests = scoring.score(answers, expected, facts, key, config, answer_note)
    public_seconds = settings.public_timeout or config["public_timeout"]
    events, public_run = public_tests(settings, work, config, user, public_seconds)
    tests += feedback_tests(events, 1)
    for test in tests:
        test["output"] = clip(test["output"])

    lines = [f"Files graded: {', '.join(sorted(taken.accepted)) or 'none'}"]
    lines += [f"Refused: {r}" for r in taken.refused]
    lines += notes
    if taken.ignored:
        lines.append("Not used (provided files come from the autograder; others are not graded): "
                     + ", ".join(taken.ignored[:20])
                     + (f" and {len(taken.ignored) - 20} more" if len(taken.ignored) > 20 else ""))
    if answer_note:
        lines.append(f"Your code's process {answer_run.describe()}; the checks it did not answer score 0.")
    lines.append("Points come from the grader's checks (1.x, 2.x); your public tests (3.x) are feedback.")
    # The staff's log (stdout, hidden from students): what the sandboxed processes printed, clipped.
    print("\n".join(lines))
    print(sandbox_note)
    print(f"---- answers: {answer_run.describe()} after {answer_run.seconds:.1f} s ----\n{answer_run.log}")
    print(f"---- public tests: {public_run.describe()} after {public_run.seconds:.1f} s ----\n{public_run.log}")
    print(f"peak memory of the sandboxed processes: "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
    return {
        "score": round(sum(t["score"] for t in tests), 2),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def error_results(details: str, settings: Optional[Settings] = None) -> dict:
    max_score = 0.0
    try:  # out of how many points, if the config can be read
        max_score = scoring.max_score(json.loads((settings.source / "grader" / "config.json").read_text()))
    except Exception:  # noqa: BLE001 - the error entry must be written whatever broke
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
    """Written by root after every sandboxed process is dead; the folder is not the sandbox's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, path)


def main() -> int:
    start = time.monotonic()
    settings: Optional[Settings] = None
    results: Optional[dict] = None
    try:
        os.umask(0o022)  # the code folder must be readable by the sandbox user
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
