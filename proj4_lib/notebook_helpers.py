"""Helpers for notebooks/proj4.ipynb (provided): where things are, quick mode, results and pictures.

The notebook holds no graded logic: it calls your code in proj4_code, these helpers, and the
checks in notebook_checks.

Quick mode (environment variable PROJ4_QUICK=1) is a smoke test of the whole notebook, used by
CI: every part trains for 2 epochs on a few images per class, and the checkpoints go to
model_output_quick/ so the real ones in model_output/ are never overwritten. Never submit
quick-mode results.

On Colab the set-up cell (proj4_lib/colab.py) puts the project on your Google Drive and the data on
the runtime's disk; data_dir() finds it there.
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


def show_misclassified(model, test_set, confusion: np.ndarray, device: str = "auto", count: int = 3):
    """Show up to `count` test images of the most confused pair of classes.

    Uses confusion_matrix.get_pred_images_for_target on the true class's images only, so the
    model runs over about 100 images instead of the whole test set. Returns their paths.
    """
    import copy

    from proj4_code.confusion_matrix import get_pred_images_for_target

    labels = {index: name for name, index in test_set.class_dict.items()}
    target, predicted = most_confused_pair(confusion)
    if confusion[target, predicted] == 0:
        print("No misclassified test images.")
        return []
    one_class = copy.copy(test_set)
    one_class.dataset = [item for item in test_set.dataset if item[1] == target]
    paths = get_pred_images_for_target(model, one_class, predicted, target, device=device)
    print(f"{len(paths)} test images of {labels[target]} are predicted as {labels[predicted]}; the first {count}:")
    show_images(paths[:count], [f"{Path(p).name}\ntrue {labels[target]}, predicted {labels[predicted]}"
                                for p in paths[:count]])
    return paths


def show_attribute_accuracy(accuracy: Dict[str, float]):
    """Print the per-attribute accuracy table and plot it. Returns the figure."""
    for name, value in accuracy.items():
        print(f"{name:>10}  {value:7.2%}")
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
