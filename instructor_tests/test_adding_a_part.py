"""README's "Adding a part", proven: a toy fifth part, one model module and one entry in
proj4_lib.parts.PARTS and nothing else, is picked up by the notebook generator (whose training cell
then runs), `proj4 train`, the zip tool, the release's trusted part list (the autograder's config)
and the public accuracy tests.
"""
import ast
import importlib.util
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch

from proj4_instructor import make_notebook, release
from proj4_lib import parts
from proj4_lib.fixtures import class_tree
from proj4_tools import cli
from proj4_tools.models import build_model

REPO = Path(__file__).resolve().parents[1]
TOY_MODULE = textwrap.dedent('''\
    """A toy part: a linear classifier over 4 x 4 average-pooled images, and its registry entry."""
    from torch import nn

    from proj4_lib.parts import Notebook, Part, Recipe


    class ToyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_layers = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten())
            self.fc_layers = nn.Sequential(nn.Linear(16, 3))
            self.loss_criterion = nn.CrossEntropyLoss()

        def forward(self, x):
            return self.fc_layers(self.conv_layers(x))


    PART = Part(
        5, "toy_net", "ToyNet", "toy_part", task="single", outputs=3, backbone=False, design="fixed", trainer="Trainer",
        threshold=0.0, inp_size=16,
        recipe=Recipe(epochs=2, batch_size=8, lr=0.05, weight_decay=0.0, augment=False, normalize=False,
                      optimizer="sgd", schedule="one_cycle"),
        notebook=Notebook(what="a toy linear classifier", intro="A toy part.", todos=(), notes="", checks=(),
                          training="Two epochs of SGD."),
        tests=(), reference_accuracy=0.5, cpu_minutes=0.1, bench_target=(0.0, 10))
''')
# Loaded by the pytest run of the accuracy tests, before they are collected.
TOY_PLUGIN = "import toy_part\nfrom proj4_lib import parts\n\nparts.PARTS = (*parts.PARTS, toy_part.PART)\n"


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy part registered; returns the folder of its module (tmp_path/toy) and a tiny 3-class dataset."""
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "toy_part.py").write_text(TOY_MODULE)
    (folder / "toy_plugin.py").write_text(TOY_PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop("toy_part", None)
    import toy_part

    monkeypatch.setattr(parts, "PARTS", (*parts.PARTS, toy_part.PART))
    class_tree(tmp_path / "data", ("a", "b", "c"), 4)
    return folder


def test_the_notebook_gets_the_part_and_its_training_cell_runs(toy, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import toy_part

    import proj4_tools.notebook_helpers as nb
    from proj4_lib.utils import reset_seed

    notebook = [cell.source for cell in make_notebook.cells()]
    assert "5. **ToyNet**, a toy linear classifier (at least 0% test accuracy)" in notebook[0]
    section = [cell.source for cell in make_notebook.part_cells(toy_part.PART)]
    start = notebook.index(section[0])
    assert notebook[start:start + len(section)] == section
    assert notebook[start + len(section)].startswith("## Submission")
    assert section[0].startswith("## Part 5: ToyNet\n\nA toy part.")
    hparams = next(source for source in section if source.startswith("# Part 5 hyper-parameters"))
    call = next(node for node in ast.walk(ast.parse(hparams)) if isinstance(node, ast.Call))
    assert {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords} == {
        "epochs": 2, "batch_size": 8, "lr": 0.05, "weight_decay": 0.0, "inp_size": (16, 16), "resume": False}
    training = next(source for source in section if "run_training_loop" in source)
    for line in ("from toy_part import ToyNet", '"optimizer_type": "sgd"', "trainer5 = Trainer(",
                 'scheduler_factory=one_cycle(part5["lr"], part5["epochs"])'):
        assert line in training, f"{line!r} is not in the training cell:\n{training}"

    # Run the part's code cells as the notebook would, on the tiny dataset.
    monkeypatch.delenv("PROJ4_QUICK", raising=False)
    namespace = {"DATA_DIR": tmp_path / "data", "OUT_DIR": tmp_path / "out", "DEVICE": torch.device("cpu"),
                 "nb": nb, "plt": plt, "reset_seed": reset_seed}
    code = [cell.source for cell in make_notebook.part_cells(toy_part.PART) if cell.cell_type == "code"]
    for source in code:
        exec(compile(source, "<a cell of Part 5>", "exec"), namespace)
    plt.close("all")
    assert namespace["trainer5"].epoch == 2
    assert (tmp_path / "out" / "trained_ToyNet_final.pt").is_file()


def test_proj4_train_trains_it(toy, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["train", "toy_net", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--device", "cpu",
                     "--no-progress"]) == 0
    assert (out / "trained_ToyNet_final.pt").is_file() and "ToyNet: test accuracy" in capsys.readouterr().out


def _zip_submission():
    spec = importlib.util.spec_from_file_location("zip_submission", REPO / "zip_submission.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_zip_tool_wants_its_checkpoint(toy, tmp_path):
    from proj4_code.dl_utils import save_trained_model_weights

    zs = _zip_submission()
    project = tmp_path / "project"
    (project / "proj4_code").mkdir(parents=True)
    for name in ("proj4_code/__init__.py", "setup.py"):
        (project / name).write_text("# provided\n")
    for part in parts.PARTS[:-1]:
        save_trained_model_weights(build_model(part.name, backbone="efficientnet_lite0", pretrained=False),
                                   project / "model_output")
    with pytest.raises(zs.SubmissionError) as err:
        zs.build_zip(project, "gburdell3")
    assert "trained_ToyNet_final.pt is missing" in str(err.value) and "proj4 train toy_net" in str(err.value)
    assert "Part 5" in str(err.value) and "SimpleNet" not in str(err.value)

    save_trained_model_weights(build_model("toy_net"), project / "model_output")
    with zipfile.ZipFile(zs.build_zip(project, "gburdell3")) as archive:
        assert "model_output/trained_ToyNet_final.pt" in archive.namelist()


def test_the_release_gives_the_autograder_the_part(toy):
    """The autograder's config lists the part with the facts it grades by (at least these)."""
    expected = {"class_name": "ToyNet", "module": "toy_part", "checkpoint": "trained_ToyNet_final.pt", "task": "single",
                "outputs": 3, "backbone": False, "inp_size": 16, "normalize": False, "threshold": 0.0, "floor": -0.15}
    toy_entry = release.trusted_parts()[-1]
    assert {key: toy_entry.get(key) for key in expected} == expected
    assert [p["class_name"] for p in release.trusted_parts()] == [p.class_name for p in parts.PARTS]


def test_the_accuracy_tests_grade_its_checkpoint(toy, tmp_path):
    models = tmp_path / "models"
    assert cli.main(["train", "toy_net", "--data-dir", str(tmp_path / "data"), "--out", str(models),
                     "--device", "cpu", "--no-progress"]) == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy), str(REPO)]), "PROJ4_DATA_DIR": str(tmp_path / "data"),
           "PROJ4_MODEL_DIR": str(models), "MPLBACKEND": "Agg"}
    env.pop("CI", None)  # the real parts' checkpoints are not in `models`: skipped, as on a student's machine
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "toy_plugin", "-p", "no:cacheprovider", "-q", "-s",
                           "-rA", str(REPO / "proj4_unit_tests" / "test_accuracy.py")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert "PASSED proj4_unit_tests/test_accuracy.py::test_checkpoint_accuracy[ToyNet]" in done.stdout, done.stdout
    assert "ToyNet: test accuracy" in done.stdout and "(threshold 0.0)" in done.stdout
    assert "4 skipped" in done.stdout, done.stdout
