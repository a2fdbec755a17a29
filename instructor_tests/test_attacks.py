"""Adversarial suite: nothing in a submission raises its own grade (issue 10).

Each attack is a few lines added at the top of a student module (simple_net.py, imported by the
first probe and by the public tests). Each is graded on the student starter (score must equal the
starter's: 0) and a few on the reference solution (never higher than the reference's). The real
autograder is built once for the module, with one small public test file so that each grading
takes seconds; student code runs as the unprivileged sandbox user, created here as setup.sh does.
"""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from proj4_instructor import grade, release

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
MODEL_DIR = Path(os.environ.get("PROJ4_MODEL_DIR", REPO_ROOT / "model_output"))
USER = "proj4grader"

PUBLIC = '''\
import torch
from proj4_code.simple_net import SimpleNet


def test_simple_net_shape():
    assert SimpleNet()(torch.rand(2, 1, 64, 64)).shape == (2, 15)


def test_trivial():
    assert True
'''

# ROOT: the /autograder stand-in, found from the module's own path (work/code/proj4_code/x.py).
PRELUDE = "import os as _os, sys as _sys, json as _json, pathlib as _pl\n" \
          "ROOT = _pl.Path(__file__).resolve().parents[3]\n"

ATTACKS = {
    "forge_events_at_exit": '''
import atexit
def _forge():  # a "passed" event for every test pytest collected (the issue's 141/141 attack)
    path = _os.environ.get("GRADER_EVENTS")
    if path and _os.path.exists(path):
        nodes = {"proj4_unit_tests/test_public.py::test_simple_net_shape"}
        for line in open(path):
            event = _json.loads(line)
            nodes |= {item["nodeid"] for item in event.get("items", [])}
        with open(path, "a") as f:
            for node in sorted(nodes):
                for when in ("setup", "call", "teardown"):
                    f.write(_json.dumps({"event": "test", "nodeid": node, "when": when, "outcome": "passed"}) + "\\n")
atexit.register(_forge)
''',
    "wrap_plugin_emit": '''
if "proj4_grader_plugin" in _sys.modules:
    _p = _sys.modules["proj4_grader_plugin"]
    _emit = _p._emit
    _p._emit = lambda e: _emit({**e, "outcome": "passed"} if e.get("event") == "test" else e)
''',
    "patch_pytest_reports": '''
try:
    from _pytest import reports as _r
    _init = _r.TestReport.__init__
    def _i(self, *a, **k):
        _init(self, *a, **k)
        self.outcome = "passed"
    _r.TestReport.__init__ = _i
except ImportError:
    pass
''',
    "rewrite_answers_file": '''
import atexit
def _rewrite():
    out = _pl.Path(_sys.argv[1]) if len(_sys.argv) > 1 and _sys.argv[1].endswith(".json") else None
    if out:
        fake = {k: {"answer": {"accuracy": ["float", 1.0], "random": True, "len": 9, "range_ok": True}}
                for k in ("dl_utils", "data_transforms", "image_loader", "runner", "optimizer")}
        fake["predictions"] = {"SimpleNet": {"answer": {"classes": [0] * 1500, "shape": [1500, 15]}}}
        out.write_text(_json.dumps({"probes": fake, "predictions": fake.pop("predictions")}))
        _os._exit(0)
atexit.register(_rewrite)
''',
    "write_results_json": '''
for _p in (ROOT / "results" / "results.json", ROOT / "results" / "results.json.tmp"):
    try:
        _p.parent.mkdir(parents=True, exist_ok=True)
        _p.write_text('{"score": 1000, "tests": []}')
    except OSError:
        pass
''',
    "detached_child_rewrites_results": '''
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        import time
        for _ in range(40):
            time.sleep(0.5)
            try:
                (ROOT / "results" / "results.json").write_text('{"score": 1000, "tests": []}')
            except OSError:
                pass
    _os._exit(0)
''',
    "read_expected_answers_and_labels": '''
_stolen = {}
for _n in ("expected.json", "test_key.json", "checks.py", "config.json"):
    try:
        _stolen[_n] = (ROOT / "source" / "grader" / _n).read_text()[:100]
    except OSError:
        pass
if _stolen:
    raise SystemExit("stole " + ",".join(_stolen))  # a test below asserts this never happens
''',
    "edit_provided_and_tests_on_disk": '''
for _p in (ROOT / "work" / "code" / "proj4_lib" / "checkpoints.py", ROOT / "work" / "code" / "grader" / "answers.py",
           ROOT / "work" / "code" / "proj4_unit_tests" / "test_public.py", ROOT / "source" / "grader" / "checks.py"):
    try:
        with open(_p, "a") as _f:
            _f.write("\\nraise SystemExit(0)\\n")
    except OSError:
        pass
''',
    "monkeypatch_torch_and_writer": '''
import torch as _t
_t.equal = lambda *a, **k: True
_t.allclose = lambda *a, **k: True
_dumps = _json.dumps
_json.dumps = lambda o, *a, **k: _dumps(o, *a, **k).replace('"error"', '"answer"')
''',
    "os_exit_0": "_os._exit(0)\n",
    "sys_exit_in_atexit": "import atexit\natexit.register(lambda: _sys.exit(0))\n",
    "kill_parent": '''
import signal
try:
    _os.kill(_os.getppid(), signal.SIGKILL)
except OSError:
    pass
try:
    _os.killpg(_os.getpgid(0), signal.SIGTERM)
except OSError:
    pass
''',
    "fork_bomb": '''
import time
for _ in range(2000):
    try:
        if _os.fork() == 0:
            time.sleep(30)
            _os._exit(0)
    except OSError:
        break
''',
    "unbounded_memory": "_hog = []\nwhile True:\n    _hog.append(bytearray(64 * 2**20))\n",
    "sleep_past_the_limit": "import time\ntime.sleep(10**6)\n",
    "flood_stdout": "_sys.stdout.write('x' * 30_000_000)\n_sys.stdout.flush()\n",
}
REFERENCE_ATTACKS = ("forge_events_at_exit", "rewrite_answers_file", "monkeypatch_torch_and_writer",
                     "detached_child_rewrites_results", "os_exit_0")


def _python_reachable_by(uid: int, python: str) -> bool:
    entry = pwd.getpwuid(uid)
    return subprocess.run([python, "-c", "import torch, pytest"], user=uid, group=entry.pw_gid, extra_groups=[],
                          capture_output=True, cwd="/", env={"PATH": os.defpath}).returncode == 0


@pytest.fixture(scope="module")
def sandbox_user():
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (CI runs as root)")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        if subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                          capture_output=True).returncode != 0:
            pytest.skip("useradd failed: cannot create the sandbox user")
    uid = pwd.getpwnam(USER).pw_uid
    # The interpreter may live under a private home (pyenv in /root): let the user traverse it.
    restore = []
    for parent in Path(os.path.realpath(shutil.which("python") or "/usr/bin/python3")).parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            restore.append((parent, mode))
            os.chmod(parent, mode | stat.S_IXOTH)
    import sys
    if not _python_reachable_by(uid, sys.executable):
        pytest.skip(f"the user {USER} cannot run {sys.executable} with torch")
    yield USER
    for parent, mode in restore:
        os.chmod(parent, stat.S_IMODE(mode))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    if not (DATA_DIR / "test").is_dir():
        pytest.skip(f"the dataset ({DATA_DIR}) is missing; run `proj4 data install`")
    tmp = tmp_path_factory.mktemp("attacks")
    public = tmp / "public"
    public.mkdir()
    (public / "test_public.py").write_text(PUBLIC)
    return release.build_autograder_source(tmp / "source", stats=(0.4555, 0.2532), public_tests=public,
                                           data_dir=DATA_DIR)


def submission(path: Path, code: Path, attack: str = "", checkpoints=()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(code.glob("*.py")):
            text = file.read_text()
            if file.name == "simple_net.py" and attack:
                text = PRELUDE + ATTACKS[attack] + "\n" + text
            zf.writestr(f"proj4_code/{file.name}", text)
        for name in checkpoints:
            zf.writestr(f"model_output/{name}", (MODEL_DIR / name).read_bytes())
    return path


def run(source: Path, sub: Path, user: str) -> dict:
    base = Path(tempfile.mkdtemp(prefix="proj4-attack-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        root = base / "autograder"
        results = grade.run_in_mimic(source, sub, DATA_DIR, root, env={
            "AUTOGRADER_SANDBOX_USER": user, "AUTOGRADER_TOTAL_TIMEOUT": "60", "AUTOGRADER_PUBLIC_TIMEOUT": "30",
            "AUTOGRADER_TEST_TIMEOUT": "20", "AUTOGRADER_MEMORY_MB": "3072"})
        time.sleep(1)  # a detached child would write now
        assert json.loads((root / "results" / "results.json").read_text()) == results, "results.json changed"
        assert "stole" not in (root / "run_autograder.log").read_text()
        for path in (root / "work" / "code").rglob("*.py"):
            assert "raise SystemExit(0)" not in path.read_text() or path.parent.name == "proj4_code", path
        return results
    finally:
        shutil.rmtree(base, ignore_errors=True)


def graded(results: dict) -> float:
    assert all(t["max_score"] == 0 for t in results["tests"] if t["number"].startswith("3."))
    return results["score"]


@pytest.fixture(scope="module")
def starter_score(source, sandbox_user, tmp_path_factory):
    sub = submission(tmp_path_factory.mktemp("s") / "starter.zip", source / "starter" / "proj4_code")
    return graded(run(source, sub, sandbox_user))


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_on_the_starter(attack, source, sandbox_user, starter_score, tmp_path):
    results = run(source, submission(tmp_path / "sub.zip", source / "starter" / "proj4_code", attack), sandbox_user)
    assert graded(results) == starter_score == 0, [t["name"] for t in results["tests"] if t["score"] > 0]


@pytest.fixture(scope="module")
def reference_score(source, sandbox_user, tmp_path_factory):
    names = release.CHECKPOINTS
    absent = [n for n in names if not (MODEL_DIR / n).is_file()]
    if absent:
        pytest.skip(f"checkpoints {absent} missing: make them with `proj4 train all`")
    sub = submission(tmp_path_factory.mktemp("r") / "reference.zip", REPO_ROOT / "proj4_code", checkpoints=names)
    results = run(source, sub, sandbox_user)
    lost = [(t["name"], t["output"][:200]) for t in results["tests"] if t["score"] < t["max_score"]]
    assert not lost, f"the reference must get full marks: {lost}"
    return graded(results)


@pytest.mark.parametrize("attack", REFERENCE_ATTACKS)
def test_attack_on_the_reference(attack, source, sandbox_user, reference_score, tmp_path):
    sub = submission(tmp_path / "sub.zip", REPO_ROOT / "proj4_code", attack, checkpoints=release.CHECKPOINTS)
    assert graded(run(source, sub, sandbox_user)) <= reference_score


def published_only(value):
    """The reference's answers with every computed number made wrong: what a forger knows from the
    handout alone (counts, shapes, type names, flags) stays right."""
    if isinstance(value, dict):
        return {k: published_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [published_only(v) for v in value]
    return value + 1.0 if isinstance(value, float) else value


def test_forged_published_answers_earn_nothing(source, sandbox_user, starter_score, tmp_path):
    """Every check needs an output computed on fixed inputs: the published facts alone earn only the
    checks marked self_reported (the student's own augmentation choices, stated in the README)."""
    expected = json.loads((source / "grader" / "expected.json").read_text())
    forged = json.dumps({"probes": {k: {"answer": published_only(v)} for k, v in expected.items()},
                         "predictions": {}})
    ATTACKS["forge_published_answers"] = (
        "import atexit\n"
        f"_FORGED = {forged!r}\n"
        "def _write():\n"
        "    _pl.Path(_sys.argv[1]).write_text(_FORGED)\n"
        "    _os._exit(0)\n"
        "atexit.register(_write)\n")
    try:
        results = run(source, submission(tmp_path / "sub.zip", source / "starter" / "proj4_code",
                                         "forge_published_answers"), sandbox_user)
    finally:
        del ATTACKS["forge_published_answers"]
    sys.path.insert(0, str(source / "grader"))
    try:
        import checks
    finally:
        sys.path.pop(0)
    self_reported = {c.name for c in checks.CHECKS + checks.HIDDEN if c.self_reported}
    earned = {t["name"] for t in results["tests"] if t["score"] > 0}
    assert earned <= self_reported, f"forged answers earned {sorted(earned - self_reported)}"
    assert graded(results) <= sum(c.points for c in checks.CHECKS if c.self_reported) == 4

