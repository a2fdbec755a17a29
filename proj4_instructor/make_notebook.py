"""Generate the student notebook notebooks/proj4.ipynb.

The notebook is written from the cells below, never edited by hand, so it stays small in diffs
(no outputs, no execution counts, ids derived from each cell's text, kernelspec as the only
metadata). Each part's section is rendered from its entry in the parts registry
(proj4_lib/parts.py): its text, TODO table and checks (Part.notebook), thresholds and estimates,
hyper-parameter defaults, and one training cell from its recipe (transforms, optimizer, schedule,
trainer). Regenerate after changing either and commit the result:

    python -m proj4_instructor.make_notebook            # writes notebooks/proj4.ipynb
    python -m proj4_instructor.make_notebook --check    # exit 1 if the committed file is stale

instructor_tests/test_notebook.py checks the committed file is current and executes it.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import nbformat

from proj4_lib import parts
from proj4_lib.parts import Part, check_call

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO_ROOT / "notebooks" / "proj4.ipynb"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str):
    return nbformat.v4.new_code_cell(text.strip("\n"))


# -- the parts of the notebook that are the same whatever the parts are -------------------------------
def intro_cells() -> List:
    return [md("""
# Project 4: Scene Recognition with Deep Learning

The parts, each a model for the 15-Scene dataset (15 classes; 2,985 training and 1,500 test images):

""" + part_list() + """

You write code in the `.py` files of `proj4_code/`, never in this notebook: each part below says which
TODOs to complete, and a check cell after each piece prints `Correct`, `Wrong: <what>` or
`Not implemented yet`. The unit tests check more: `pytest proj4_unit_tests` in the project folder.
The notebook reloads your modules automatically when you save them.

At the end, `python zip_submission.py --gt_username <your username>` packs your code and the trained
model of every part (saved into `model_output/` by this notebook) for Gradescope.
""")]


def part_list() -> str:
    """The intro's list of parts, thresholds from the registry."""
    return "\n".join(f"{p.number}. **{p.class_name}**, {p.notebook.what} (at least {p.threshold:.0%} test accuracy"
                     + (", element-wise)" if p.multilabel else ")") for p in parts.PARTS)


def setup_cells() -> List:
    return [
        md("""
## Part 0: Setup

**On your computer**, once, in the project folder: `pip install -e \".[offline,notebook]\"` then
`proj4 data install`.
Start Jupyter and open this notebook from `notebooks/`. The next cell does nothing outside Colab.

**On Colab** (Runtime > Change runtime type > GPU), fill in the two settings of the next cell and run it:

* `REPO_SOURCE`, where the project comes from, one of
  * the clone URL of your *private* fork of the project, e.g. `https://github.com/<you>/proj4.git`;
  * the Drive path of a package made on your computer with `python zip_submission.py --package-for-colab`
    (it writes `proj4_colab.zip`; upload it to Drive), e.g. `/content/drive/MyDrive/proj4_colab.zip`;
  * `""`: an upload button appears; choose `proj4_colab.zip`.
* `DATA_SOURCE`: the data URL from the course page, or a Drive folder holding `proj4_data.zip`,
  `scene_attributes_train.csv` and `scene_attributes_test.csv`.

The cell installs the project into `/content/proj4` with `pip install -e .` (Colab's own torch is kept),
installs the data with `proj4 data install --from DATA_SOURCE`, and caches the ImageNet ResNet-18 weights
for the pretrained parts. Edit your code in Colab's file browser under `/content/proj4/proj4_code/`. Colab
forgets everything when the runtime stops: copy your `.py` files back (or push them to your fork) and make
the submission zip at the end of this notebook before you leave.
"""),
        code("""
# Colab only: get the project and the data (see above). Outside Colab this cell does nothing.
import sys

REPO_SOURCE = ""  # clone URL of your fork, or Drive path of proj4_colab.zip; "" shows an upload button
DATA_SOURCE = ""  # data URL from the course page, or a Drive folder with proj4_data.zip and the two CSVs

if "google.colab" in sys.modules:
    import os
    import subprocess
    import zipfile
    from pathlib import Path

    if "/content/drive" in REPO_SOURCE + DATA_SOURCE:
        from google.colab import drive
        drive.mount("/content/drive")
    repo = Path("/content/proj4")
    if not (repo / "setup.py").is_file():
        if REPO_SOURCE and not REPO_SOURCE.endswith(".zip"):
            subprocess.run(["git", "clone", "--depth", "1", REPO_SOURCE, str(repo)], check=True)
        else:
            from google.colab import files
            archive = REPO_SOURCE or next(iter(files.upload()))  # an upload lands in the current folder
            zipfile.ZipFile(archive).extractall(repo)
    # Colab's torch already satisfies setup.py (torch>=2.1), so pip leaves it alone.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{repo}[offline]"], check=True)
    sys.path.insert(0, str(repo))  # this kernel started before the install
    os.chdir(repo / "notebooks")

    from proj4_lib.backbones import PretrainedWeightsUnavailable, load_backbone
    from proj4_lib.cli import main as proj4

    if proj4(["data", "install", "--from", DATA_SOURCE, "--dest", str(repo / "data")]) != 0:
        raise RuntimeError("proj4 data install failed (see the message above): check DATA_SOURCE")
    try:
        load_backbone("resnet18", pretrained=True)  # downloads the ImageNet weights into torch's cache
    except PretrainedWeightsUnavailable as err:
        print(f"The pretrained parts will use the offline backbone efficientnet_lite0: {err}")
"""),
        code("""
%load_ext autoreload
%autoreload 2

import matplotlib.pyplot as plt

import proj4_lib.notebook_checks as check
import proj4_lib.notebook_helpers as nb
from proj4_code import hello
from proj4_lib.utils import pick_device, reset_seed, tune_cpu_allocator, verify

print(hello())
DEVICE = pick_device()  # CUDA, then Apple MPS, then the CPU
tune_cpu_allocator()  # on a Linux CPU, epochs about a third faster (see proj4_lib/utils.py)
print(f"Using device: {DEVICE}")

QUICK = nb.quick_mode()  # PROJ4_QUICK=1: CI's smoke test on a few images; never submit its results
REPO = nb.repo_root()
DATA_DIR = REPO / "data"
OUT_DIR = REPO / "model_output"  # zip_submission.py takes every part's trained_*_final.pt from here
if QUICK:
    DATA_DIR, OUT_DIR = nb.quick_setup(DATA_DIR, REPO / "model_output_quick")
nb.describe_data(DATA_DIR);
"""),
    ]


def submission_cells() -> List:
    return [
        md("""
## Submission

In the project folder: `python zip_submission.py --gt_username <your GT username>`. It checks that the model
of every part in `model_output/` loads, and writes `<username>.zip` with your `proj4_code/` and the models;
upload it to Gradescope. On Colab, fill in your username below and run the cell: it makes the zip and
downloads it.
"""),
        code("""
GT_USERNAME = ""  # e.g. "gburdell3"
if GT_USERNAME:
    nb.make_submission(GT_USERNAME)
"""),
    ]


# -- one part, rendered from its registry entry ------------------------------------------------------
def part_cells(part: Part) -> List:
    """Heading and TODOs, the checks, training, the analyses, saving: everything the notebook does for a part."""
    cells = [md(heading(part))]
    if part.backbone and part is next(p for p in parts.PARTS if p.backbone):
        cells.append(code(BACKBONE_CELL))  # the first part with a backbone chooses it for all of them
    for number, (title, checks) in enumerate(part.notebook.checks, start=1):
        cells.append(md(f"### {part.number}.{number} {title}"))
        cells += [code(check_cell(text)) for text in checks]
    cells += training_cells(part, len(part.notebook.checks) + 1)
    for analysis in part.notebook.after_training:
        cells += ANALYSES[analysis](part)
    cells.append(code(f'print("Saved", save_trained_model_weights({part.name}.cpu(), OUT_DIR))'))
    return cells


def heading(part: Part) -> str:
    rows = "\n".join(f"| `{file}` | {todo_names(functions)} |" for file, functions in part.notebook.todos)
    tests = ", ".join(f"`{name}`" for name in part.tests)
    notes = f"\n\n{part.notebook.notes}" if part.notebook.notes else ""
    return (f"## Part {part.number}: {part.class_name}\n\n{part.notebook.intro}\n\n"
            f"| module in `proj4_code/` | TODOs |\n|---|---|\n{rows}{notes}\n\n"
            f"The unit tests of this part (in `proj4_unit_tests/`): {tests}.")


def todo_names(functions: Sequence[str]) -> str:
    """("ImageLoader.get_classes", "ImageLoader.__len__") -> "`ImageLoader`: `get_classes`, `__len__`"."""
    groups: Dict[str, List[str]] = {}
    for function in functions:
        owner, _, name = function.rpartition(".")
        groups.setdefault(owner, []).append(name)
    return "; ".join((f"`{owner}`: " if owner else "") + ", ".join(f"`{name}`" for name in names)
                     for owner, names in groups.items())


BACKBONE_CELL = """
from proj4_lib.backbones import default_backbone

BACKBONE = default_backbone()
print(f"Backbone of the pretrained parts: {BACKBONE}")
"""


def check_cell(text: str) -> str:
    name, argument = check_call(text)
    # The semicolon keeps Jupyter from echoing the verdict verify has already printed.
    return f"verify(lambda: check.{name}({argument}));" if argument else f"verify(check.{name});"


def training_cells(part: Part, number: int) -> List:
    n = part.number
    return [
        md(f"### {n}.{number} Training\n\n{part.notebook.training}"),
        code(hparams(part)),
        code(training_cell(part)),
        md("Loss and accuracy per epoch (for your report):"),
        code(f"trainer{n}.plot_loss_history()\ntrainer{n}.plot_accuracy()\nplt.show()"),
        code(f"nb.report_accuracy(trainer{n});"),
    ]


def hparams(part: Part) -> str:
    """The hyper-parameter cell of a part, with the defaults of its recipe in the registry."""
    recipe, size, n = part.recipe, (part.inp_size, part.inp_size), part.number
    lines = [
        ("epochs", recipe.epochs, "passes over the training set"),
        ("batch_size", recipe.batch_size, "images per optimizer step"),
        ("lr", recipe.lr, f"peak learning rate of the {recipe.schedule.replace('_', '-')} schedule "
                          f"({recipe.optimizer})"),
        ("weight_decay", recipe.weight_decay, "L2 penalty on the weights"),
        ("inp_size", size, "images are resized to (H, W)"),
        ("resume", False, "True: continue this part's last checkpoint (same values), e.g. after a disconnect"),
    ]
    body = "\n".join(f"    {key + '=' + repr(value) + ',':<26}# {comment}" for key, value, comment in lines)
    note = f"\n# {part.notebook.hparams_note}" if part.notebook.hparams_note else ""
    return (f"# Part {n} hyper-parameters. Defaults: the reference recipe of {part.name!r} in proj4_lib/parts.py;\n"
            f"# {part.estimate()}.{note}\n"
            f"part{n} = dict(\n{body}\n)\n"
            f"part{n} = nb.quick_hparams(part{n})  # PROJ4_QUICK=1 only: at most 2 epochs")


def training_cell(part: Part) -> str:
    """The one training cell: the recipe's transforms, optimizer, schedule and trainer for the part."""
    n, recipe, hp = part.number, part.recipe, f"part{part.number}"
    train_preset, test_preset = recipe.transforms
    imports = {f"from proj4_code.data_transforms import {', '.join(sorted({train_preset, test_preset}))}",
               "from proj4_code.dl_utils import save_trained_model_weights",
               f"from {part.module} import {part.class_name}",
               "from proj4_code.optimizer import get_optimizer",
               f"from {parts.TRAINERS_MODULE} import {part.trainer}",
               f"from proj4_lib.trainer import {recipe.schedule}"}
    data = []
    if recipe.normalize:
        imports.add("from proj4_code.stats_helper import compute_mean_and_std")
        data += ["pixel_mean, pixel_std = compute_mean_and_std(DATA_DIR)",
                 'print(f"Pixel mean {pixel_mean:.4f}, standard deviation {pixel_std:.4f}")']
    stats = ", pixel_mean, pixel_std" if recipe.normalize else ""
    data.append(f'{hp}_test_transforms = {test_preset}({hp}["inp_size"]{stats})')
    if recipe.augment:
        data.append(f'{hp}_train_transforms = {train_preset}({hp}["inp_size"]{stats})')
    else:
        data.append(f"{hp}_train_transforms = {hp}_test_transforms  # no augmentation in this part")
    model_args = "pretrained=True, backbone=BACKBONE" if part.backbone else ""
    cache = ", cache_features=True" if recipe.cache_features else ""
    return "\n".join([
        *sorted(imports), "", *data, "",
        "reset_seed(0)",
        f"{part.name} = {part.class_name}({model_args})",
        f'optimizer_config = {{"optimizer_type": "{recipe.optimizer}", "lr": {hp}["lr"], '
        f'"weight_decay": {hp}["weight_decay"]}}',
        f"optimizer = get_optimizer({part.name}, optimizer_config)",
        f"trainer{n} = {part.trainer}(",
        f'    DATA_DIR, {part.name}, optimizer, OUT_DIR / "checkpoints" / "{part.name}",',
        f'    {hp}_train_transforms, {hp}_test_transforms, batch_size={hp}["batch_size"],',
        f'    load_from_disk={hp}["resume"], device=DEVICE.type{cache},',
        f'    scheduler_factory={recipe.schedule}({hp}["lr"], {hp}["epochs"]),',
        ")",
        f'trainer{n}.run_training_loop({hp}["epochs"])',
    ])


# -- what a part may show after training (its registry entry names them) ---------------------------------
def confusion_matrix_cells(part: Part) -> List:
    n = part.number
    return [md("The confusion matrix on the test set (rows: true class; each row sums to 1):"), code(f"""
from proj4_code.confusion_matrix import generate_and_plot_confusion_matrix
from proj4_code.image_loader import ImageLoader

test_set{n} = ImageLoader(DATA_DIR, "test", transform=part{n}_test_transforms)
generate_and_plot_confusion_matrix({part.name}, test_set{n}, device=DEVICE.type)
plt.show()
""")]


def confusion_from_outputs_cells(part: Part) -> List:
    n = part.number
    return [md("The confusion matrix on the test set, from the outputs the trainer already has (no second pass):"),
            code(f"""
from proj4_code.confusion_matrix import generate_confusion_matrix, plot_confusion_matrix
from proj4_code.image_loader import ImageLoader

test_set{n} = ImageLoader(DATA_DIR, "test", transform=part{n}_test_transforms)
class_labels = sorted(test_set{n}.class_dict, key=test_set{n}.class_dict.get)
logits, targets = trainer{n}.validation_outputs()
confusion{n} = generate_confusion_matrix(targets.numpy(), logits.argmax(dim=1).numpy(), len(class_labels))
plot_confusion_matrix(confusion{n}, class_labels)
plt.show()
""")]


def misclassified_cells(part: Part) -> List:
    """Needs confusion_from_outputs first: it shows images of that matrix's most confused pair."""
    n = part.number
    return [md("Test images of the most confused pair of classes (`get_pred_images_for_target`), for your report:"),
            code(f"nb.show_misclassified({part.name}, test_set{n}, confusion{n}, device=DEVICE.type)\nplt.show()")]


def attribute_accuracy_cells(part: Part) -> List:
    n = part.number
    return [md("Test accuracy of each attribute (a probability of 0.5 or more predicts yes), for your report:"),
            code(f"""
from proj4_lib.train import per_attribute_accuracy

nb.show_attribute_accuracy(per_attribute_accuracy(*trainer{n}.validation_outputs()))
plt.show()
""")]


ANALYSES: Dict[str, Callable[[Part], List]] = {
    "confusion_matrix": confusion_matrix_cells,
    "confusion_from_outputs": confusion_from_outputs_cells,
    "misclassified": misclassified_cells,
    "attribute_accuracy": attribute_accuracy_cells,
}


def cells() -> List:
    return [*intro_cells(), *setup_cells(), *(cell for part in parts.PARTS for cell in part_cells(part)),
            *submission_cells()]


def build_notebook() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": dict(KERNELSPEC)})
    notebook.cells = cells()
    seen = set()
    for index, cell in enumerate(notebook.cells):
        # An id from the cell's text: editing one cell changes only its id.
        cell_id = hashlib.sha1(cell.source.encode()).hexdigest()[:8]
        cell.id = cell_id if cell_id not in seen else f"{cell_id}-{index}"
        seen.add(cell.id)
    nbformat.validate(notebook)
    return notebook


def render() -> str:
    return nbformat.writes(build_notebook()) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proj4_instructor.make_notebook",
                                     description="Generate notebooks/proj4.ipynb.")
    parser.add_argument("--out", default=str(NOTEBOOK), help="where to write the notebook")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if --out differs from the output")
    args = parser.parse_args(argv)
    out, text = Path(args.out), render()
    if args.check:
        if not out.is_file() or out.read_text() != text:
            print(f"{out} is stale: run python -m proj4_instructor.make_notebook", file=sys.stderr)
            return 1
        print(f"{out} is current")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
