"""Helpers for notebooks/proj4.ipynb (provided): where things are, quick mode, results and pictures.

The notebook holds no graded logic: it calls your code in proj4_code, these helpers, and the
checks in notebook_checks.

Quick mode (environment variable PROJ4_QUICK=1) is a smoke test of the whole notebook, used by
CI: every part trains for 2 epochs on a few images per class, and the checkpoints go to
model_output_quick/ so the real ones in model_output/ are never overwritten. Never submit
quick-mode results.

On Colab the set-up cell (proj4_lib/colab.py) puts the project on your Google Drive and the data on
the runtime's disk; data_dir() finds it there.

The run record (proj4_lib/run_record.py): the training cells, the analyses after them and the save
cells add what your report shows to OUT_DIR/run_record.json; make_report turns it and your answer
cells into the report's PDF (proj4_lib/report.py).
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from proj4_lib import run_record
from proj4_lib.evaluation import plot_accuracy_table
from proj4_lib.files import IMAGE_EXTENSIONS, SPLITS
from proj4_lib.parts import get_part

QUICK_EPOCHS = 2  # enough for two points on each curve
QUICK_IMAGES_PER_CLASS = {"train": 6, "test": 3}


def in_colab() -> bool:
    return "google.colab" in sys.modules


def quick_mode() -> bool:
    """True when the environment variable PROJ4_QUICK is set to 1 (CI's smoke test of the notebook)."""
    return os.environ.get("PROJ4_QUICK", "") == "1"


def repo_root(start: Optional[Path] = None) -> Path:
    """The project folder (the one with setup.py and proj4_code/).

    Searched upwards from `start` (default: the current folder, notebooks/ when you run the
    notebook), then where proj4_code is installed from (`pip install -e .`).
    """
    from proj4_lib.data_install import project_folder

    folder = project_folder(start)
    if folder is None:
        raise FileNotFoundError(f"no project folder (with setup.py and proj4_code/) above "
                                f"{Path(start or Path.cwd()).resolve()}; open the notebook from the project's "
                                "notebooks/ folder")
    return folder


def data_dir(repo: Path) -> Path:
    """Where the data is: $PROJ4_DATA_DIR if set (the Colab set-up cell sets it), else the project's data/."""
    return Path(os.environ.get("PROJ4_DATA_DIR") or Path(repo) / "data")


def describe_data(data_dir: Path) -> Dict[str, int]:
    """Count the images of each split; a missing dataset raises with the command that installs it."""
    counts = {}
    for split in SPLITS:
        folder = Path(data_dir) / split
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} does not exist: in the project folder, run `proj4 data install --from "
                                    "<the data address or folder from the course page>` (on Colab: set DATA in "
                                    "the set-up cell and run it)")
        counts[split] = sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    print(f"Data in {data_dir}: {counts['train']} train and {counts['test']} test images")
    return counts


def quick_setup(data_dir: Path, quick_dir: Path) -> Tuple[Path, Path]:
    """Quick mode: copy a few images per class (and their attribute rows) to quick_dir/data.

    Returns (data folder, output folder). The subset is made afresh (the same files every time);
    the checkpoints of an earlier quick run stay, for resume=True, as in a real run.
    """
    data_dir, quick_dir = Path(data_dir), Path(quick_dir)
    subset = quick_dir / "data"
    shutil.rmtree(subset, ignore_errors=True)
    for split, count in QUICK_IMAGES_PER_CLASS.items():
        copied = set()
        for class_dir in sorted(p for p in (data_dir / split).iterdir() if p.is_dir()):
            (subset / split / class_dir.name).mkdir(parents=True)
            images = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
            for image in images[:count]:
                shutil.copyfile(image, subset / split / class_dir.name / image.name)
                copied.add((class_dir.name, image.name))
        csv_name = f"scene_attributes_{split}.csv"
        with open(data_dir / csv_name, newline="") as src, open(subset / csv_name, "w", newline="") as dst:
            rows = (row for row in csv.reader(src) if len(row) > 1)
            csv.writer(dst).writerows(row for row in rows if (row[0].strip(), row[1].strip()) in copied)
    print(f"Quick mode (PROJ4_QUICK=1): {QUICK_EPOCHS} epochs per part on {QUICK_IMAGES_PER_CLASS['train']} train "
          f"and {QUICK_IMAGES_PER_CLASS['test']} test images per class; checkpoints go to {quick_dir}")
    return subset, quick_dir


def quick_hparams(hparams: dict) -> dict:
    """The hyper-parameters unchanged, or in quick mode with at most QUICK_EPOCHS epochs."""
    if not quick_mode():
        return hparams
    return {**hparams, "epochs": min(hparams["epochs"], QUICK_EPOCHS)}


def report_accuracy(trainer) -> bool:
    """Print the final train and test accuracy and whether the test accuracy reaches the part's threshold."""
    name = type(trainer.model).__name__
    threshold = get_part(name).threshold
    test_accuracy = trainer.validation_accuracy_history[-1]
    reached = test_accuracy >= threshold
    print(f"{name} after {trainer.epoch} epochs: train accuracy {trainer.train_accuracy_history[-1]:.2%}, "
          f"test accuracy {test_accuracy:.2%} (threshold {threshold:.0%}): "
          + ("reached" if reached else "NOT reached: train longer or change the hyper-parameters"))
    if quick_mode():
        print("Quick mode: a smoke test on a few images; the threshold is not expected here.")
    return reached


def most_confused_pair(confusion: np.ndarray) -> Tuple[int, int]:
    """(true class, predicted class) of the largest off-diagonal entry of a confusion matrix."""
    off_diagonal = np.array(confusion, dtype=np.float64)
    np.fill_diagonal(off_diagonal, 0)
    target, predicted = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)
    return int(target), int(predicted)


def show_images(paths: Sequence[str], titles: Sequence[str]):
    """One row of grayscale images with a title each. Returns the figure."""
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, axes = plt.subplots(1, len(paths), figsize=(3.5 * len(paths), 3.8), squeeze=False)
    for ax, path, title in zip(axes[0], paths, titles):
        with Image.open(path) as img:
            ax.imshow(img.convert("L"), cmap="gray")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def show_misclassified(model, test_set, confusion: np.ndarray, device: str = "auto", count: int = 3,
                       out_dir: Optional[Path] = None):
    """Show up to `count` test images of the most confused pair of classes (and record them in out_dir's run
    record, if given).

    Uses confusion_matrix.get_pred_images_for_target on the true class's images only, so the
    model runs over about 100 images instead of the whole test set. Returns their paths.
    """
    import copy

    from proj4_code.confusion_matrix import get_pred_images_for_target

    labels = {index: name for name, index in test_set.class_dict.items()}
    target, predicted = most_confused_pair(confusion)
    if confusion[target, predicted] == 0:
        print("No misclassified test images.")
        if out_dir is not None:
            _recording(lambda: run_record.record_misclassified(out_dir, type(model).__name__, "", "", 0, []))
        return []
    one_class = copy.copy(test_set)
    one_class.dataset = [item for item in test_set.dataset if item[1] == target]
    paths = get_pred_images_for_target(model, one_class, predicted, target, device=device)
    print(f"{len(paths)} test images of {labels[target]} are predicted as {labels[predicted]}; the first {count}:")
    show_images(paths[:count], [f"{Path(p).name}\ntrue {labels[target]}, predicted {labels[predicted]}"
                                for p in paths[:count]])
    if out_dir is not None:
        _recording(lambda: run_record.record_misclassified(out_dir, type(model).__name__, labels[target],
                                                           labels[predicted], len(paths), paths[:count]))
    return paths


def show_attribute_accuracy(accuracy: Dict[str, float], targets=None, out_dir: Optional[Path] = None,
                            name: str = "multilabel_resnet"):
    """Print the per-attribute accuracy table and plot it; with the (N, 7) 0/1 test targets and out_dir, also
    record it (with how often each attribute is "yes") in out_dir's run record. Returns the figure."""
    for attribute, value in accuracy.items():
        print(f"{attribute:>10}  {value:7.2%}")
    if targets is not None and out_dir is not None:
        yes = np.asarray(targets, dtype=np.float64).reshape(-1, len(accuracy)).mean(axis=0)
        _recording(lambda: run_record.record_attributes(out_dir, name, accuracy, dict(zip(accuracy, yes))))
    return plot_accuracy_table(np.array(list(accuracy.values())), list(accuracy))


def make_submission(gt_username: str, root: Optional[Path] = None) -> Path:
    """Run zip_submission.py for `gt_username` in the project folder; on Colab also offer the zip for
    download (it stays in the project folder on Google Drive). Returns its path."""
    root = root or repo_root()
    subprocess.run([sys.executable, str(root / "zip_submission.py"), "--gt_username", gt_username],
                   cwd=root, check=True)
    path = root / f"{gt_username}.zip"
    if in_colab():
        from google.colab import files

        print(f"{path.name} is in your project folder on Google Drive ({path}); your browser downloads it now. "
              "Upload it to Gradescope.")
        files.download(str(path))
    return path


# -- the run record and the report ----------------------------------------------------------------------------
def _recording(action) -> bool:
    """Run a write to the run record; an unusable record file is reported, never a reason to stop the notebook."""
    try:
        action()
        return True
    except run_record.RecordError as err:
        print(f"Not recorded for your report: {err}")
        return False


def record_training(trainer, hparams: dict, out_dir: Path, transforms=()) -> None:
    """Add the training just finished to out_dir/run_record.json (what your report shows of this part)."""
    name = get_part(type(trainer.model).__name__).name
    if _recording(lambda: run_record.record_training(out_dir, name, trainer, hparams, "notebook", transforms,
                                                     quick_mode())):
        print(f"Recorded in {run_record.path_in(out_dir)} (for your report).")


def record_saved(checkpoint: Path) -> Path:
    """Record the SHA-256 of a trained_<Model>_final.pt just saved, in the run record beside it. Returns its path."""
    checkpoint = Path(checkpoint)
    _recording(lambda: run_record.record_checkpoint(checkpoint.parent, checkpoint))
    return checkpoint


def record_confusion(out_dir: Path, model, confusion: np.ndarray, class_labels: Sequence[str]) -> None:
    """Record the test set's confusion matrix of `model` (its part is its class's) for your report."""
    _recording(lambda: run_record.record_confusion(out_dir, type(model).__name__, confusion, class_labels))


def run_ablation(data_dir: Path, out_dir: Path, epochs: int, device: str = "auto"):
    """Part 2's ablation table from your own models (proj4_tools/ablation.py), each row recorded as it finishes;
    quick mode: 1 epoch per row (the table's machinery, not its numbers)."""
    from proj4_tools.ablation import run_ablation as run

    epochs = 1 if quick_mode() else epochs
    return run(data_dir, out_dir, epochs, device, quick_mode(), say=lambda line: print(line, flush=True))


def find_notebook(root: Path) -> Optional[Path]:
    """The saved notebook that holds your answers: root/notebooks/proj4.ipynb, or on Colab the copy in "Colab
    Notebooks" on Drive, whichever was saved last among those that have answer cells."""
    candidates = [Path(root) / "notebooks" / "proj4.ipynb"]
    if in_colab():
        drive = Path(os.environ.get("PROJ4_COLAB_ROOT", "/")) / "content" / "drive" / "MyDrive" / "Colab Notebooks"
        candidates += sorted(drive.glob("*.ipynb")) if drive.is_dir() else []
    with_answers = [p for p in candidates if p.is_file() and "<!-- answer " in p.read_text(errors="replace")]
    return max(with_answers, key=lambda p: p.stat().st_mtime) if with_answers else None


def make_report(gt_username: str, out_dir: Path, notebook: Optional[Path] = None, slides: bool = False,
                root: Optional[Path] = None) -> Optional[Path]:
    """`proj4 report` from the notebook: <username>_proj4.pdf in the project folder (on Colab: on Drive, and your
    browser downloads it). Never raises: your code submission does not depend on the report. Returns the PDF."""
    from proj4_lib import report

    root = root or repo_root()
    try:
        notebook = notebook or find_notebook(root)
        pdf, missing = report.make_report(gt_username, run_record.path_in(out_dir), notebook, root, slides)
    except Exception as err:  # noqa: BLE001 - the report must never stop the notebook or the submission
        print(f"The report could not be made: {type(err).__name__}: {err}\nYour code submission is not affected. "
              "Fix what the message names and run this cell again, or run `proj4 report --gt_username "
              f"{gt_username}` in the project folder.")
        return None
    print(f"Wrote {pdf}: {len(report.pages(None, None))} pages, page k = rubric item k.")
    if missing:
        print("Missing (shown on their pages; the report is made anyway):\n  " + "\n  ".join(missing))
    if in_colab():
        from google.colab import files

        print(f"{pdf.name} is in your project folder on Google Drive; your browser downloads it now. Upload it to "
              "the report's Gradescope assignment.")
        files.download(str(pdf))
    return pdf
