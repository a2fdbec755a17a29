"""Running a model over a dataset, and the pictures of the results (provided).

    model_outputs           (model output, targets) batch by batch, in eval mode, without gradients
    plot_curves             a training history (the Trainer's plot_loss_history / plot_accuracy)
    plot_confusion_matrix   a confusion matrix as a heat map
    plot_accuracy_table     per-attribute accuracy as a one-row heat map

proj4_code/confusion_matrix.py imports these under the course's names. Every plot returns its
figure and, given a path, saves it there and closes it.
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from proj4_lib.files import ATTRIBUTES
from proj4_lib.utils import pick_device


def model_outputs(model: nn.Module, dataset: Dataset, device: str = "auto",
                  batch_size: int = 100) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Yield (model output, targets) for each batch of `dataset` in order, both on the CPU.

    The model runs in eval mode under torch.no_grad(): evaluation never changes it.
    """
    device = pick_device(device)
    model = model.to(device).eval()
    with torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            yield model(x.to(device)).cpu(), torch.as_tensor(y)


def _finish(fig, path: Optional[str]):
    fig.tight_layout()
    if path is not None:
        import matplotlib.pyplot as plt

        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


def plot_curves(train: List[float], val: List[float], what: str, path: Optional[str] = None):
    """Training and validation `what` (e.g. "Loss") per epoch. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(train) + 1)
    ax.plot(epochs, train, "-b", label="training")
    ax.plot(epochs, val, "-r", label="validation")
    ax.set_title(f"{what} history")
    ax.set_xlabel("Epoch")
    ax.set_ylabel(what)
    ax.legend()
    return _finish(fig, path)


def plot_confusion_matrix(confusion_matrix: np.ndarray, class_labels: Sequence[str], path: Optional[str] = None):
    """Heat map with the value in each cell; rows are the truth. Returns the figure."""
    import matplotlib.pyplot as plt

    n = len(class_labels)
    fig, ax = plt.subplots(figsize=(10, 9))
    ax.imshow(confusion_matrix, cmap="Blues")
    ax.set_xticks(range(n), labels=class_labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels=class_labels)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title("Confusion matrix")
    threshold = confusion_matrix.max() / 2 if confusion_matrix.size else 0
    for t in range(n):
        for p in range(n):
            value = confusion_matrix[t, p]
            ax.text(p, t, f"{value:.2f}" if value % 1 else f"{int(value)}", ha="center", va="center",
                    fontsize=7, color="white" if value > threshold else "black")
    return _finish(fig, path)


def plot_accuracy_table(accuracy_table: np.ndarray, attribute_labels: Sequence[str] = ATTRIBUTES,
                        path: Optional[str] = None):
    """A one-row heat map of per-attribute accuracy. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 2))
    ax.imshow(np.asarray(accuracy_table)[None, :], cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(attribute_labels)), labels=attribute_labels)
    ax.set_yticks([])
    ax.set_title("Accuracy per attribute")
    for i, value in enumerate(accuracy_table):
        ax.text(i, 0, f"{value:.2f}", ha="center", va="center", color="white" if value > 0.5 else "black")
    return _finish(fig, path)
