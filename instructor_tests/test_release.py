"""`proj4-instructor release student`: the starter has the right files, compiles, leaks no solution line, and
its public tests fail with NotImplementedError exactly where the solution passes them.

`proj4-instructor release autograder`: the zip Gradescope wants (setup.sh and run_autograder at its root,
executable), the trusted material (expected answers, test key) in grader/ only, an anonymous test
split whose key is right, and a build that stops when the reference fails a check or the starter
passes one. Grading with it is tested in test_autograder.py.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from proj4_instructor import autograder_build, markers, pins, release
from proj4_lib.parts import PARTS

REPO_ROOT = Path(__file__).resolve().parents[1]
RELEASE_ZIP = REPO_ROOT / "release" / "autograder.zip"  # the main job's (scripts/build)

# A pytest plugin, loaded into the runs below with -p: one JSON line per test phase with the
# exception type, so a NotImplementedError is told apart from an ImportError or a SyntaxError.
OUTCOME_PLUGIN = textwrap.dedent("""\
    import json, os
    import pytest

    def _write(record):
        with open(os.environ["OUTCOMES_FILE"], "a") as f:
            f.write(json.dumps(record) + "\\n")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(item, call):
        report = yield
        exc = call.excinfo
        _write({"nodeid": item.nodeid, "when": call.when, "outcome": report.outcome,
                "exc": exc.typename if exc else None, "message": str(exc.value)[:300] if exc else "",
                "slow": item.get_closest_marker("slow") is not None})
        return report

    def pytest_collectreport(report):
        if report.failed:
            _write({"nodeid": report.nodeid, "when": "collect", "outcome": "failed", "exc": None,
                    "message": report.longreprtext[-1000:], "slow": False})

    def pytest_sessionstart(session):
        import proj4_code
        _write({"nodeid": "", "when": "import", "outcome": "", "exc": None, "message": proj4_code.__file__,
                "slow": False})
    """)


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "starter"
    warnings = release.build_student(out)
    print("\n".join(warnings))
    return out


def run_public_tests(tree: Path, tmp_path: Path, args=()) -> dict:
    """Run pytest on tree/proj4_unit_tests with tree first on the path; {nodeid: {phase: record}}."""
    plugin_dir = tmp_path / f"plugin-{tree.name}"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "outcome_plugin.py").write_text(OUTCOME_PLUGIN)
    outcomes = plugin_dir / "outcomes.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(plugin_dir)]), "OUTCOMES_FILE": str(outcomes),
           "PROJ4_MODEL_DIR": str(tmp_path / "no_checkpoints"), "PROJ4_DATA_DIR": str(REPO_ROOT / "data"),
           "MPLBACKEND": "Agg"}
    env.pop("CI", None)  # a missing checkpoint skips (no checkpoints are involved here)
    subprocess.run([sys.executable, "-m", "pytest", "-p", "outcome_plugin", "-p", "no:cacheprovider", "-q",
                    "--rootdir", str(tree), "-c", str(tree / "pytest.ini"), *args],
                   cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1200)
    records = [json.loads(line) for line in outcomes.read_text().splitlines()]
    imported = [r["message"] for r in records if r["when"] == "import"]
    assert imported and Path(imported[0]).resolve().is_relative_to(tree.resolve()), \
        f"the run under {tree} imported proj4_code from {imported}"
    by_test = {}
    for record in records:
        if record["when"] != "import":
            by_test.setdefault(record["nodeid"], {})[record["when"]] = record
    return by_test


def failures(phases: dict) -> list:
    return [r for r in phases.values() if r["outcome"] == "failed"]


# -- contents -----------------------------------------------------------------------------------

def test_student_files_are_there(starter):
    for name in ("proj4_code/__init__.py", "proj4_code/simple_net.py", "proj4_lib/SHA256SUMS", "proj4_lib/trainer.py",
                 "proj4_unit_tests/conftest.py", "setup.py", "pytest.ini", "README.md", ".gitignore"):
        assert (starter / name).is_file(), name
    for name, _ in release.STUDENT_FILES:  # whatever the repository has today is released
        assert (starter / name).exists() == (REPO_ROOT / name).exists(), name


def test_instructor_material_is_not(starter):
    names = {p.relative_to(starter).as_posix() for p in starter.rglob("*")}
    for banned in ("proj4_instructor", "instructor_tests", ".ci", "BENCHMARKS.md", "model_output",
                   "requirements-ci.txt", "data/train", "data/test"):
        assert not any(n == banned or n.startswith(banned + "/") for n in names), banned
    assert not [n for n in names if n.endswith((".pt", ".pth", ".pyc", ".jpg", ".csv"))]
    assert "instructor" not in (starter / "pytest.ini").read_text()
    assert "proj4_instructor" not in (starter / "setup.py").read_text()


def test_notebook_has_no_outputs(starter):
    notebook = starter / "notebooks" / "proj4.ipynb"
    if not notebook.is_file():
        pytest.skip("notebooks/proj4.ipynb is not in the repository yet")
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    assert cells and all(c["outputs"] == [] and c["execution_count"] is None for c in cells)


def test_starter_compiles(starter):
    files = sorted(starter.rglob("*.py"))
    assert len(files) > 10
    for file in files:
        compile(file.read_text(), str(file), "exec")


def test_no_solution_line_in_the_starter(starter):
    """Each non-blank line of each solution block is absent from the starter's copy of that file,
    unless the very same line is also provided code outside the blocks of the solution file."""
    checked = 0
    for solution in sorted((REPO_ROOT / "proj4_code").glob("*.py")):
        lines = solution.read_text().splitlines()
        blocks = markers.parse_blocks(lines, str(solution))
        in_block = {n for b in blocks for n in range(b.begin_line - len(b.hints), b.end_line + 1)}
        outside = {line.strip() for n, line in enumerate(lines, start=1) if n not in in_block}
        starter_lines = {line.strip() for line in (starter / "proj4_code" / solution.name).read_text().splitlines()}
        for block in blocks:
            for line in block.lines:
                if line.strip() and line.strip() not in outside:
                    checked += 1
                    assert line.strip() not in starter_lines, f"{solution.name}:{block.begin_line}: {line.strip()!r}"
    assert checked > 50


def test_every_block_became_a_stub(starter):
    for solution in sorted((REPO_ROOT / "proj4_code").glob("*.py")):
        blocks = markers.file_blocks(solution)
        text = (starter / "proj4_code" / solution.name).read_text()
        for block in blocks:
            assert f'raise NotImplementedError("{block.function}")' in text, f"{solution.name}: {block.function}"
        assert not markers.has_markers(text)


def test_setup_py_installs_only_the_student_package(starter, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(starter, tree)  # building writes build/ and *.egg-info next to setup.py
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "wheel"), str(tree)], check=True, timeout=300)
    (wheel,) = (tmp_path / "wheel").glob("proj4-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "proj4_code/simple_net.py" in names and "proj4_lib/SHA256SUMS" in names
    assert not [n for n in names if n.startswith("proj4_instructor")]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "proj4-instructor" not in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_missing_optional_files_warn_and_missing_package_fails(tmp_path):
    repo = tmp_path / "repo"
    (repo / "proj4_code").mkdir(parents=True)
    (repo / "proj4_code" / "f.py").write_text("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n")
    (repo / "proj4_lib").mkdir()
    (repo / "proj4_tools").mkdir()
    warnings = release.build_student(tmp_path / "out", repo=repo)
    assert any("notebooks/proj4.ipynb" in w for w in warnings)
    assert 'raise NotImplementedError("f")' in (tmp_path / "out" / "proj4_code" / "f.py").read_text()
    with pytest.raises(release.ReleaseError, match="not empty"):
        release.build_student(tmp_path / "out", repo=repo)
    with pytest.raises(release.ReleaseError, match="proj4_code"):
        release.build_student(tmp_path / "out2", repo=tmp_path / "nothing")


def test_bad_markers_stop_the_release(tmp_path):
    repo = tmp_path / "repo"
    (repo / "proj4_code").mkdir(parents=True)
    (repo / "proj4_code" / "g.py").write_text("def g():\n    # BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(markers.MarkerError, match=r"g\.py:2: "):
        release.build_student(tmp_path / "out3", repo=repo)
    assert not (tmp_path / "out3").exists()


# -- behaviour ------------------------------------------------------------------------------------

def test_public_tests_fail_with_not_implemented_on_the_starter_and_pass_on_the_solution(starter, tmp_path):
    on_starter = run_public_tests(starter, tmp_path)
    collect_errors = [n for n, p in on_starter.items() if "collect" in p]
    assert not collect_errors, f"public tests do not even collect on the starter: {collect_errors}"
    failing = {n: failures(p) for n, p in on_starter.items() if failures(p)}
    assert len(failing) >= 10, "the stubs should make most public tests fail"
    wrong = {n: (f[0]["exc"], f[0]["message"][:120]) for n, f in failing.items()
             if f[0]["exc"] != "NotImplementedError"}
    assert not wrong, f"public tests that fail on the starter for another reason than a stub: {wrong}"

    fast = sorted(n for n, f in failing.items() if not f[0]["slow"])
    on_solution = run_public_tests(REPO_ROOT, tmp_path, fast)
    not_passing = {n: [r["message"][:200] for r in failures(on_solution.get(n, {}))] or "not run"
                   for n in fast if on_solution.get(n, {}).get("call", {}).get("outcome") not in ("passed", "skipped")}
    assert not not_passing, f"tests that fail on the starter but do not pass on the solution: {not_passing}"


def test_notebook_runs_on_the_starter_until_the_first_todo(starter, tmp_path, monkeypatch):
    """Quick mode, cell by cell up to the first training cell: no cell raises, and the first check
    reports "Not implemented yet" (the starter's first TODO) instead of crashing."""
    notebook_path = starter / "notebooks" / "proj4.ipynb"
    if not notebook_path.is_file():
        pytest.skip("notebooks/proj4.ipynb is not in the repository yet")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    data = REPO_ROOT / "data"
    if not (data / "train").is_dir():
        pytest.skip("the dataset is not installed (proj4 data install)")
    (starter / "data").mkdir(exist_ok=True)
    for name in ("train", "test", "scene_attributes_train.csv", "scene_attributes_test.csv"):
        if not (starter / "data" / name).exists():
            (starter / "data" / name).symlink_to(data / name)

    notebook = nbformat.read(str(notebook_path), as_version=4)
    first_training = next((i for i, c in enumerate(notebook.cells)
                           if c.cell_type == "code" and "run_training_loop" in c.source), len(notebook.cells))
    notebook.cells = notebook.cells[:first_training]
    monkeypatch.setenv("PROJ4_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", str(starter))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(starter / "notebooks")}})
    client.execute()

    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(notebook.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"cells before the first training cell raised: {errors}"
    printed = [o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs
               if o.output_type == "stream"]
    verdicts = [line for text in printed for line in text.splitlines()
                if line in ("Correct", "Not implemented yet") or line.startswith("Wrong:")]
    assert verdicts, "no check ran before the first training cell"
    assert verdicts[0] == "Not implemented yet", verdicts
    imported = [t for t in printed if "Hello from proj4_code" in t]
    assert imported, "the notebook did not import proj4_code"


# -- the autograder ---------------------------------------------------------------------------------

DATA_DIR = REPO_ROOT / "data"


@pytest.fixture(scope="module")
def autograder_zip(release_zip, tmp_path_factory) -> Path:
    """`proj4-instructor release autograder` on the real data: the main job's (release/autograder.zip, with
    the outline beside it) when it was built from this checkout, else built here, pip's resolver check
    (pins.check_target, which asks the package index) recorded instead of run: test_pins.py tests it."""
    if release_zip == RELEASE_ZIP and (RELEASE_ZIP.parent / "report_outline.md").is_file():
        with zipfile.ZipFile(RELEASE_ZIP) as zf:
            assert json.loads(zf.read("grader/manifest.json"))["python"] == pins.DEFAULT_PYTHON
        return RELEASE_ZIP
    if not (DATA_DIR / "train").is_dir() or not (DATA_DIR / "test").is_dir():
        message = f"the dataset ({DATA_DIR}) is missing; run `proj4 data install`"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    out = tmp_path_factory.mktemp("autograder") / "autograder.zip"
    targets = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(release.pins, "check_target", lambda python, *args: targets.append(python) or "")
        assert release.main(["autograder", "--out", str(out), "--data-dir", str(DATA_DIR)]) == 0
    assert targets == [pins.DEFAULT_PYTHON]
    return out


@pytest.fixture(scope="module")
def autograder_tree(autograder_zip, tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("autograder-tree") / "source"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(tree)
    return tree


def test_the_report_outline_is_beside_the_zip(autograder_zip):
    """The TA's Gradescope outline of the written report (details: test_reports.py)."""
    from proj4_lib import rubric

    outline = (autograder_zip.parent / "report_outline.md").read_text()
    assert all(f"| {k} | {item.title} | {k} | {item.points} |" in outline for k, item in enumerate(rubric.ITEMS, 1))
    assert (autograder_zip.parent / "report_template.pdf").read_bytes().startswith(b"%PDF")


def test_autograder_zip_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        config = json.loads(zf.read("grader/config.json"))
        manifest = json.loads(zf.read("grader/manifest.json"))
        requirements = zf.read("requirements-torch.txt").decode()
    # no bytecode (it holds its sources' times: two builds of the same files would differ, and a TA's image,
    # tagged by the zip's hash, would be set up again)
    assert not [n for n in infos if "__pycache__" in n or n.endswith(".pyc")]
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & 0o111 == 0o111, f"{script} is not executable"
    for name in ("proj4_autograder/runner.py", "proj4_autograder/intake.py", "proj4_autograder/sandbox.py",
                 "proj4_autograder/scoring.py", "proj4_autograder/checks.py", "trusted_code/trusted.py",
                 "trusted_code/probes.py", "trusted_code/protocol.py", "proj4_autograder/protocol.py",
                 "trusted_code/proj4_lib/architecture.py", "trusted_code/proj4_tools/models.py", "prepared/images64.pt",
                 "prepared/features-efficientnet_lite0.pt", "config.json", "test_key.json", "manifest.json"):
        assert f"grader/{name}" in infos, name
    # The reference solution is on the trusted side only (root-only on Gradescope).
    solution = {f"grader/trusted_code/proj4_code/{p.name}" for p in (REPO_ROOT / "proj4_code").glob("*.py")}
    assert solution <= set(infos)
    for name in infos:
        if name.endswith(".py") and not name.startswith("grader/"):
            assert "BEGIN SOLUTION" not in zipfile.ZipFile(autograder_zip).read(name).decode(), name
    # What the sandbox gets: the answer producer, the probes and the public-test plugin.
    assert {n for n in infos if n.startswith("sandbox/")} == \
        {"sandbox/answers.py", "sandbox/probes.py", "sandbox/proj4_grader_plugin.py", "sandbox/pytest.ini",
         "sandbox/protocol.py"}
    assert not [n for n in infos if "hidden" in n or n.startswith("data/")]
    public = {n.split("/")[-1] for n in infos if n.startswith("tests/public/") and n.endswith(".py")}
    assert public == {p.name for p in (REPO_ROOT / "proj4_unit_tests").glob("*.py")}
    assert config["public_tests"] and all(t.startswith("proj4_unit_tests/test_") for t in config["public_tests"])
    assert "provided/proj4_lib/checkpoints.py" in infos
    assert not [n for n in infos if n.startswith("provided/proj4_code")]
    assert config["student_files"] == sorted(p.name for p in (REPO_ROOT / "proj4_code").glob("*.py"))
    assert {n for n in infos if n.startswith("starter/proj4_code/")} == \
        {f"starter/proj4_code/{n}" for n in config["student_files"]}
    assert set(config["checkpoints"]) == set(release.CHECKPOINTS)
    # The autograder's trusted copy of the parts registry is the registry, field by field.
    fields = ("class_name", "module", "checkpoint", "inp_size", "task", "outputs", "backbone", "design", "threshold")
    assert [tuple(p[f] for f in fields) for p in config["parts"]] == \
        [(p.class_name, p.module, p.checkpoint, p.inp_size, p.task, p.outputs, p.backbone, p.design, p.threshold)
         for p in PARTS]
    assert [p["normalize"] for p in config["parts"]] == [p.recipe.normalize for p in PARTS]
    assert all(p["floor"] < p["threshold"] for p in config["parts"])
    assert abs(config["pixel_mean"] - 0.4555) < 0.002 and abs(config["pixel_std"] - 0.2532) < 0.002
    torch_pin = pins.ci_pins(REPO_ROOT / "requirements-ci.txt")["torch"]
    assert f"torch=={torch_pin}" in requirements.split()
    hidden = [c for c in manifest["checks"] if c["visibility"] == "after_published"]
    assert len(hidden) >= 4 and all(c["points"] > 0 for c in manifest["checks"])
    assert manifest["max_score"] == sum(c["points"] for c in manifest["checks"]) + \
        manifest["accuracy_checks"] * manifest["accuracy_points"]
    assert manifest["accuracy_checks"] == len(PARTS) and "efficientnet_lite0" in manifest["backbones"]


def test_the_prepared_test_split_and_its_key(autograder_tree):
    """The test images decoded once for the trusted side: the key's labels and attribute rows, and the
    64 x 64 images, are the dataset's, image by image."""
    import torch
    from torchvision import transforms as T

    from proj4_lib.files import load_grayscale_image

    key = json.loads((autograder_tree / "grader" / "test_key.json").read_text())
    images = torch.load(autograder_tree / "grader" / "prepared" / "images64.pt", weights_only=True)
    features = torch.load(autograder_tree / "grader" / "prepared" / "features-efficientnet_lite0.pt", weights_only=True)
    classes = sorted(p.name for p in (DATA_DIR / "test").iterdir() if p.is_dir())
    files = [p for c in classes for p in sorted((DATA_DIR / "test" / c).iterdir())]
    assert key["classes"] == classes and len(key["labels"]) == len(files) == 1500
    assert key["labels"] == [classes.index(p.parent.name) for p in files]
    assert images.shape == (1500, 1, 64, 64) and images.dtype == torch.uint8
    assert features.shape == (1500, 1280) and bool(torch.isfinite(features).all())
    for i in (0, 777, 1499):
        expected = T.PILToTensor()(T.Resize((64, 64))(load_grayscale_image(str(files[i]))))
        assert torch.equal(images[i], expected)
    rows = [r.split(",") for r in (DATA_DIR / "scene_attributes_test.csv").read_text().splitlines() if r.strip()]
    assert len(key["attribute_index"]) == len(key["flags"]) == len(rows) == 500
    for (index, flags), row in zip(zip(key["attribute_index"], key["flags"]), rows):
        assert (files[index].parent.name, files[index].name) == (row[0].strip(), row[1].strip())
        assert flags == [int(float(c)) for c in row[2:]]


BROKEN_FINAL = """\
from torch import nn


class SimpleNetFinal(nn.Module):
    \"\"\"One Conv2d, no BatchNorm2d, no Dropout: the output shape is right, the structure is not.\"\"\"

    def __init__(self):
        super().__init__()
        self.conv_layers = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc_layers = nn.Sequential(nn.Flatten(), nn.Linear(4, 15))
        self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")

    def forward(self, x):
        return self.fc_layers(self.conv_layers(x))
"""


def test_build_stops_when_the_reference_fails_a_check(autograder_tree, tmp_path):
    dest = tmp_path / "source"
    shutil.copytree(autograder_tree, dest)
    (dest / "grader" / "trusted_code" / "proj4_code" / "simple_net_final.py").write_text(BROKEN_FINAL)
    with pytest.raises(release.BuildError, match="the reference solution fails the check 'SimpleNetFinal"):
        autograder_build.self_check(dest, sys.executable)


def test_build_stops_when_the_starter_passes_a_check(autograder_tree, tmp_path):
    dest = tmp_path / "source"
    shutil.copytree(autograder_tree, dest)
    shutil.copy2(REPO_ROOT / "proj4_code" / "optimizer.py", dest / "starter" / "proj4_code" / "optimizer.py")
    with pytest.raises(release.BuildError, match="the student starter passes the check 'get_optimizer"):
        autograder_build.self_check(dest, sys.executable)


def test_the_same_files_zip_to_the_same_bytes_whatever_bytecode_lies_beside_them(tmp_path):
    """What a TA's image is tagged by: the zip's hash, the same for every build of the same files."""
    zips = []
    for build in (1, 2):
        folder = tmp_path / f"build{build}"
        (folder / "grader" / "__pycache__").mkdir(parents=True)
        (folder / "setup.sh").write_text("#!/bin/bash\n")
        (folder / "grader" / "checks.py").write_text("X = 1\n")
        (folder / "grader" / "__pycache__" / "checks.cpython-311.pyc").write_bytes(b"compiled at build %d" % build)
        (folder / "grader" / "stale.pyc").write_bytes(b"%d" % build)
        os.utime(folder / "grader" / "checks.py", (build * 1e9, build * 1e9))
        zips.append(tmp_path / f"{build}.zip")
        autograder_build.zip_folder(folder, zips[-1])
    assert zips[0].read_bytes() == zips[1].read_bytes()
    assert zipfile.ZipFile(zips[0]).namelist() == ["grader/checks.py", "setup.sh"]
