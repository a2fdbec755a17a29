"""Colab: the project lives on the student's Google Drive, and a runtime reset costs a re-run of the set-up cell.

The fast tests take the set-up's parts one by one (getting the starter from any zip layout, the data
kept on Drive). test_a_runtime_reset_loses_nothing (slow) is a simulated Colab, as faithful as this
machine allows:
  - the Colab root, /content with the Drive at /content/drive/MyDrive, is a temporary folder: the
    notebook's set-up cell honours $PROJ4_COLAB_ROOT, the one thing that differs from a real Colab;
  - a stand-in google.colab (instructor_tests/colab_standin/): drive.mount records its call and makes the
    Drive folder, files.upload / files.download are stubbed and recorded; the kernel imports it at start,
    as Colab's does;
  - the "image" is this machine's Python with its torch, seen through a fresh virtual environment per
    runtime (--system-site-packages), so the notebook's `pip install -e` lands in the runtime and never in
    this machine's Python, and a reset loses what it installed, as on Colab;
  - the course's web site is a local HTTP server holding the starter zip and the three data files.
The student runs the set-up cell and Part 1 in quick mode, edits a file on Drive, the runtime dies after
epoch 1 of training; then a reset (/content wiped but the Drive, a new runtime and kernel), the set-up
cell and Part 1 again with resume=True, and the submission cell.

What only a real Colab can show: Google's Drive itself (the FUSE mount, its speed and caching, the
permission dialog), Colab's own package versions (this machine's stand in for them), its GPU, the
browser's file upload and download, and the ResNet-18 download (no internet here).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

from proj4_lib import colab, course, data_install
from proj4_lib.data_install import ARCHIVE, CSV_FILES
from proj4_lib.fixtures import QuietHandler, serve_folder

REPO = Path(__file__).resolve().parents[1]
STANDIN = Path(__file__).resolve().parent / "colab_standin"
SHARED_DATA = REPO.parent / "shared" / "data"  # the course machines' copy of the data files
NOTEBOOK = REPO / "notebooks" / "proj4.ipynb"


# -- the starter, whatever the zip's layout ---------------------------------------------------------------------
def write_project(folder: Path) -> Path:
    """The smallest tree get_starter takes for a project: setup.py beside proj4_code/."""
    (folder / "proj4_code").mkdir(parents=True)
    (folder / "proj4_code" / "__init__.py").write_text("")
    (folder / "setup.py").write_text("# setup\n")
    return folder


def zip_tree(tree: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tree.rglob("*")):
            zf.write(path, path.relative_to(tree).as_posix())
    return archive


@pytest.mark.parametrize("layout", ["at the top", "in one folder", "zipped by macOS"])
def test_get_starter_takes_any_usual_zip_layout(tmp_path, layout):
    tree = tmp_path / "tree"
    top = tree if layout == "at the top" else tree / "proj4_starter"
    write_project(top)
    (top / "data" / "train").mkdir(parents=True)  # a laptop's data and environment stay out of Drive
    (top / ".venv").mkdir()
    if layout == "zipped by macOS":  # Finder's "Compress" adds resource forks under __MACOSX/
        write_project(tree / "__MACOSX" / "proj4_starter")
        (top / ".DS_Store").write_bytes(b"\0")
    archive = zip_tree(tree, tmp_path / "starter.zip")
    content, project = tmp_path / "content", tmp_path / "content" / "drive" / "MyDrive" / "proj4"
    project.parent.mkdir(parents=True)
    content.mkdir(exist_ok=True)

    colab.get_starter(str(archive), project, content)

    assert (project / "setup.py").is_file() and (project / "proj4_code" / "__init__.py").is_file()
    assert not (project / "data").exists() and not (project / ".venv").exists()
    assert not list(project.parent.glob(".*partial")), "the partial copy is renamed, not left beside"


def test_get_starter_from_an_upload(tmp_path, monkeypatch):
    """STARTER = "": Colab's upload button (files.upload, stubbed) returns the zip the student chose."""
    import types

    write_project(tmp_path / "tree" / "my project")
    payload = zip_tree(tmp_path / "tree", tmp_path / "chosen.zip").read_bytes()
    files = types.SimpleNamespace(upload=lambda: {"proj4 (1).zip": payload})
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(files=files))
    (tmp_path / "content").mkdir()
    colab.get_starter("", tmp_path / "drive" / "proj4", tmp_path / "content")
    assert (tmp_path / "drive" / "proj4" / "proj4_code" / "__init__.py").is_file()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_get_starter_clones_a_git_url(tmp_path):
    work = write_project(tmp_path / "work")
    env = {**os.environ, "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s",
           "GIT_COMMITTER_EMAIL": "s@x"}
    for command in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "starter"]):
        subprocess.run(["git", *command], cwd=work, env=env, check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(tmp_path / "starter.git")], check=True)
    (tmp_path / "content").mkdir()
    colab.get_starter(str(tmp_path / "starter.git"), tmp_path / "drive" / "proj4", tmp_path / "content")
    assert (tmp_path / "drive" / "proj4" / "setup.py").read_text() == "# setup\n"


def test_get_starter_refuses_what_is_not_one_project(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "notes.txt").write_text("no project here")
    with pytest.raises(RuntimeError, match="holds 0 projects"):
        colab.get_starter(str(zip_tree(tmp_path / "none", tmp_path / "none.zip")), tmp_path / "p1", content)
    for name in ("a", "b"):
        write_project(tmp_path / "two" / name)
    with pytest.raises(RuntimeError, match="holds 2 projects"):
        colab.get_starter(str(zip_tree(tmp_path / "two", tmp_path / "two.zip")), tmp_path / "p2", content)
    (tmp_path / "p3").mkdir()
    (tmp_path / "p3" / "mine.txt").write_text("the student's own file")
    with pytest.raises(RuntimeError, match="holds no project"):
        colab.get_starter("", tmp_path / "p3", content)
    assert (tmp_path / "p3" / "mine.txt").is_file(), "a folder of the student's is never replaced"


def test_the_set_up_cell_carries_get_starter_as_it_is():
    import inspect

    cell = next(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if "DRIVE_FOLDER =" in c.source)
    assert inspect.getsource(colab.get_starter).strip() in cell
    assert 'os.environ.get("PROJ4_COLAB_ROOT", "/")' in cell, "one environment variable moves /content"


# -- the data, kept on Drive ---------------------------------------------------------------------------------
def test_without_data_the_set_up_says_which_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(course, "DATA_URL", "")
    with pytest.raises(RuntimeError, match="set DATA in the set-up cell"):
        colab.install_session_data(tmp_path / "project", "", tmp_path / "content" / "data")


def test_the_data_is_kept_once_and_unpacked_every_session(tmp_path, capsys):
    source = tmp_path / "course"
    source.mkdir()
    with zipfile.ZipFile(source / ARCHIVE, "w") as zf:
        for split in ("train", "test"):
            zf.writestr(f"{split}/coast/image_0001.jpg", b"jpg")
    for name in CSV_FILES:
        (source / name).write_text("coast,image_0001.jpg,0,1,0,0,1,0,0\n")
    sums = {name: data_install._sha256(source / name) for name in (ARCHIVE, *CSV_FILES)}
    project = tmp_path / "project"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data_install, "read_checksums", lambda *args: sums)
        assert colab.install_session_data(project, str(source), tmp_path / "s1" / "data") == tmp_path / "s1" / "data"
        shutil.rmtree(source)  # the source is gone: a second session needs none
        dest = colab.install_session_data(project, "", tmp_path / "s2" / "data")
    assert (dest / "train" / "coast" / "image_0001.jpg").read_bytes() == b"jpg"
    assert "nothing to download" in capsys.readouterr().out


# -- the simulated Colab -------------------------------------------------------------------------------------
class Course(QuietHandler):
    """The course's web site: serves its folder and counts what is asked for."""

    requests: list = []

    def do_GET(self):
        Course.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def course_site(tmp_path):
    """http://127.0.0.1:PORT/: the starter zip (a student's project with Parts 1-4 done, in one folder)
    and the three data files; yields the base URL."""
    from proj4_instructor import release

    site = tmp_path / "course"
    starter = tmp_path / "build" / "proj4_starter"
    release.build_student(starter)
    shutil.rmtree(starter / "proj4_code")
    shutil.copytree(REPO / "proj4_code", starter / "proj4_code", ignore=shutil.ignore_patterns("__pycache__"))
    site.mkdir()
    zip_tree(starter.parent, site / "proj4_starter.zip")
    for name in (ARCHIVE, *CSV_FILES):
        (site / name).symlink_to(SHARED_DATA / name)
    Course.requests = []
    with serve_folder(site, Course) as url:
        yield url


class Runtime:
    """One Colab runtime: a fresh virtual environment over this machine's Python (torch preinstalled), a kernel
    spec for it, google.colab imported at the kernel's start. reset() wipes it and /content, but the Drive."""

    def __init__(self, root: Path, image: Path):
        self.root, self.image = root, image
        self.content = root / "content"
        self.venv = root / "usr_local"  # Colab's /usr/local: what pip installs goes here, and a reset loses it
        self.number = 0

    def start(self) -> None:
        self.number += 1
        self.content.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(self.venv)],
                       check=True)
        site_packages = next(self.venv.glob("lib/python*/site-packages"))
        (site_packages / "google_colab_standin.pth").write_text(str(STANDIN) + "\n")
        if sys.prefix != sys.base_prefix:
            # Run from a virtual environment (README's set-up on a fresh Debian): --system-site-packages sees
            # the base interpreter's packages, not this environment's, so the runtime is given these too (as
            # plain paths: their .pth files, this repository's editable install among them, stay out).
            paths = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
            (site_packages / "outer_environment.pth").write_text("".join(f"{path}\n" for path in paths))
        kernel = self.image / "jupyter" / "kernels" / "colab"
        kernel.mkdir(parents=True, exist_ok=True)
        (kernel / "kernel.json").write_text(json.dumps({
            "argv": [str(self.venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (simulated Colab)", "language": "python"}))
        startup = self.image / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True, exist_ok=True)
        (startup / "00-colab.py").write_text("import google.colab  # as Colab's kernels do\n")

    def reset(self) -> None:
        """What a runtime reset does: everything but the Drive is gone."""
        for path in self.content.iterdir():
            if path.name != "drive":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        shutil.rmtree(self.venv)
        shutil.rmtree(self.root / "root", ignore_errors=True)  # /root: torch's cache of downloaded weights

    def run(self, cells, timeout: int = 600) -> list:
        """Run the cells in a new kernel, in /content; stops at a cell that raises or kills the kernel.
        Returns [(cell, seconds)] of the cells run."""
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, DeadKernelError

        notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "colab", "display_name": "colab",
                                                                     "language": "python"}})
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        client = NotebookClient(notebook, kernel_name="colab", timeout=timeout,
                                resources={"metadata": {"path": str(self.content)}})
        ran = []
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                start = time.perf_counter()
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    ran.append((cell, time.perf_counter() - start))
                    break
                except CellExecutionError:
                    ran.append((cell, time.perf_counter() - start))
                    raise
                ran.append((cell, time.perf_counter() - start))
        return ran


def text_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def calls(root: Path, name: str) -> list:
    log = root / "colab_calls.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    return [entry for entry in map(json.loads, lines) if entry["call"] == name]


def notebook_cells(data_url: str, starter_url: str) -> dict:
    """The notebook's code cells a student runs for Part 1 and the submission, by role, with the settings a
    student fills in: the set-up's STARTER and DATA (from the course page), the username."""
    code = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    setup = next(s for s in code if "DRIVE_FOLDER =" in s)
    filled = setup.replace('STARTER = ""', f"STARTER = {starter_url!r}").replace('DATA = ""', f"DATA = {data_url!r}")
    assert filled.count("127.0.0.1") == 2, "the set-up cell's STARTER and DATA settings have moved"
    imports = next(i for i, s in enumerate(code) if "%autoreload" in s)
    hparams = next(i for i, s in enumerate(code) if s.startswith("# Part 1 hyper-parameters"))
    saved = next(i for i, s in enumerate(code) if "save_trained_model_weights(simple_net." in s)
    submission = next(s for s in code if s.startswith("GT_USERNAME"))
    report = next(s for s in code if "nb.make_report(" in s)
    return {"setup": filled, "imports": code[imports], "checks": code[imports + 1:hparams],
            "hparams": code[hparams], "training": code[hparams + 1], "after_training": code[hparams + 2:saved + 1],
            "submission": submission.replace('GT_USERNAME = ""', 'GT_USERNAME = "gburdell3"'),
            "report": report.replace('GT_USERNAME = ""', 'GT_USERNAME = "gburdell3"')}


DIE_AFTER_EPOCH_1 = """
# Not the notebook's: the simulated runtime dies right after training has checkpointed epoch 1.
import os
from proj4_lib.trainer import TrainerBase

_save_model = TrainerBase.save_model


def _save_then_die(self):
    path = _save_model(self)
    if self.epoch == 1:
        os._exit(1)
    return path


TrainerBase.save_model = _save_then_die
"""


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_runtime_reset_loses_nothing(tmp_path, course_site, monkeypatch):
    if not (SHARED_DATA / ARCHIVE).is_file():
        message = f"the course's data files are not in {SHARED_DATA}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from proj4_lib.parts import get_part

    root, image = tmp_path / "colab", tmp_path / "image"
    for name in ("PYTHONPATH", "MPLBACKEND", "PROJ4_DATA_DIR", "PROJ4_DATA_SOURCE", "PROJ4_BACKBONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROJ4_COLAB_ROOT", str(root))
    monkeypatch.setenv("PROJ4_QUICK", "1")
    monkeypatch.setenv("JUPYTER_PATH", str(image / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(image / "ipython"))
    monkeypatch.setenv("TORCH_HOME", str(root / "root" / ".cache" / "torch"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    cells = notebook_cells(course_site + "/", course_site + "/proj4_starter.zip")
    project = root / "content" / "drive" / "MyDrive" / "proj4"
    runtime = Runtime(root, image)
    if not all((REPO / "model_output" / get_part(p).checkpoint).is_file() for p in ("simple_net", "my_resnet")):
        message = "the trained models are not in model_output/ (proj4 train all)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)

    # -- the first session: set-up, Part 1's checks, an edit on Drive; the runtime dies in training ------------
    runtime.start()
    source = project / "proj4_code" / "simple_net.py"
    edit = '\nSTUDENT_EDIT = "made in Colab\'s file browser"\n'
    edit_on_drive = (f"# Not the notebook's: the student edits a file on Drive\n"
                     f"with open({str(source)!r}, 'a') as f:\n"
                     f"    f.write({edit!r})")
    first = runtime.run([cells["setup"], cells["imports"], *cells["checks"], edit_on_drive, cells["hparams"],
                         DIE_AFTER_EPOCH_1, cells["training"]])
    setup_seconds = {1: first[0][1]}
    assert len(first) == 2 + len(cells["checks"]) + 4, "a cell before training failed"
    assert "The starter is in" in text_of(first[0][0]), text_of(first[0][0])
    assert f"Hello from proj4_code in {project / 'proj4_code'}" in text_of(first[1][0]), "not the Drive's code"
    verdicts = [line for cell, _ in first[2:] for line in text_of(cell).splitlines()
                if line == "Correct" or line.startswith(("Wrong", "Not implemented"))]
    assert len(verdicts) == len(cells["checks"]) and set(verdicts) == {"Correct"}, verdicts
    checkpoint = project / "model_output_quick" / "checkpoints" / "simple_net" / "checkpoint.pt"
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 1, "epoch 1's checkpoint is on Drive"

    # -- the reset: /content and the runtime's packages are gone, the Drive is not -----------------------------
    runtime.reset()
    assert sorted(p.name for p in (root / "content").iterdir()) == ["drive"]
    downloads_before = list(Course.requests)
    runtime.start()

    # -- the second session: the set-up cell again, Part 1 with resume=True, the submission ----------------------
    (project / "model_output").mkdir(exist_ok=True)
    for part in ("simple_net", "simple_net_final", "my_resnet", "multilabel_resnet"):  # as if trained on Colab
        shutil.copy(REPO / "model_output" / get_part(part).checkpoint, project / "model_output")
    resumed_hparams = cells["hparams"].replace("resume=False", "resume=True")
    assert resumed_hparams != cells["hparams"]
    edit_check = ("# Not the notebook's: the edit is there\n"
                  "from proj4_code.simple_net import STUDENT_EDIT\nprint(STUDENT_EDIT)")
    second = runtime.run([cells["setup"], cells["imports"], *cells["checks"], edit_check, resumed_hparams,
                          cells["training"], *cells["after_training"], cells["submission"], cells["report"]])
    setup_seconds[2] = second[0][1]
    outputs = [text_of(cell) for cell, _ in second]
    assert len(second) == 2 + len(cells["checks"]) + 3 + len(cells["after_training"]) + 2, outputs[-1]
    assert "nothing to download" in outputs[0] and "The starter is in" not in outputs[0], outputs[0]
    after_checks = 2 + len(cells["checks"])
    assert edit.strip() in source.read_text()
    assert "made in Colab's file browser" in outputs[after_checks], "the kernel imports the edited file from Drive"
    trained = outputs[after_checks + 2]
    assert f"Resumed from {checkpoint} after epoch 1" in trained, trained
    assert "Epoch 2/2" in trained and "Epoch 1/2" not in trained, trained

    # Downloads: the starter and each data file once, over both sessions.
    data_requests = [path for path in Course.requests if path.lstrip("/") in (ARCHIVE, *CSV_FILES)]
    assert sorted(data_requests) == sorted(f"/{name}" for name in (ARCHIVE, *CSV_FILES)), Course.requests
    assert Course.requests == downloads_before, (
        f"the second session downloaded {Course.requests[len(downloads_before):]}")
    assert Course.requests.count("/proj4_starter.zip") == 1

    # The submission: written to Drive, offered for download.
    submission = project / "gburdell3.zip"
    assert submission.is_file()
    with zipfile.ZipFile(submission) as zf:
        assert edit.strip() in zf.read("proj4_code/simple_net.py").decode()
        assert {f"model_output/{get_part(p).checkpoint}" for p in ("simple_net", "my_resnet")} <= set(zf.namelist())
    report_pdf = project / "gburdell3_proj4.pdf"
    assert calls(root, "files.download") == [{"call": "files.download", "path": str(path), "exists": True}
                                             for path in (submission, report_pdf)]
    assert [c["mountpoint"] for c in calls(root, "drive.mount")] == [str(root / "content" / "drive")] * 2

    # Colab's torch was kept: nothing the notebook installed is a torch.
    installed = {p.name.split("-")[0].lower() for p in runtime.venv.glob("lib/python*/site-packages/*.dist-info")}
    assert "proj4" in installed and not installed & {"torch", "torchvision"}, installed
    print(f"set-up cell: {setup_seconds[1]:.0f} s the first time, {setup_seconds[2]:.0f} s after the reset")
    assert setup_seconds[2] < 60, f"the set-up after a reset took {setup_seconds[2]:.0f} s"

    # The report (the notebook's last cell): the run record and the PDF are on Drive, and the PDF carries the record
    # of the resumed training and of the checkpoint saved.
    from proj4_lib import report, rubric, run_record

    record_file = project / "model_output_quick" / run_record.NAME
    record = run_record.read(record_file)
    saved = record["parts"]["simple_net"]["checkpoint"]
    assert saved["sha256"] == hashlib.sha256((project / "model_output_quick" / saved["file"]).read_bytes()).hexdigest()
    assert record["parts"]["simple_net"]["epochs"] == 2
    assert report.read_embedded(report_pdf)["record"] == record
    assert f"{len(rubric.ITEMS)} pages" in outputs[-1], outputs[-1]

    # After one more reset (the data and the runtime gone), the report is made again from Drive alone.
    runtime.reset()
    assert record_file.is_file() and report_pdf.is_file() and not (root / "content" / "data").exists()
    again = subprocess.run([sys.executable, "-m", "proj4_tools.cli", "report", "--gt_username", "gburdell3", "--record",
                            str(record_file), "--out", str(project / "after_reset")], cwd=project, capture_output=True,
                           text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(project), "MPLBACKEND": "Agg"})
    assert again.returncode == 0, again.stderr
    assert report.read_embedded(project / "after_reset" / "gburdell3_proj4.pdf")["record"] == record
