"""Where does the model go wrong? Confusion matrices (Parts 2-3) and attribute accuracy (Part 4).

Rules: generate_confusion_matrix and generate_accuracy_table take numpy arrays and use numpy
only; the model is run in eval mode without gradients.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from proj4_lib.files import ATTRIBUTES
from proj4_lib.utils import pick_device

# Every function that runs a model takes device="auto" (CUDA, then Apple MPS, then the CPU); the
# course's use_cuda=True/False is still accepted and means "cuda"/"cpu".


def _predict(model: nn.Module, dataset: Dataset, use_cuda: Optional[bool] = None, device: str = "auto",
             batch_size: int = 100):
    """Yield (model output, targets) batch by batch, on the CPU."""
    device = pick_device(device, use_cuda=use_cuda)
    model = model.to(device).eval()
    with torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            yield model(x.to(device)).cpu(), torch.as_tensor(y)


def generate_confusion_data(
    model: nn.Module, dataset: Dataset, use_cuda: Optional[bool] = None, device: str = "auto"
) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Run the classifier over the dataset.

    Returns:
        targets: (N,) int true class indices
        preds: (N,) int predicted class indices (argmax of the logits)
        class_labels: the C class names, ordered by index
    """
    class_labels = [name for name, _ in sorted(dataset.class_dict.items(), key=lambda kv: kv[1])]
    targets, preds = [], []
    # STUB: for each (logits, y) from _predict(model, dataset, use_cuda, device), append y and logits.argmax(1)
    # BEGIN SOLUTION
    for logits, y in _predict(model, dataset, use_cuda, device):
        targets.append(y)
        preds.append(logits.argmax(dim=1))
    # END SOLUTION
    return torch.cat(targets).numpy(), torch.cat(preds).numpy(), class_labels


def generate_confusion_matrix(
    targets: np.ndarray, preds: np.ndarray, num_classes: int, normalize: bool = True
) -> np.ndarray:
    """(C, C) matrix: entry [t, p] counts samples of true class t predicted as p.

    normalize=True divides each row by its number of samples (rows of a class with no samples
    stay 0), so row t holds the fractions of class t predicted as each class.
    """
    confusion_matrix = np.zeros((num_classes, num_classes), dtype=np.float64)
    # STUB: count (target, prediction) pairs into confusion_matrix, then normalise each row if asked
    # BEGIN SOLUTION
    np.add.at(confusion_matrix, (np.asarray(targets, dtype=int), np.asarray(preds, dtype=int)), 1)
    if normalize:
        row_sums = confusion_matrix.sum(axis=1, keepdims=True)
        confusion_matrix = np.divide(confusion_matrix, row_sums, out=np.zeros_like(confusion_matrix),
                                     where=row_sums > 0)
    # END SOLUTION
    return confusion_matrix


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
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


def generate_and_plot_confusion_matrix(model: nn.Module, dataset: Dataset, use_cuda: Optional[bool] = None,
                                       path: Optional[str] = None, device: str = "auto"):
    """generate_confusion_data -> generate_confusion_matrix (normalised) -> plot. Returns the figure."""
    targets, preds, class_labels = generate_confusion_data(model, dataset, use_cuda, device)
    matrix = generate_confusion_matrix(targets, preds, len(class_labels), normalize=True)
    return plot_confusion_matrix(matrix, class_labels, path)


def get_pred_images_for_target(model: nn.Module, dataset: Dataset, predicted_class: int, target_class: int,
                               use_cuda: Optional[bool] = None, device: str = "auto") -> List[str]:
    """Paths of the images of `target_class` that the model predicts as `predicted_class`."""
    targets, preds, _ = generate_confusion_data(model, dataset, use_cuda, device)
    return [dataset.dataset[i][0] for i in np.flatnonzero((targets == target_class) & (preds == predicted_class))]


def generate_accuracy_data(
    model: nn.Module, dataset: Dataset, num_attributes: int, use_cuda: Optional[bool] = None, device: str = "auto"
) -> Tuple[np.ndarray, np.ndarray]:
    """Run the multi-label model over the dataset.

    Returns:
        targets: (N, num_attributes) 0/1 true flags
        preds: (N, num_attributes) 0/1 predictions (probability >= 0.5)
    """
    targets, preds = [], []
    # STUB: for each (probs, y) from _predict(model, dataset, use_cuda, device), append y and (probs >= 0.5) as 0/1
    # BEGIN SOLUTION
    for probs, y in _predict(model, dataset, use_cuda, device):
        targets.append(y.reshape(-1, num_attributes))
        preds.append((probs >= 0.5).to(torch.int64))
    # END SOLUTION
    return torch.cat(targets).numpy().astype(np.int64), torch.cat(preds).numpy().astype(np.int64)


def generate_accuracy_table(targets: np.ndarray, preds: np.ndarray, num_attributes: int) -> np.ndarray:
    """(num_attributes,) accuracy of each attribute over the N samples."""
    accuracy_table = np.zeros(num_attributes, dtype=np.float64)
    # STUB: the fraction of samples where preds equals targets, per attribute (column)
    # BEGIN SOLUTION
    accuracy_table = (np.asarray(preds).reshape(-1, num_attributes)
                      == np.asarray(targets).reshape(-1, num_attributes)).mean(axis=0)
    # END SOLUTION
    return accuracy_table


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
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


def generate_and_plot_accuracy_table(model: nn.Module, dataset: Dataset, num_attributes: int = len(ATTRIBUTES),
                                     use_cuda: Optional[bool] = None, path: Optional[str] = None,
                                     device: str = "auto"):
    """generate_accuracy_data -> generate_accuracy_table -> plot. Returns the figure."""
    targets, preds = generate_accuracy_data(model, dataset, num_attributes, use_cuda, device)
    return plot_accuracy_table(generate_accuracy_table(targets, preds, num_attributes), ATTRIBUTES[:num_attributes], path)
