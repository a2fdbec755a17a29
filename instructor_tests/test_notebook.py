"""The student notebook: committed clean and current, its checks and helpers, and a full quick-mode run.

The run (marked slow) executes notebooks/proj4.ipynb with PROJ4_QUICK=1 from notebooks/, as a
student would, on an in-memory copy; CI runs it after training the real models into model_output/,
which the run must leave alone.
"""
import ast
import csv
from pathlib import Path

import nbformat
import pytest
import torch

import proj4_tools.notebook_checks as check
import proj4_tools.notebook_helpers as nb
from proj4_instructor.make_notebook import render
from proj4_lib.parts import PARTS
from proj4_lib.utils import verify

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO_ROOT / "notebooks" / "proj4.ipynb"


def _read_notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


# -- the committed file ------------------------------------------------------------------------------
def test_committed_notebook_is_the_generators_output():
    assert NOTEBOOK.read_text() == render(), (
        f"{NOTEBOOK} differs from proj4_instructor/make_notebook.py: run python -m proj4_instructor.make_notebook")


def test_committed_notebook_has_no_outputs_and_minimal_metadata():
    notebook = _read_notebook()
    nbformat.validate(notebook)
    assert dict(notebook.metadata) == {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                      "name": "python3"}}, notebook.metadata
    for index, cell in enumerate(notebook.cells):
        assert cell.metadata == {}, f"cell {index} has metadata {cell.metadata}"
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs"
            assert cell.execution_count is None, f"cell {index} has execution_count {cell.execution_count}"


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_hyperparameter_defaults_are_the_recipes(part):
    header = f"# Part {part.number} hyper-parameters"
    cells = [c.source for c in _read_notebook().cells if c.source.startswith(header)]
    assert len(cells) == 1, f"expected one cell starting with {header!r}, found {len(cells)}"
    call = next(node for node in ast.walk(ast.parse(cells[0])) if isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "dict")
    values = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    recipe = part.recipe
    expected = {"epochs": recipe.epochs, "batch_size": recipe.batch_size, "lr": recipe.lr,
                "weight_decay": recipe.weight_decay, "inp_size": (part.inp_size, part.inp_size), "resume": False}
    assert values == expected


def test_every_check_the_notebook_calls_exists():
    calls = [node.attr for cell in _read_notebook().cells if cell.cell_type == "code"
             for node in ast.walk(ast.parse("\n".join(line for line in cell.source.splitlines()
                                                      if not line.startswith("%"))))
             if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "check"]
    assert len(calls) >= 18, f"only {len(calls)} checks in the notebook"
    assert [name for name in calls if not callable(getattr(check, name, None))] == []


# -- the checks: Correct on the reference, never an exception ------------------------------------------
STUBS = [  # (check, module, attribute to replace with a NotImplementedError stub)
    ("compute_mean_and_std", "proj4_code.stats_helper", "compute_mean_and_std"),
    ("fundamental_transforms", "proj4_code.data_transforms", "get_fundamental_transforms"),
    ("fundamental_normalization_transforms", "proj4_code.data_transforms", "get_fundamental_normalization_transforms"),
    ("simple_net", "proj4_code.simple_net", "SimpleNet.__init__"),
    ("compute_accuracy", "proj4_code.dl_utils", "compute_accuracy"),
    ("compute_loss", "proj4_code.dl_utils", "compute_loss"),
    ("get_optimizer", "proj4_code.optimizer", "get_optimizer"),
    ("trainer", "proj4_code.runner", "Trainer.train_epoch"),
    ("fundamental_augmentation_transforms", "proj4_code.data_transforms", "get_fundamental_augmentation_transforms"),
    ("all_transforms", "proj4_code.data_transforms", "get_all_transforms"),
    ("simple_net_final", "proj4_code.simple_net_final", "SimpleNetFinal.forward"),
    ("confusion_matrix", "proj4_code.confusion_matrix", "generate_confusion_matrix"),
    ("my_resnet", "proj4_code.my_resnet", "MyResNet18.forward"),
    ("multilabel_resnet", "proj4_code.multilabel_resnet", "MultilabelResNet18.__init__"),
    ("compute_multilabel_accuracy", "proj4_code.dl_utils", "compute_multilabel_accuracy"),
    ("accuracy_table", "proj4_code.confusion_matrix", "generate_accuracy_table"),
]


def _replace(monkeypatch, module: str, attribute: str, replacement) -> None:
    import importlib

    owner = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    monkeypatch.setattr(owner, name, replacement)


def _run(name: str) -> str:
    function = getattr(check, name)
    # The backbone checks build the architecture only; efficientnet_lite0 needs no download.
    if name in ("my_resnet", "multilabel_resnet"):
        return verify(lambda: function("efficientnet_lite0"))
    return verify(function)


@pytest.mark.parametrize("name", [stub[0] for stub in STUBS])
def test_check_is_correct_on_the_reference(name):
    assert _run(name) == "Correct"


@pytest.mark.parametrize("name, module, attribute", STUBS, ids=[stub[0] for stub in STUBS])
def test_check_reports_a_stub_as_not_implemented(monkeypatch, name, module, attribute):
    def stub(*args, **kwargs):
        raise NotImplementedError(attribute)

    _replace(monkeypatch, module, attribute, stub)
    assert _run(name) == "Not implemented yet"


WRONG = [  # (check, module, attribute, a plausible mistake)
    ("compute_accuracy", "proj4_code.dl_utils", "compute_accuracy",
     lambda logits, labels: (logits.argmax(dim=1) == labels).float().sum().item()),
    ("compute_multilabel_accuracy", "proj4_code.dl_utils", "compute_multilabel_accuracy",
     lambda probs, labels: ((probs > 0.5).float() == labels).float().mean().item()),
    ("compute_mean_and_std", "proj4_code.stats_helper", "compute_mean_and_std", lambda folder: (0.5, 0.25)),
    ("confusion_matrix", "proj4_code.confusion_matrix", "generate_confusion_matrix",
     lambda targets, preds, num_classes, normalize=True: torch.zeros(num_classes, num_classes).numpy()),
    ("trainer", "proj4_code.runner", "Trainer.train_epoch", lambda self: (0.0, 0.0)),
]


@pytest.mark.parametrize("name, module, attribute, mistake", WRONG, ids=[w[0] for w in WRONG])
def test_check_reports_a_mistake_as_wrong(monkeypatch, name, module, attribute, mistake):
    _replace(monkeypatch, module, attribute, mistake)
    assert _run(name).startswith("Wrong: ")


# -- helpers ---------------------------------------------------------------------------------------------
def test_quick_hparams_shrinks_epochs_only_in_quick_mode(monkeypatch):
    hparams = {"epochs": 30, "lr": 0.003}
    monkeypatch.delenv("PROJ4_QUICK", raising=False)
    assert nb.quick_hparams(hparams) == hparams
    monkeypatch.setenv("PROJ4_QUICK", "1")
    assert nb.quick_hparams(hparams) == {"epochs": nb.QUICK_EPOCHS, "lr": 0.003}


def test_repo_root_is_found_from_notebooks_and_from_elsewhere(tmp_path):
    assert nb.repo_root(REPO_ROOT / "notebooks") == REPO_ROOT
    assert nb.repo_root(tmp_path) == REPO_ROOT  # falls back to where proj4_code is installed from


def test_quick_setup_copies_a_few_images_per_class_and_their_attribute_rows(tmp_path):
    data = tmp_path / "data"
    rows = {"train": [], "test": []}
    for split in ("train", "test"):
        for class_name in ("coast", "kitchen"):
            (data / split / class_name).mkdir(parents=True)
            for i in range(10):
                (data / split / class_name / f"image_{i:04d}.jpg").write_bytes(b"jpg")
                if class_name == "coast":
                    rows[split].append([class_name, f"image_{i:04d}.jpg", *"0101010"])
        with open(data / f"scene_attributes_{split}.csv", "w", newline="") as f:
            csv.writer(f).writerows(rows[split])

    earlier = tmp_path / "quick" / "checkpoints" / "simple_net" / "checkpoint.pt"  # left by an earlier run
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"epoch 1")
    (tmp_path / "quick" / "data" / "train" / "stale").mkdir(parents=True)

    subset, out = nb.quick_setup(data, tmp_path / "quick")

    assert out == tmp_path / "quick" and subset == out / "data"
    assert earlier.read_bytes() == b"epoch 1", "resume=True continues a quick run too (the simulated Colab's)"
    assert not (subset / "train" / "stale").exists(), "the subset is made afresh"
    for split, count in nb.QUICK_IMAGES_PER_CLASS.items():
        for class_name in ("coast", "kitchen"):
            assert len(list((subset / split / class_name).iterdir())) == count
        with open(subset / f"scene_attributes_{split}.csv", newline="") as f:
            kept = list(csv.reader(f))
        assert kept == rows[split][:count], f"{split}: the CSV should keep the rows of the copied images only"


def test_data_dir_is_the_projects_unless_the_colab_set_up_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("PROJ4_DATA_DIR", raising=False)
    assert nb.data_dir(tmp_path) == tmp_path / "data"
    monkeypatch.setenv("PROJ4_DATA_DIR", str(tmp_path / "content" / "data"))  # what colab.start_session sets
    assert nb.data_dir(tmp_path) == tmp_path / "content" / "data"


def test_most_confused_pair_ignores_the_diagonal():
    confusion = [[0.9, 0.02, 0.08], [0.3, 0.6, 0.1], [0.0, 0.05, 0.95]]
    assert nb.most_confused_pair(confusion) == (1, 0)


# -- the whole notebook, headless, in quick mode --------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_notebook_runs_top_to_bottom_in_quick_mode(quick_notebook_run):
    """The run itself is the session's fixture (conftest.py), shared with test_report.py."""
    from proj4_code.dl_utils import load_trained_model

    notebook = quick_notebook_run["notebook"]
    assert NOTEBOOK.read_bytes() == quick_notebook_run["committed"], "executing must not change the committed notebook"
    assert quick_notebook_run["model_output_after"] == quick_notebook_run["model_output"], \
        "quick mode must not touch model_output/"
    for part in PARTS:
        path = REPO_ROOT / "model_output_quick" / part.checkpoint
        assert type(load_trained_model(path, expected_class=part.class_name)).__name__ == part.class_name

    verdicts = [output.text.strip() for cell in notebook.cells if cell.cell_type == "code" and "verify(" in cell.source
                for output in cell.outputs if output.output_type == "stream" and output.name == "stdout"]
    verify_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and "verify(" in cell.source]
    assert len(verdicts) == len(verify_cells) and set(verdicts) == {"Correct"}, verdicts
    plots = sum(1 for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
                if "image/png" in output.get("data", {}))
    # 2 curves per part, 2 confusion matrices, the misclassified images, the attribute table.
    assert plots >= 4 * 2 + 2 + 1 + 1, f"only {plots} figures were shown"
