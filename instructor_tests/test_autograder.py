"""The Gradescope autograder, end to end: always a valid results.json with the right scores.

The real autograder zip is built once (module fixture) and grades the reference solution (full
marks; needs the four checkpoints in model_output/) and the student starter (0). Every failure case
runs on a small fake autograder instead (a few trivial hidden and public tests, built by the same
code), so each run takes seconds.
"""
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
import torch

from proj4_instructor import grade, release
from proj4_instructor.autograder import runner

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
MODEL_DIR = Path(os.environ.get("PROJ4_MODEL_DIR", REPO_ROOT / "model_output"))
GRADESCOPE_VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}

FAKE_HIDDEN = '''\
import pytest

from grader_support import grade_accuracy


@pytest.mark.points(3)
def test_simple_net_builds():
    """SimpleNet builds and runs"""
    import torch
    from proj4_code.simple_net import SimpleNet
    assert SimpleNet()(torch.rand(2, 1, 64, 64)).shape == (2, 15)


@pytest.mark.points(2)
@pytest.mark.visibility("after_published")
def test_get_optimizer():
    """get_optimizer returns an optimizer"""
    import torch
    from proj4_code.optimizer import get_optimizer
    assert get_optimizer(torch.nn.Linear(2, 2), {"optimizer_type": "sgd"}) is not None


@pytest.mark.points(4)
def test_simple_net_accuracy(record_property):
    """SimpleNet checkpoint accuracy"""
    grade_accuracy("SimpleNet", record_property, 4)
'''
FAKE_PUBLIC = '''\
import pytest
import torch

from proj4_code.simple_net_final import SimpleNetFinal  # at import time: a broken file cannot be collected


@pytest.mark.points(1)
def test_final_builds():
    SimpleNetFinal()


@pytest.mark.points(2)
def test_final_forward():
    assert SimpleNetFinal().eval()(torch.rand(2, 1, 64, 64)).shape == (2, 15)


def test_provided_helper():
    from proj4_code.utils import reset_seed
    reset_seed(0)
'''
# The fake autograder's expected maximum: 3 + 2 + 4 hidden, 1 + 2 public; test_provided_helper
# passes on the starter, so it is worth 0.
FAKE_POINTS = {"SimpleNet builds and runs": 3, "get_optimizer returns an optimizer": 2,
               "SimpleNet checkpoint accuracy": 4, "test_fake_public.py::test_final_builds": 1,
               "test_fake_public.py::test_final_forward": 2, "test_fake_public.py::test_provided_helper": 0}
FAKE_THRESHOLD, FAKE_FLOOR = 0.5, 0.0  # so that a random SimpleNet earns a fraction of the points


def missing(what: str):
    """Skip locally, fail in CI (as proj4_unit_tests/conftest.py does)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing")
    pytest.skip(f"{what} is missing")


def check_results(results: dict) -> None:
    """results.json as Gradescope's specification wants it."""
    json.dumps(results)
    assert isinstance(results["score"], (int, float))
    assert isinstance(results["tests"], list) and results["tests"]
    numbers = set()
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["output"], str) and len(test["output"]) <= runner.OUTPUT_LIMIT + 200
        assert test["visibility"] in GRADESCOPE_VISIBILITY
        assert test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"] + 1e-9
        numbers.add(test["number"])
    assert len(numbers) == len(results["tests"])
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]), abs=0.011)


def by_name(results: dict) -> dict:
    return {t["name"]: t for t in results["tests"]}


def write_submission(path: Path, overrides=None, checkpoints=None, student_files=None, omit=()) -> Path:
    """A zip laid out as zip_submission.py makes it: proj4_code/*.py and model_output/*.pt.

    overrides: {file name: text} replacing reference modules; checkpoints: {file name: bytes}.
    """
    overrides = overrides or {}
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted((Path(student_files) if student_files else REPO_ROOT / "proj4_code").glob("*.py")):
            if file.name in omit:
                continue
            zf.writestr(f"proj4_code/{file.name}", overrides.get(file.name, file.read_text()))
        for name, data in (checkpoints or {}).items():
            zf.writestr(f"model_output/{name}", data)
    return path


def run(source: Path, submission: Path, tmp_path: Path, **env) -> dict:
    results = grade.run_in_mimic(source, submission, DATA_DIR, tmp_path / "autograder",
                                 env={"AUTOGRADER_THREADS": "1", **env})
    check_results(results)
    return results


@pytest.fixture(scope="module")
def data_dir():
    if not (DATA_DIR / "test").is_dir():
        missing(f"the dataset ({DATA_DIR}); run `proj4 data install`")
    return DATA_DIR


# -- the fake autograder --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_source(tmp_path_factory, data_dir):
    tmp = tmp_path_factory.mktemp("fake")
    hidden, public = tmp / "hidden", tmp / "public"
    hidden.mkdir()
    public.mkdir()
    (hidden / "test_fake_hidden.py").write_text(FAKE_HIDDEN)
    (hidden / "grader_support.py").write_text(
        (REPO_ROOT / "proj4_instructor" / "autograder" / "hidden_tests" / "grader_support.py").read_text())
    (public / "test_fake_public.py").write_text(FAKE_PUBLIC)
    source = release.build_autograder_source(tmp / "source", stats=(0.45, 0.25), hidden_tests=hidden,
                                             public_tests=public, data_dir=data_dir)
    config_path = source / "grader" / "config.json"
    config = json.loads(config_path.read_text())
    config["thresholds"]["SimpleNet"] = {"threshold": FAKE_THRESHOLD, "floor": FAKE_FLOOR}
    config_path.write_text(json.dumps(config))
    return source


@pytest.fixture(scope="module")
def random_simple_net(tmp_path_factory) -> bytes:
    """A SimpleNet checkpoint with random weights (about chance accuracy)."""
    from proj4_code.dl_utils import save_trained_model_weights
    from proj4_code.simple_net import SimpleNet

    torch.manual_seed(0)
    return save_trained_model_weights(SimpleNet(), tmp_path_factory.mktemp("ckpt")).read_bytes()


def expected_accuracy(checkpoint: bytes, tmp_path: Path) -> float:
    """The checkpoint's test accuracy computed with the reference code, independently of the grader."""
    from proj4_code.data_transforms import get_fundamental_normalization_transforms
    from proj4_code.dl_utils import compute_accuracy, load_trained_model
    from proj4_code.image_loader import ImageLoader

    path = tmp_path / "trained_SimpleNet_final.pt"
    path.write_bytes(checkpoint)
    model = load_trained_model(path, expected_class="SimpleNet")
    dataset = ImageLoader(str(DATA_DIR), "test", get_fundamental_normalization_transforms((64, 64), 0.45, 0.25))
    loader = torch.utils.data.DataLoader(dataset, batch_size=300)
    with torch.no_grad():
        logits, labels = zip(*[(model(x), y) for x, y in loader])
    return compute_accuracy(torch.cat(logits), torch.cat(labels))


def assert_scores(results: dict, expected: dict) -> None:
    tests = by_name(results)
    assert set(tests) == set(FAKE_POINTS), "every test of the manifest is reported, none missing"
    for name, points in FAKE_POINTS.items():
        assert tests[name]["max_score"] == points, name
    for name, score in expected.items():
        assert tests[name]["score"] == pytest.approx(score, abs=0.011), (name, tests[name]["output"])


FULL = {"SimpleNet builds and runs": 3, "get_optimizer returns an optimizer": 2,
        "test_fake_public.py::test_final_builds": 1, "test_fake_public.py::test_final_forward": 2}


def test_fake_manifest(fake_source):
    manifest = json.loads((fake_source / "grader" / "manifest.json").read_text())
    assert manifest["zero_weight_passing_on_starter"] == ["proj4_unit_tests/test_fake_public.py::test_provided_helper"]
    assert manifest["max_score"] == sum(FAKE_POINTS.values())


def test_reference_with_partial_credit(fake_source, random_simple_net, tmp_path):
    results = run(fake_source, write_submission(tmp_path / "sub.zip", checkpoints={
        "trained_SimpleNet_final.pt": random_simple_net}), tmp_path)
    accuracy = expected_accuracy(random_simple_net, tmp_path)
    fraction = min(1.0, max(0.0, (accuracy - FAKE_FLOOR) / (FAKE_THRESHOLD - FAKE_FLOOR)))
    assert 0 < fraction < 1
    assert_scores(results, {**FULL, "SimpleNet checkpoint accuracy": round(4 * fraction, 2)})
    accuracy_test = by_name(results)["SimpleNet checkpoint accuracy"]
    assert accuracy_test["status"] == "failed"
    assert f"{accuracy:.2%}" in accuracy_test["output"]
    assert "clip((accuracy - floor) / (threshold - floor), 0, 1)" in accuracy_test["output"]
    assert by_name(results)["get_optimizer returns an optimizer"]["visibility"] == "after_published"
    assert results["score"] == pytest.approx(sum(FULL.values()) + round(4 * fraction, 2), abs=0.011)
    hidden_copy = tmp_path / "autograder" / "work" / "hidden_tests"
    assert hidden_copy.is_dir() and not list(hidden_copy.glob("*.py")), "hidden tests left on disk"


def test_syntax_error_fails_the_file_tests_instead_of_dropping_them(fake_source, random_simple_net, tmp_path):
    results = run(fake_source, write_submission(tmp_path / "sub.zip", {"simple_net_final.py": "def broken(:\n"},
                                                {"trained_SimpleNet_final.pt": random_simple_net}), tmp_path)
    assert_scores(results, {"test_fake_public.py::test_final_builds": 0, "test_fake_public.py::test_final_forward": 0,
                            "SimpleNet builds and runs": 3, "get_optimizer returns an optimizer": 2})
    output = by_name(results)["test_fake_public.py::test_final_builds"]["output"]
    assert "collection error" in output and "SyntaxError" in output


def test_import_error(fake_source, tmp_path):
    broken = "import module_that_does_not_exist\n" + (REPO_ROOT / "proj4_code" / "simple_net.py").read_text()
    results = run(fake_source, write_submission(tmp_path / "sub.zip", {"simple_net.py": broken}), tmp_path)
    assert_scores(results, {"SimpleNet builds and runs": 0, "SimpleNet checkpoint accuracy": 0,
                            "get_optimizer returns an optimizer": 2, "test_fake_public.py::test_final_builds": 1})
    assert "ModuleNotFoundError" in by_name(results)["SimpleNet builds and runs"]["output"]


def test_starter_stubs_score_zero(fake_source, tmp_path):
    starter = fake_source / "starter" / "proj4_code"
    results = run(fake_source, write_submission(tmp_path / "sub.zip", student_files=starter), tmp_path)
    assert results["score"] == 0
    assert_scores(results, {name: 0 for name in FAKE_POINTS})
    assert "NotImplementedError: SimpleNet.__init__" in by_name(results)["SimpleNet builds and runs"]["output"]
    assert "NotImplementedError" in by_name(results)["test_fake_public.py::test_final_builds"]["output"]


@pytest.mark.parametrize("checkpoint, message", [(None, "is not in the submission"),
                                                 (b"\x00not a checkpoint" * 100, "cannot be read")],
                         ids=["missing", "corrupt"])
def test_missing_or_corrupt_checkpoint(fake_source, tmp_path, checkpoint, message):
    checkpoints = {"trained_SimpleNet_final.pt": checkpoint} if checkpoint else {}
    results = run(fake_source, write_submission(tmp_path / "sub.zip", checkpoints=checkpoints), tmp_path)
    assert_scores(results, {**FULL, "SimpleNet checkpoint accuracy": 0})
    assert message in by_name(results)["SimpleNet checkpoint accuracy"]["output"]


def test_hanging_test_times_out_and_the_others_still_count(fake_source, random_simple_net, tmp_path):
    hang = "def get_optimizer(model, config):\n    import time\n    time.sleep(3600)\n"
    results = run(fake_source, write_submission(tmp_path / "sub.zip", {"optimizer.py": hang},
                                                {"trained_SimpleNet_final.pt": random_simple_net}),
                  tmp_path, AUTOGRADER_TEST_TIMEOUT="3")
    assert_scores(results, {**FULL, "get_optimizer returns an optimizer": 0})
    assert "Timeout" in by_name(results)["get_optimizer returns an optimizer"]["output"]
    assert results["execution_time"] < 120


def test_time_limit_of_the_whole_run(fake_source, tmp_path):
    """Student code that disables the per-test alarm is stopped by the limit on the whole run."""
    stubborn = ("def get_optimizer(model, config):\n    import signal, time\n"
                "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(3600)\n")
    results = run(fake_source, write_submission(tmp_path / "sub.zip", {"optimizer.py": stubborn}), tmp_path,
                  AUTOGRADER_TEST_TIMEOUT="2", AUTOGRADER_TOTAL_TIMEOUT="25")
    assert_scores(results, {"SimpleNet builds and runs": 3, "get_optimizer returns an optimizer": 0,
                            "test_fake_public.py::test_final_builds": 0})
    tests = by_name(results)
    assert "time limit" in tests["get_optimizer returns an optimizer"]["output"]
    assert "Not run" in tests["test_fake_public.py::test_final_builds"]["output"]
    assert "time limit" in results["output"]


def test_runner_crash_writes_an_autograder_error(fake_source, tmp_path):
    broken = tmp_path / "source"
    shutil.copytree(fake_source, broken)
    (broken / "grader" / "config.json").write_text("{not json")
    results = run(broken, write_submission(tmp_path / "sub.zip"), tmp_path)
    (test,) = results["tests"]
    assert test["name"] == "Autograder error" and test["visibility"] == "visible" and test["score"] == 0
    assert test["max_score"] == sum(FAKE_POINTS.values())
    assert "JSONDecodeError" in test["output"]


def test_python_that_cannot_start_still_gives_results(fake_source, tmp_path):
    results = run(fake_source, write_submission(tmp_path / "sub.zip"), tmp_path,
                  AUTOGRADER_PYTHON=str(tmp_path / "no-python"))
    assert [t["name"] for t in results["tests"]] == ["Autograder error"]
    assert results["score"] == 0


def test_student_results_json_and_megabytes_of_output(fake_source, random_simple_net, tmp_path):
    results_path = tmp_path / "autograder" / "results" / "results.json"
    noisy = (f"from pathlib import Path as _P\n_P({str(results_path.parent)!r}).mkdir(parents=True, exist_ok=True)\n"
             f"_P({str(results_path)!r}).write_text('{{\"score\": 1000, \"tests\": []}}')\n"
             "print('spam ' * 1_000_000)\n"
             + (REPO_ROOT / "proj4_code" / "simple_net.py").read_text()
             + "\n_init = SimpleNet.__init__\n\n\ndef _noisy_init(self):\n    print('noise ' * 500_000)\n"
               "    _init(self)\n\n\nSimpleNet.__init__ = _noisy_init\n")
    results = run(fake_source, write_submission(tmp_path / "sub.zip", {"simple_net.py": noisy},
                                                {"trained_SimpleNet_final.pt": random_simple_net}), tmp_path)
    assert_scores(results, FULL)
    assert results["score"] < sum(FAKE_POINTS.values())
    assert results_path.stat().st_size < 100_000


def test_zip_slip_and_symlinks_are_refused(fake_source, tmp_path):
    submission = write_submission(tmp_path / "sub.zip", omit=("optimizer.py",))
    with zipfile.ZipFile(submission, "a") as zf:
        zf.writestr("../../evil.py", "print('escaped')")
        zf.writestr(str(tmp_path / "absolute_evil.py"), "print('escaped')")
        link = zipfile.ZipInfo("proj4_code/optimizer.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    results = run(fake_source, submission, tmp_path)
    assert "../../evil.py: '..' in the path (zip-slip)" in results["output"]
    assert "absolute_evil.py: absolute path (zip-slip)" in results["output"]
    assert "proj4_code/optimizer.py: symbolic link" in results["output"]
    assert not list(tmp_path.rglob("evil.py")) and not (tmp_path / "absolute_evil.py").exists()
    tests = by_name(results)
    assert tests["get_optimizer returns an optimizer"]["score"] == 0  # graded with the starter's stub
    assert "NotImplementedError" in tests["get_optimizer returns an optimizer"]["output"]
    assert tests["SimpleNet builds and runs"]["score"] == 3


def test_loose_files_with_symlinks(fake_source, tmp_path):
    loose = tmp_path / "loose"
    (loose / "proj4_code").mkdir(parents=True)
    for file in (REPO_ROOT / "proj4_code").glob("*.py"):
        (loose / "proj4_code" / file.name).write_text(file.read_text())
    (loose / "proj4_code" / "simple_net.py").unlink()
    (loose / "proj4_code" / "simple_net.py").symlink_to(REPO_ROOT / "proj4_code" / "simple_net.py")
    (loose / "etc").symlink_to("/etc", target_is_directory=True)
    results = run(fake_source, loose, tmp_path)
    assert "proj4_code/simple_net.py: symbolic link" in results["output"]
    assert "etc: symbolic link" in results["output"]
    assert_scores(results, {"SimpleNet builds and runs": 0, "get_optimizer returns an optimizer": 2})


# -- the real autograder -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("real") / "autograder.zip"
    assert release.main(["autograder", "--out", str(out), "--data-dir", str(data_dir)]) == 0
    return out


def test_autograder_zip_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        for script in ("setup.sh", "run_autograder"):
            assert infos[script].external_attr >> 16 & 0o111, f"{script} is not executable"
        config = json.loads(zf.read("grader/config.json"))
        manifest = json.loads(zf.read("grader/manifest.json"))
        requirements = zf.read("requirements-torch.txt").decode()
        with zf.open("data/proj4_test_data.zip") as data, zipfile.ZipFile(data) as test_data:
            names = test_data.namelist()
    assert "torch==2.14.1" in requirements and "torchvision==0.29.1" in requirements
    assert sum(n.endswith(".jpg") for n in names) == 1500 and "scene_attributes_test.csv" in names
    assert not [n for n in names if n.startswith("train/")]
    assert abs(config["pixel_mean"] - 0.4555) < 0.002 and abs(config["pixel_std"] - 0.2532) < 0.002
    assert {n for n in infos if n.startswith("starter/proj4_code/")} == \
        {f"starter/proj4_code/{n}" for n in config["student_files"]}
    provided = [n.split("/")[-1] for n in infos if n.startswith("provided/proj4_code/")]
    assert provided and not set(provided) & set(config["student_files"])
    hidden = [t for t in manifest["tests"] if t["hidden"]]
    assert len(hidden) >= 8 and all(t["points"] > 0 for t in hidden)


def test_reference_solution_scores_full_marks(autograder_zip, tmp_path, capsys):
    checkpoints = {name: MODEL_DIR / name for name in release.CHECKPOINTS}
    absent = [str(p) for p in checkpoints.values() if not p.is_file()]
    if absent:
        missing(f"checkpoints {', '.join(absent)} (train them with `proj4 train all`)")
    submission = write_submission(tmp_path / "reference.zip",
                                  checkpoints={name: path.read_bytes() for name, path in checkpoints.items()})
    out = tmp_path / "results.json"
    assert grade.main([str(submission), "--autograder", str(autograder_zip), "--results", str(out)]) == 0
    results = json.loads(out.read_text())
    check_results(results)
    failed = {t["name"]: t["output"][:300] for t in results["tests"] if t["score"] < t["max_score"]}
    assert not failed
    with zipfile.ZipFile(autograder_zip) as zf:
        manifest = json.loads(zf.read("grader/manifest.json"))
    assert results["score"] == pytest.approx(manifest["max_score"]) and manifest["max_score"] > 0
    printed = capsys.readouterr().out
    assert "total" in printed and f"{results['score']:g}/{manifest['max_score']:g}" in printed


def test_student_starter_scores_zero(autograder_zip, tmp_path):
    starter = tmp_path / "starter"
    release.build_student(starter)
    results_path = tmp_path / "results.json"
    assert grade.main([str(write_submission(tmp_path / "starter.zip", student_files=starter / "proj4_code")),
                       "--autograder", str(autograder_zip), "--results", str(results_path)]) == 0
    results = json.loads(results_path.read_text())
    check_results(results)
    assert results["score"] == 0
    hidden = [t for t in results["tests"] if t["number"].startswith("2.")]
    assert hidden and all("NotImplementedError" in t["output"] or "not in the submission" in t["output"]
                          for t in hidden)


# -- the sandbox (needs root and a Python the unprivileged user can run) ---------------------------

SANDBOX_HIDDEN = '''\
import os

import pytest


@pytest.mark.points(1)
def test_student_code_is_confined():
    """student code cannot touch the grader"""
    from proj4_code import simple_net
    assert os.getuid() != 0, "the tests ran as root"
    assert simple_net.ATTEMPTS and all(v != "succeeded" for v in simple_net.ATTEMPTS.values()), simple_net.ATTEMPTS
'''


def sandbox_student(root: Path, marker: Path) -> str:
    """A simple_net.py that tries what a malicious submission would (standard library only)."""
    return f'''\
import os, subprocess, sys

ROOT = {str(root)!r}
ATTEMPTS = {{}}


def attempt(name, action):
    try:
        action()
        ATTEMPTS[name] = "succeeded"
    except Exception as err:
        ATTEMPTS[name] = type(err).__name__


attempt("write results.json", lambda: open(ROOT + "/results/results.json", "w").write('{{"score": 1000}}'))
attempt("read the manifest", lambda: open(ROOT + "/source/grader/manifest.json").read())
attempt("read the hidden test", lambda: open(ROOT + "/work/hidden_tests/test_sandbox_hidden.py").read())
attempt("list the submission", lambda: os.listdir(ROOT + "/submission"))
attempt("edit its own code", lambda: open(__file__, "a").write("#"))
# A daemon outside pytest's process group that would write later: it must be killed.
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(4); open({str(marker)!r}, 'w').write('alive')"],
                 start_new_session=True)
'''


@pytest.fixture(scope="module")
def sandbox_python(tmp_path_factory):
    """A venv of the system Python with pytest, somewhere the user nobody can read."""
    import subprocess
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root")
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no system Python for the sandbox user")
    if subprocess.run(["pgrep", "-u", "nobody"], capture_output=True).returncode == 0:
        pytest.skip("processes of the user nobody are running; the sandbox would kill them")
    folder = Path(tempfile.mkdtemp(prefix="proj4-sandbox-venv-", dir="/tmp"))
    os.chmod(folder, 0o755)
    try:
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(folder / "venv")], check=True, capture_output=True)
        subprocess.run([str(folder / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "pytest",
                        "pytest-timeout"], check=True, capture_output=True, timeout=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"cannot make a venv with pytest for the sandbox user: {err}")
    yield folder / "venv" / "bin" / "python"
    shutil.rmtree(folder, ignore_errors=True)


def test_sandbox_confines_student_code(sandbox_python, tmp_path, data_dir):
    import tempfile
    import time

    hidden, public = tmp_path / "hidden", tmp_path / "public"
    hidden.mkdir()
    public.mkdir()
    (hidden / "test_sandbox_hidden.py").write_text(SANDBOX_HIDDEN)
    source = release.build_autograder_source(tmp_path / "source", stats=(0.45, 0.25), hidden_tests=hidden,
                                             public_tests=public, data_dir=data_dir)
    base = Path(tempfile.mkdtemp(prefix="proj4-sandbox-", dir="/tmp"))  # /tmp/pytest-of-root is private
    try:
        os.chmod(base, 0o777)
        root, marker = base / "autograder", base / "daemon-was-not-killed"
        results = grade.run_in_mimic(
            source, write_submission(tmp_path / "sub.zip", {"simple_net.py": sandbox_student(root, marker)}),
            data_dir, root, env={"AUTOGRADER_PYTHON": str(sandbox_python), "AUTOGRADER_SANDBOX_USER": "nobody"})
        check_results(results)
        (test,) = [t for t in results["tests"] if t["name"] == "student code cannot touch the grader"]
        assert test["score"] == 1, test["output"]
        assert "unprivileged user 'nobody'" in (root / "run_autograder.log").read_text()
        time.sleep(6)
        assert not marker.exists(), "a process started by student code outlived the grading"
        assert json.loads((root / "results" / "results.json").read_text()) == results
    finally:
        shutil.rmtree(base, ignore_errors=True)
