"""Generate the student notebook notebooks/proj4.ipynb.

The notebook is written from the cells below, never edited by hand, so it stays small in diffs
(no outputs, no execution counts, ids derived from each cell's text, kernelspec as the only
metadata). Each part's section is rendered from its entry in the parts registry
(proj4_lib/parts.py): its text, TODO table and checks (Part.notebook), thresholds and estimates,
hyper-parameter defaults, and one training cell from its recipe (transforms, optimizer, schedule,
trainer). The report's answer cells come from the rubric (proj4_lib/rubric.py), each right after the
cell its question is about. Regenerate after changing any of them and commit the result:

    python -m proj4_instructor.make_notebook            # writes notebooks/proj4.ipynb
    python -m proj4_instructor.make_notebook --check    # exit 1 if the committed file is stale

instructor_tests/test_notebook.py checks the committed file is current and executes it.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import sys
import textwrap
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import nbformat

from proj4_lib import colab, course, parts, report, rubric
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

Your written report is made from this notebook too: the training and analysis cells record your figures and
numbers in `model_output/run_record.json`, you write each answer in its **answer cell** (after the analysis its
question is about), and the last cell turns both into the report's PDF (see "Your report" at the end).
""")]


def part_list() -> str:
    """The intro's list of parts, thresholds from the registry."""
    return "\n".join(f"{p.number}. **{p.class_name}**, {p.notebook.what} (at least {p.threshold:.0%} test accuracy"
                     + (", element-wise)" if p.multilabel else ")") for p in parts.PARTS)


def setup_cells() -> List:
    return [md(SETUP_TEXT), code(colab_cell()), code(IMPORTS_CELL)]


SETUP_TEXT = """
## Part 0: Setup

**On Colab** (Runtime > Change runtime type > a GPU) your project lives in a folder of your Google Drive:
your code, your trained models and the training checkpoints survive when Colab resets the runtime (after at
most 12 hours, sooner when idle). In the next cell set `DRIVE_FOLDER`, the project's folder in your My Drive, and
run it:

* The first time it asks for access to your Drive, puts the starter into that folder (from `STARTER`: the
  course's starter address, a git URL, the Drive path of a zip, or `""` for an upload button that takes a zip
  of the project's folder, however it was zipped), installs it and keeps the data files in the folder's
  `data_files/` (from `DATA`: the course's data address, or a Drive folder you copied its three files into; a
  Drive or Dropbox *share link* does not work, it names a web page, not the files).
* After a reset run it again: it installs the project from Drive again and unpacks the data
  onto the runtime's disk, in well under a minute and with no download. Then run the cells of the part you are
  working on; a training cell with `resume=True` continues from its last finished epoch.

Edit your code in Colab's file browser (the folder icon on the left), in
`drive/MyDrive/<DRIVE_FOLDER>/proj4_code/`. Run the unit tests in a cell: `!pytest ../proj4_unit_tests`.

**On your computer**, once, in the project folder: `pip install -e ".[offline,dev]"`, then
`proj4 data install --from <the data address or folder from the course page>`. (On a Linux computer without
an NVIDIA GPU, first `pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu`: pip's
default torch there is the CUDA build, 5 GB instead of 0.2 GB.) The install line brings Jupyter (the `notebook`
package, in the `[dev]` extra): in the project folder, `jupyter notebook notebooks/proj4.ipynb` opens this notebook.
The next cell does nothing outside Colab.
"""


def colab_cell() -> str:
    """The set-up cell: its settings, a copy of colab.get_starter (the project is not there yet the first time)
    and the call of colab.start_session."""
    return f"""
# Colab only: your project on Google Drive (see above). Outside Colab this cell does nothing.
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

# The one setting: your project's folder in My Drive (made on the first run).
DRIVE_FOLDER = "proj4"  # @param {{type: "string"}}
# First run only: the course's starter address, a git URL or a zip in your Drive ("": an upload button) ...
STARTER = {json.dumps(course.STARTER_URL)}  # @param {{type: "string"}}
# ... and the course's data address, or a Drive folder holding its three data files.
DATA = {json.dumps(course.DATA_URL)}  # @param {{type: "string"}}


{inspect.getsource(colab.get_starter).strip()}


if "google.colab" in sys.modules:
    import os

    from google.colab import drive

    content = Path(os.environ.get("PROJ4_COLAB_ROOT", "/")) / "content"  # PROJ4_COLAB_ROOT: the course's tests only
    drive.mount(str(content / "drive"))
    project = content / "drive" / "MyDrive" / DRIVE_FOLDER
    if not (project / "setup.py").is_file():
        get_starter(STARTER, project, content)
    sys.path.insert(0, str(project))  # this kernel started before the project was installed
    from proj4_lib.colab import start_session

    start_session(project, DATA, content)
"""


IMPORTS_CELL = """
%load_ext autoreload
%autoreload 2

import matplotlib.pyplot as plt

import proj4_tools.notebook_checks as check
import proj4_tools.notebook_helpers as nb
from proj4_code import hello
from proj4_lib.utils import pick_device, reset_seed, tune_cpu_allocator, verify

print(hello())
DEVICE = pick_device("auto")  # "auto": CUDA, then Apple MPS, then the CPU; or force one: "cuda", "mps", "cpu"
tune_cpu_allocator()  # on a Linux CPU, epochs about a third faster (see proj4_lib/utils.py)
print(f"Using device: {DEVICE}")

QUICK = nb.quick_mode()  # PROJ4_QUICK=1: CI's smoke test on a few images; never submit its results
REPO = nb.repo_root()
DATA_DIR = nb.data_dir(REPO)  # the project's data/ (on Colab: the runtime's /content/data)
OUT_DIR = REPO / "model_output"  # zip_submission.py takes every part's trained_*_final.pt from here
if QUICK:
    DATA_DIR, OUT_DIR = nb.quick_setup(DATA_DIR, REPO / "model_output_quick")
nb.describe_data(DATA_DIR);
"""


def submission_cells() -> List:
    return [
        md("""
## Submission

In the project folder: `python zip_submission.py --gt_username <your GT username>`. It checks that the model
of every part in `model_output/` loads, and writes `<username>.zip` with your `proj4_code/`, the models,
`setup.py` and `README.md`; upload it to Gradescope. Or fill in your username below and run the cell: it makes
the same zip in the project folder (on Colab: in your project folder on Google Drive, and your browser
downloads it). The written report is a PDF of its own: see "Your report" below.
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
    cells += answer_cells(part.number, "training")
    for analysis in (a for a in part.notebook.after_training if a not in AFTER_SAVING):
        cells += ANALYSES[analysis](part) + answer_cells(part.number, analysis)
    cells.append(code(f'print("Saved", nb.record_saved(save_trained_model_weights({part.name}.cpu(), OUT_DIR)))'))
    for analysis in (a for a in part.notebook.after_training if a in AFTER_SAVING):
        cells += ANALYSES[analysis](part) + answer_cells(part.number, analysis)
    return cells


def answer_cells(part_number: int, anchor: str) -> List:
    """The answer cells of the rubric's items that go right after this cell (proj4_lib/rubric.py)."""
    return [md(report.answer_cell(item)) for item in rubric.ITEMS if (item.part, item.after) == (part_number, anchor)]


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

BACKBONE = default_backbone()  # resnet18 if its weights are cached or can be downloaded now, else efficientnet_lite0
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
        md("Loss and accuracy per epoch (recorded for your report with the cell above):"),
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
        ("resume", False, "True: continue from this part's last finished epoch (same values), e.g. after a reset"),
    ]
    body = "\n".join(f"    {key + '=' + repr(value) + ',':<26}# {comment}" for key, value, comment in lines)
    estimate = "\n".join(f"# {line}" for line in textwrap.wrap(f"{part.estimate()}.", width=110))
    note = f"\n# {part.notebook.hparams_note}" if part.notebook.hparams_note else ""
    return (f"# Part {n} hyper-parameters. Defaults: the reference recipe of {part.name!r} in proj4_lib/parts.py;\n"
            f"{estimate}{note}\n"
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
        f"nb.record_training(trainer{n}, {hp}, OUT_DIR, ({hp}_train_transforms, {hp}_test_transforms))",
    ])


# -- what a part may show after training (its registry entry names them) ---------------------------------
def confusion_matrix_cells(part: Part) -> List:
    n = part.number
    return [md("The confusion matrix on the test set (rows: true class; each row sums to 1):"), code(f"""
from proj4_code.confusion_matrix import generate_confusion_data, generate_confusion_matrix, plot_confusion_matrix
from proj4_code.image_loader import ImageLoader

test_set{n} = ImageLoader(DATA_DIR, "test", transform=part{n}_test_transforms)
targets{n}, predictions{n}, class_labels = generate_confusion_data({part.name}, test_set{n}, device=DEVICE.type)
confusion{n} = generate_confusion_matrix(targets{n}, predictions{n}, len(class_labels))
plot_confusion_matrix(confusion{n}, class_labels)
nb.record_confusion(OUT_DIR, {part.name}, confusion{n}, class_labels)
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
nb.record_confusion(OUT_DIR, {part.name}, confusion{n}, class_labels)
plt.show()
""")]


def misclassified_cells(part: Part) -> List:
    """Needs confusion_from_outputs first: it shows images of that matrix's most confused pair."""
    n = part.number
    return [md("Test images of the most confused pair of classes (`get_pred_images_for_target`), recorded for your "
               "report:"),
            code(f"nb.show_misclassified({part.name}, test_set{n}, confusion{n}, device=DEVICE.type, out_dir=OUT_DIR)\n"
                 "plt.show()")]


def attribute_accuracy_cells(part: Part) -> List:
    n = part.number
    return [md("Test accuracy of each attribute (a probability of 0.5 or more predicts yes), recorded for your "
               "report with how often each attribute is yes:"),
            code(f"""
from proj4_tools.train import per_attribute_accuracy

probabilities{n}, targets{n} = trainer{n}.validation_outputs()
nb.show_attribute_accuracy(per_attribute_accuracy(probabilities{n}, targets{n}), targets{n}, OUT_DIR, "{part.name}")
plt.show()
""")]


def ablation_cells(part: Part) -> List:
    """Part 2's ablation table, from the student's own SimpleNet and SimpleNetFinal (proj4_tools/ablation.py)."""
    from proj4_tools import ablation

    rows = "\n".join(f"| {change} | {text} |" for change, _, _, _, text in ablation.ROWS)
    return [md(f"""
### The ablation table: what each change did

The report asks what each of Part 2's changes does. The next cell trains one model per row, each adding its change to
the rows above, all with the same number of epochs, seed 0 and Part 2's recipe, so that a row differs from the one
above by its change alone. It first says how long that will take here, and records each row as it finishes (the rows
already recorded are kept if you stop the cell).

| change | what it trains |
|---|---|
{rows}
"""), code("""
ablation_epochs = 10  # epochs per row (PROJ4_QUICK=1: 1)
nb.run_ablation(DATA_DIR, OUT_DIR, ablation_epochs, device=DEVICE.type);
""")]


ANALYSES: Dict[str, Callable[[Part], List]] = {
    "confusion_matrix": confusion_matrix_cells,
    "confusion_from_outputs": confusion_from_outputs_cells,
    "misclassified": misclassified_cells,
    "attribute_accuracy": attribute_accuracy_cells,
    "ablation": ablation_cells,
}
AFTER_SAVING = {"ablation"}  # analyses that come after the part's model is saved (they train other models)


# -- the report, at the very end -------------------------------------------------------------------------------
def report_cells() -> List:
    total, points = len(rubric.ITEMS), rubric.REPORT_POINTS
    return [md(f"""
## Your report

The written report ({points} of the course's 100 points) is made from this notebook: a PDF of {total} pages,
page k is the rubric's item k for everyone, so the pages match Gradescope's questions by themselves. Each page holds the
question, your figures and numbers from your run record (`model_output/run_record.json`, written by the training,
analysis and save cells above) and your answer from its answer cell. What is missing is said on its page
("Part 3 not trained yet", "no answer yet") and listed under the cell.

1. Write each answer in its answer cell (double-click it and replace the line under the hidden marker
   `<!-- answer ... -->`, which stays), within the word limit it states.
2. **Save the notebook** (File > Save, Ctrl+S / Cmd+S): the report reads the saved file.
3. Set your username below and run the cell, or run `proj4 report --gt_username <your username>` in the project
   folder. It writes `<username>_proj4.pdf` in the project folder (on Colab: on your Drive, and your browser downloads
   it). With `SLIDES = True` it also writes `<username>_proj4.pptx`, the same report as slides to edit.
4. Upload the PDF to the report's Gradescope assignment. The report never affects your code submission.
"""), *answer_cells(0, "report"), code("""
# The report: <username>_proj4.pdf from your run record and the answer cells (save the notebook first).
GT_USERNAME = ""  # e.g. "gburdell3"
SLIDES = False  # True: also <username>_proj4.pptx
if GT_USERNAME:
    nb.make_report(GT_USERNAME, OUT_DIR, slides=SLIDES)
""")]


def cells() -> List:
    return [*intro_cells(), *setup_cells(), *(cell for part in parts.PARTS for cell in part_cells(part)),
            *submission_cells(), *report_cells()]


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
