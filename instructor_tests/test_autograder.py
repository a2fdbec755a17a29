"""The Gradescope autograder, end to end: always a valid results.json, with the right scores.

The real autograder (build_autograder_source: the real checks, the reference's expected answers,
the anonymous test split) is built once for the module, with one small public test file so that
the public-test step (feedback, 0 points) takes seconds. It grades the reference solution with its
four checkpoints through `proj4 grade --autograder ZIP` (full marks) and the student starter (0),
as the unprivileged sandbox user where the tests run as root. The failure cases grade the starter
(its probes fail at once) with a reference module or two, without the sandbox
(AUTOGRADER_SANDBOX_USER=none: test_attacks.py covers the sandbox) and with small time limits.
What files the intake takes is checked on intake.py directly.
"""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import torch

from proj4_instructor import grade, release
from proj4_instructor.autograder import intake, runner
from proj4_instructor.gradescope_schema import problems

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
MODEL_DIR = Path(os.environ.get("PROJ4_MODEL_DIR", REPO_ROOT / "model_output"))
STATS = (0.4555, 0.2532)  # the dataset's mean / std (skips dataset_stats, which reads every image)
# A sandbox user of its own: the sandbox kills every process of its user before and after each step, so
# a test_attacks.py run at the same time (user proj4grader) would kill these gradings, and the reverse.
SANDBOX_USER = "proj4gradertest"

PUBLIC = '''\
import torch

from proj4_code.simple_net import SimpleNet  # at import time: a broken simple_net.py fails collection


def test_simple_net_shape():
    assert SimpleNet()(torch.rand(2, 1, 64, 64)).shape == (2, 15)


def test_provided_helper():
    from proj4_lib.utils import reset_seed
    reset_seed(0)
'''


def missing(what: str):
    """Skip locally, fail in CI (as proj4_unit_tests/conftest.py does)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing")
    pytest.skip(f"{what} is missing")


def check_results(results: dict) -> None:
    """results.json as Gradescope's specification wants it, and consistent."""
    assert problems(results) == []
    json.dumps(results, allow_nan=False)
    assert isinstance(results["tests"], list) and results["tests"]
    numbers = [t["number"] for t in results["tests"]]
    assert len(set(numbers)) == len(numbers), numbers
    for test in results["tests"]:
        assert {"name", "number", "score", "max_score", "status", "visibility", "output"} <= set(test)
        assert test["name"] and len(test["output"]) <= runner.OUTPUT_LIMIT + 100
        assert 0 <= test["score"] <= test["max_score"] + 1e-9
        assert test["status"] == ("passed" if test["score"] >= test["max_score"] else "failed") or \
            test["max_score"] == 0
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]), abs=0.011)


def by_number(results: dict) -> dict:
    return {t["number"]: t for t in results["tests"]}


def write_submission(path: Path, code: Path, overrides=None, checkpoints=None, files=None) -> Path:
    """A zip laid out as zip_submission.py makes it: proj4_code/*.py (from `code`, or only `files`
    of it) with `overrides` {name: text}, and model_output/*.pt {name: bytes}."""
    overrides = overrides or {}
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(Path(code).glob("*.py")):
            if files is None or file.name in files:
                zf.writestr(f"proj4_code/{file.name}", overrides.get(file.name, file.read_text()))
        for name in set(overrides) - {f.name for f in Path(code).glob("*.py")}:
            zf.writestr(f"proj4_code/{name}", overrides[name])
        for name, data in (checkpoints or {}).items():
            zf.writestr(f"model_output/{name}", data)
    return path


def run(source: Path, submission: Path, autograder_error: bool = False, **env) -> dict:
    """Grade in a /autograder stand-in (a folder the sandbox user can traverse); returns results.json, with
    the staff log (run_autograder's output) under "_log"."""
    base = Path(tempfile.mkdtemp(prefix="proj4-autograder-test-"))
    os.chmod(base, 0o755)
    try:
        results = grade.run_in_mimic(source, submission, DATA_DIR, base / "autograder", env={
            "AUTOGRADER_THREADS": "1", "AUTOGRADER_SANDBOX_USER": "none", **env})
        log = (base / "autograder" / "run_autograder.log").read_text(errors="replace")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    check_results(results)
    assert (results["tests"][0]["name"] == "Autograder error") == autograder_error, results["tests"][0]["output"]
    return {**results, "_log": log}


@pytest.fixture(scope="module")
def data_dir():
    if not (DATA_DIR / "test").is_dir():
        missing(f"the dataset ({DATA_DIR}); run `proj4 data install`")
    return DATA_DIR


@pytest.fixture(scope="module")
def source(tmp_path_factory, data_dir) -> Path:
    tmp = tmp_path_factory.mktemp("autograder")
    (tmp / "public").mkdir()
    (tmp / "public" / "test_public.py").write_text(PUBLIC)
    return release.build_autograder_source(tmp / "source", stats=STATS, public_tests=tmp / "public",
                                           data_dir=data_dir)


@pytest.fixture(scope="module")
def starter(source) -> Path:
    return source / "starter" / "proj4_code"


@pytest.fixture(scope="module")
def max_score(source) -> float:
    return json.loads((source / "grader" / "manifest.json").read_text())["max_score"]


@pytest.fixture(scope="module")
def sandbox_user():
    """The unprivileged user student code runs as, where these tests run as root (as CI does) and that user
    can run this Python; else "none" (grading as the current user). As in test_attacks.py, the folders
    above the interpreter are made traversable (pyenv lives in /root) for the module's duration."""
    if os.geteuid() != 0:
        yield "none"
        return
    try:
        pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        if subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SANDBOX_USER],
                          capture_output=True).returncode != 0:
            yield "none"
            return
    entry = pwd.getpwnam(SANDBOX_USER)
    restore = []
    for parent in Path(os.path.realpath(sys.executable)).parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            restore.append((parent, mode))
            os.chmod(parent, mode | stat.S_IXOTH)
    try:
        reachable = subprocess.run([sys.executable, "-c", "import torch, pytest"], user=entry.pw_uid,
                                   group=entry.pw_gid, extra_groups=[], capture_output=True, cwd="/",
                                   env={"PATH": os.defpath}).returncode == 0
    except OSError:
        reachable = False
    try:
        yield SANDBOX_USER if reachable else "none"
    finally:
        for parent, mode in restore:
            os.chmod(parent, stat.S_IMODE(mode))


# -- the real autograder: reference full marks, starter 0 -----------------------------------------

@pytest.fixture(scope="module")
def autograder_zip(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    release.zip_folder(source, out)
    return out


def test_reference_solution_scores_full_marks(autograder_zip, sandbox_user, max_score, tmp_path, capsys,
                                              monkeypatch):
    absent = [str(MODEL_DIR / n) for n in release.CHECKPOINTS if not (MODEL_DIR / n).is_file()]
    if absent:
        missing(f"checkpoints {', '.join(absent)} (train them with `proj4 train all`)")
    submission = write_submission(tmp_path / "reference.zip", REPO_ROOT / "proj4_code", checkpoints={
        name: (MODEL_DIR / name).read_bytes() for name in release.CHECKPOINTS})
    monkeypatch.setenv("AUTOGRADER_SANDBOX_USER", sandbox_user)
    out = tmp_path / "results.json"
    assert grade.main([str(submission), "--autograder", str(autograder_zip), "--results", str(out)]) == 0
    results = json.loads(out.read_text())
    check_results(results)
    assert {t["name"]: t["output"][:300] for t in results["tests"] if t["score"] < t["max_score"]} == {}
    assert results["score"] == pytest.approx(max_score) and max_score > 100
    accuracy = [t for t in results["tests"] if "accuracy of the submitted checkpoint" in t["name"]]
    assert len(accuracy) == 4 and all("credit = clip(" in t["output"] for t in accuracy)
    printed = capsys.readouterr().out
    assert "total" in printed and f"{results['score']:g}/{max_score:g}" in printed


def test_student_starter_scores_zero(source, starter, sandbox_user, tmp_path):
    results = run(source, write_submission(tmp_path / "starter.zip", starter), AUTOGRADER_SANDBOX_USER=sandbox_user)
    assert results["score"] == 0
    tests = by_number(results)
    graded = [t for t in results["tests"] if not t["number"].startswith("3.")]
    assert all(t["status"] == "failed" and t["max_score"] > 0 for t in graded)
    assert all("NotImplementedError" in t["output"] or "not in the submission" in t["output"] for t in graded)
    assert "NotImplementedError: SimpleNet.__init__" in tests["1.1"]["output"]
    # The hidden structure checks show after publication, and only one line (no expected value).
    structure = [t for t in results["tests"] if t["number"].startswith("2.") and "accuracy" not in t["name"]]
    assert len(structure) == 4
    assert all(t["visibility"] == "after_published" and "\n" not in t["output"] for t in structure)
    # Public tests: feedback, shown with 0 points, with their real outcomes.
    public = {t["name"]: t for t in results["tests"] if t["number"].startswith("3.")}
    assert all(t["max_score"] == 0 and t["score"] == 0 and t["visibility"] == "visible" for t in public.values())
    assert public["public test test_public.py::test_provided_helper"]["status"] == "passed"
    assert public["public test test_public.py::test_simple_net_shape"]["status"] == "failed"
    assert "NotImplementedError" in public["public test test_public.py::test_simple_net_shape"]["output"]
    expected_user = "as the unprivileged user" if sandbox_user != "none" else "as the current user"
    assert expected_user in results["_log"]


# -- partial credit, missing modules and checkpoints, refused files: one end-to-end run ---------------

def _test_images(size: int, mean: float, std: float):
    from PIL import Image
    from torchvision import transforms as T

    transform = T.Compose([T.Resize((size, size)), T.ToTensor(), T.Normalize([mean], [std])])
    classes = sorted(p.name for p in (DATA_DIR / "test").iterdir() if p.is_dir())
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((DATA_DIR / "test" / name).iterdir()):
            with Image.open(path) as img:
                images.append(transform(img.convert("L")))
            labels.append(label)
    return torch.stack(images), torch.tensor(labels)


def simple_net_rule(source: Path) -> dict:
    """SimpleNet's threshold and floor in the autograder's config."""
    parts = json.loads((source / "grader" / "config.json").read_text())["parts"]
    (part,) = [p for p in parts if p["class_name"] == "SimpleNet"]
    return part


@pytest.fixture(scope="module")
def weaker_simple_net(data_dir, source, tmp_path_factory):
    """The reference SimpleNet checkpoint with deterministic noise on its weights, until its test accuracy
    lies between the floor and the threshold; returns (bytes, accuracy computed here)."""
    from proj4_code.simple_net import SimpleNet

    name = "trained_SimpleNet_final.pt"
    if not (MODEL_DIR / name).is_file():
        missing(f"checkpoint {MODEL_DIR / name} (train it with `proj4 train simple_net`)")
    rule = simple_net_rule(source)
    images, labels = _test_images(64, *STATS)
    checkpoint = torch.load(MODEL_DIR / name, map_location="cpu", weights_only=True)
    noise = {k: torch.randn(t.shape, generator=torch.Generator().manual_seed(i))
             for i, (k, t) in enumerate(sorted(checkpoint["state_dict"].items())) if t.is_floating_point()}
    for scale in [0.05 * i for i in range(1, 41)]:
        state = {k: t + scale * t.std() * noise[k] if k in noise and t.numel() > 1 else t
                 for k, t in checkpoint["state_dict"].items()}
        model = SimpleNet()
        model.load_state_dict(state)
        model.eval()
        with torch.no_grad():
            accuracy = (torch.cat([model(b) for b in images.split(250)]).argmax(1) == labels).float().mean().item()
        if rule["floor"] + 0.02 < accuracy < rule["threshold"] - 0.02:
            path = tmp_path_factory.mktemp("weaker") / name
            torch.save({**checkpoint, "state_dict": state}, path)
            return path.read_bytes(), accuracy
    pytest.fail("no noise scale put the reference SimpleNet between the floor and the threshold")


def test_partial_credit_missing_modules_and_checkpoints_and_refused_files(source, weaker_simple_net, tmp_path):
    """Only the reference simple_net.py and a weaker SimpleNet checkpoint, plus what the intake refuses."""
    checkpoint, accuracy = weaker_simple_net
    submission = write_submission(tmp_path / "sub.zip", REPO_ROOT / "proj4_code", files={"simple_net.py"},
                                  checkpoints={"trained_SimpleNet_final.pt": checkpoint})
    with zipfile.ZipFile(submission, "a") as zf:
        zf.writestr("../../evil.py", "print('escaped')")
        zf.writestr("/tmp/absolute_evil.py", "print('escaped')")
        link = zipfile.ZipInfo("proj4_code/optimizer.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("__MACOSX/proj4_code/._simple_net.py", "\x00\x05\x16\x07")
    results = run(source, submission)
    output = results["output"]
    assert "../../evil.py: '..' in the path (zip-slip)" in output
    assert "/tmp/absolute_evil.py: absolute path (zip-slip)" in output
    assert "proj4_code/optimizer.py: symbolic link" in output
    assert "proj4_code/optimizer.py is not in the submission: graded with the starter's version" in output
    assert "proj4_code/simple_net.py is not in the submission" not in output
    assert not Path("/tmp/absolute_evil.py").exists()

    tests = by_number(results)
    simple_net = [t for t in results["tests"] if t["name"].startswith("SimpleNet:")]
    assert len(simple_net) >= 6 and all(t["status"] == "passed" for t in simple_net)
    acc = {t["name"].split("[")[1].rstrip("]"): t for t in results["tests"] if "accuracy of the submitted" in t["name"]}
    for other in ("SimpleNetFinal", "MyResNet18", "MultilabelResNet18"):
        assert acc[other]["score"] == 0 and "is not in the submission" in acc[other]["output"]
    optimizer = [t for t in results["tests"] if t["name"].startswith("get_optimizer")]
    assert optimizer and all("NotImplementedError" in t["output"] for t in optimizer)  # the starter's stub

    rule = simple_net_rule(source)
    fraction = (accuracy - rule["floor"]) / (rule["threshold"] - rule["floor"])
    assert 0 < fraction < 1
    test = acc["SimpleNet"]
    assert test["status"] == "failed" and f"{accuracy:.2%}" in test["output"], test["output"]
    assert "credit = clip((accuracy - floor) / (threshold - floor), 0, 1)" in test["output"]
    assert test["score"] == pytest.approx(round(8 * fraction, 2), abs=0.011)
    others = ("SimpleNetFinal", "MyResNet18", "MultilabelResNet18", "compute_", "data_transforms", "ImageLoader",
              "read_attribute_csv", "get_optimizer", "generate_", "get_pred_images", "Trainer")
    assert not [t["name"] for t in results["tests"] if t["score"] > 0 and t["name"].startswith(others)]
    assert {t["number"] for t in simple_net} | {"2.1"} <= {t["number"] for t in results["tests"] if t["score"] > 0}
    assert tests["2.1"]["visibility"] == "after_published"
    public = {t["name"]: t["status"] for t in results["tests"] if t["number"].startswith("3.")}
    assert public == {"public test test_public.py::test_simple_net_shape": "passed",
                      "public test test_public.py::test_provided_helper": "passed"}


# -- student code that crashes or hangs -------------------------------------------------------------

def crash_submission(tmp_path: Path, starter: Path, prelude: str) -> Path:
    """The starter with the reference optimizer.py, and `prelude` at the top of simple_net.py."""
    return write_submission(tmp_path / "sub.zip", starter, {
        "simple_net.py": prelude + (starter / "simple_net.py").read_text(),
        "optimizer.py": (REPO_ROOT / "proj4_code" / "optimizer.py").read_text()})


def optimizer_points(results: dict) -> float:
    tests = [t for t in results["tests"] if t["name"].startswith("get_optimizer")]
    assert tests
    return sum(t["score"] for t in tests) if all(t["status"] == "passed" for t in tests) else -1


def test_import_time_error_and_megabytes_of_output(source, starter, tmp_path):
    results = run(source, crash_submission(tmp_path, starter,
                                           "print('spam ' * 1_000_000)\nimport module_that_does_not_exist\n"))
    log = results.pop("_log")
    assert len(json.dumps(results)) < 100_000 and len(log) < 200_000  # the output goes to the staff log, clipped
    tests = by_number(results)
    assert "ModuleNotFoundError: No module named 'module_that_does_not_exist'" in tests["1.1"]["output"]
    assert optimizer_points(results) > 0  # the other probes still ran
    assert results["score"] == optimizer_points(results)
    (public,) = [t for t in results["tests"] if t["number"].startswith("3.")]
    assert public["status"] == "failed" and public["max_score"] == 0
    assert "collection error" in public["output"] and "ModuleNotFoundError" in public["output"]


def test_infinite_loop_at_import_stops_at_the_time_limit(source, starter, tmp_path):
    results = run(source, crash_submission(tmp_path, starter, "while True:\n    pass\n"),
                  AUTOGRADER_TOTAL_TIMEOUT="8", AUTOGRADER_PUBLIC_TIMEOUT="5")
    assert results["score"] == 0
    assert "stopped at the time limit" in results["output"]
    assert "Not run" in by_number(results)["1.1"]["output"]
    assert results["execution_time"] < 60


def test_os_exit_at_import(source, starter, tmp_path):
    results = run(source, crash_submission(tmp_path, starter, "import os\nos._exit(3)\n"))
    assert results["score"] == 0
    assert "Your code's process ended with exit code 3" in results["output"]
    tests = by_number(results)
    assert "Not run" in tests["1.1"]["output"]
    assert not [t for t in results["tests"] if t["number"].startswith("3.")]  # pytest died too: no feedback


# -- the runner itself fails ----------------------------------------------------------------------

def test_runner_crash_writes_an_autograder_error(source, starter, max_score, tmp_path):
    broken = tmp_path / "source"
    shutil.copytree(source, broken, ignore=shutil.ignore_patterns("proj4_test_data.zip"))
    (broken / "data" / "proj4_test_data.zip").symlink_to(source / "data" / "proj4_test_data.zip")
    (broken / "grader" / "expected.json").write_text("{not json")
    results = run(broken, write_submission(tmp_path / "sub.zip", starter), autograder_error=True)
    (test,) = results["tests"]
    assert test["name"] == "Autograder error" and test["visibility"] == "visible" and test["score"] == 0
    assert test["max_score"] == max_score
    assert "JSONDecodeError" in test["output"] and "not a grade" in results["output"]


def test_python_that_cannot_start_still_gives_results(source, starter, tmp_path):
    results = run(source, write_submission(tmp_path / "sub.zip", starter), autograder_error=True,
                  AUTOGRADER_PYTHON=str(tmp_path / "no-python"))
    assert [t["name"] for t in results["tests"]] == ["Autograder error"]
    assert results["score"] == 0 and "could not run" in results["tests"][0]["output"]


# -- the intake: which files are graded -------------------------------------------------------------

CONFIG = {"student_files": ["__init__.py", "optimizer.py", "simple_net.py"], "checkpoints": list(release.CHECKPOINTS),
          "max_source_bytes": 1000, "max_checkpoint_bytes": 5000}


def take(submission: Path, tmp_path: Path) -> intake.Intake:
    work = tmp_path / "work"
    taken = intake.take_submission(submission, work, CONFIG)
    for target in taken.accepted:
        assert (work / target).is_file() and stat.S_IMODE((work / target).stat().st_mode) == 0o644
    return taken


def test_intake_refuses_zip_slip_absolute_paths_and_symlinks(tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    with zipfile.ZipFile(sub / "a.zip", "w") as zf:
        zf.writestr("../../simple_net.py", "x = 1")
        zf.writestr("/etc/simple_net.py", "x = 1")
        zf.writestr("C:\\proj4_code\\optimizer.py", "x = 1")
        link = zipfile.ZipInfo("proj4_code/optimizer.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    (sub / "proj4_code").mkdir()
    (sub / "proj4_code" / "simple_net.py").symlink_to("/etc/passwd")
    (sub / "etc").symlink_to("/etc", target_is_directory=True)
    taken = take(sub, tmp_path)
    assert taken.accepted == {}
    assert sorted(taken.refused) == sorted([
        "a.zip:../../simple_net.py: '..' in the path (zip-slip)",
        "a.zip:/etc/simple_net.py: absolute path (zip-slip)",
        "a.zip:C:\\proj4_code\\optimizer.py: absolute path (zip-slip)",
        "a.zip:proj4_code/optimizer.py: symbolic link",
        "proj4_code/simple_net.py: symbolic link",
        "etc: symbolic link"])
    assert not [p for p in tmp_path.rglob("*.py") if p.is_file() and not p.is_symlink()]


def test_intake_refuses_oversized_broken_and_encrypted_files(tmp_path):
    sub = tmp_path / "submission"
    (sub / "proj4_code").mkdir(parents=True)
    (sub / "proj4_code" / "simple_net.py").write_text("#" * 1001)
    (sub / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    with zipfile.ZipFile(sub / "enc.zip", "w") as zf:
        zf.writestr("proj4_code/optimizer.py", "x = 1")
        zf.writestr("model_output/trained_SimpleNet_final.pt", b"\x00" * 6000)  # a checkpoint too big
    data = bytearray((sub / "enc.zip").read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x01  # the "encrypted" flag of the first member in the central directory
    (sub / "enc.zip").write_bytes(bytes(data))
    taken = take(sub, tmp_path)
    assert taken.accepted == {}
    refused = "\n".join(taken.refused)
    assert "proj4_code/simple_net.py: 1,001 bytes, more than the 1,000 allowed" in refused
    assert "broken.zip: not a readable zip" in refused
    assert "proj4_code/optimizer.py: cannot be read (RuntimeError: " in refused and "encrypted" in refused
    assert "model_output/trained_SimpleNet_final.pt: 6,000 bytes, more than the 5,000 allowed" in refused


def test_intake_takes_the_shallowest_copy_and_ignores_the_rest(tmp_path):
    sub = tmp_path / "submission"
    (sub / "proj4_code").mkdir(parents=True)
    (sub / "proj4_code" / "optimizer.py").write_text("loose = 1")
    (sub / "notes.txt").write_text("hello")
    with zipfile.ZipFile(sub / "project.zip", "w") as zf:
        zf.writestr("__MACOSX/proj4_code/simple_net.py", "macos = 1")  # would sort first among depth 2
        zf.writestr("proj4/proj4_code/simple_net.py", "deep = 1")
        zf.writestr("proj4/proj4_code/optimizer.py", "deeper = 1")
        zf.writestr("proj4/model_output/trained_SimpleNet_final.pt", b"ckpt")
        zf.writestr("proj4/proj4_lib/checkpoints.py", "provided = 1")
        zf.writestr("proj4/other/simple_net.py", "not in proj4_code = 1")
    taken = take(sub, tmp_path)
    assert taken.refused == []
    assert taken.accepted == {"proj4_code/optimizer.py": "proj4_code/optimizer.py",
                              "proj4_code/simple_net.py": "proj4/proj4_code/simple_net.py",
                              "model_output/trained_SimpleNet_final.pt": "proj4/model_output/trained_SimpleNet_final.pt"}
    work = tmp_path / "work"
    assert (work / "proj4_code" / "optimizer.py").read_text() == "loose = 1"
    assert (work / "proj4_code" / "simple_net.py").read_text() == "deep = 1"
    assert "proj4/proj4_code/optimizer.py (duplicate of proj4_code/optimizer.py)" in taken.ignored
    for name in ("notes.txt", "__MACOSX/proj4_code/simple_net.py", "proj4/proj4_lib/checkpoints.py",
                 "proj4/other/simple_net.py"):
        assert name in taken.ignored
    assert not (work / "proj4_lib").exists()
