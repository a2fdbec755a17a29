"""Where does the model go wrong? Confusion matrices (Parts 2-3) and attribute accuracy (Part 4).

Rules: generate_confusion_matrix and generate_accuracy_table take numpy arrays and use numpy
only; the model runs in eval mode without gradients: model_outputs (provided) runs it so (a loop of
your own under model.eval() and torch.no_grad() is as good).
Every function that runs a model takes device="auto" (CUDA, then Apple MPS, then the CPU); the
course's use_cuda=True/False is still accepted and means "cuda"/"cpu".
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

# Provided (proj4_lib/evaluation.py): the loop over a dataset and the plots.
from proj4_lib.evaluation import model_outputs, plot_accuracy_table, plot_confusion_matrix  # noqa: F401 (provided)
from proj4_lib.files import ATTRIBUTES
from proj4_lib.utils import accepts_use_cuda


@accepts_use_cuda
def generate_confusion_data(model: nn.Module, dataset: Dataset,
                            device: str = "auto") -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Run the classifier over the dataset.

    Returns:
        targets: (N,) int true class indices
        preds: (N,) int predicted class indices (argmax of the logits)
        class_labels: the C class names, ordered by index
    """
    class_labels = [name for name, _ in sorted(dataset.class_dict.items(), key=lambda kv: kv[1])]
    targets, preds = [], []
    # STUB: for each (logits, y) from model_outputs(model, dataset, device), append y and logits.argmax(1)
    # BEGIN SOLUTION
    for logits, y in model_outputs(model, dataset, device):
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


@accepts_use_cuda
def generate_and_plot_confusion_matrix(model: nn.Module, dataset: Dataset, path: Optional[str] = None,
                                       device: str = "auto"):
    """generate_confusion_data -> generate_confusion_matrix (normalised) -> plot. Returns the figure."""
    targets, preds, class_labels = generate_confusion_data(model, dataset, device=device)
    matrix = generate_confusion_matrix(targets, preds, len(class_labels), normalize=True)
    return plot_confusion_matrix(matrix, class_labels, path)


@accepts_use_cuda
def get_pred_images_for_target(model: nn.Module, dataset: Dataset, predicted_class: int, target_class: int,
                               device: str = "auto") -> List[str]:
    """Paths of the images of `target_class` that the model predicts as `predicted_class`."""
    targets, preds, _ = generate_confusion_data(model, dataset, device=device)
    return [dataset.dataset[i][0] for i in np.flatnonzero((targets == target_class) & (preds == predicted_class))]


@accepts_use_cuda
def generate_accuracy_data(model: nn.Module, dataset: Dataset, num_attributes: int,
                           device: str = "auto") -> Tuple[np.ndarray, np.ndarray]:
    """Run the multi-label model over the dataset.

    Returns:
        targets: (N, num_attributes) 0/1 true flags
        preds: (N, num_attributes) 0/1 predictions (probability >= 0.5)
    """
    targets, preds = [], []
    # STUB: for each (probs, y) from model_outputs(model, dataset, device), append y and (probs >= 0.5) as 0/1
    # BEGIN SOLUTION
    for probs, y in model_outputs(model, dataset, device):
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


@accepts_use_cuda
def generate_and_plot_accuracy_table(model: nn.Module, dataset: Dataset, num_attributes: int = len(ATTRIBUTES),
                                     path: Optional[str] = None, device: str = "auto"):
    """generate_accuracy_data -> generate_accuracy_table -> plot. Returns the figure."""
    targets, preds = generate_accuracy_data(model, dataset, num_attributes, device=device)
    return plot_accuracy_table(generate_accuracy_table(targets, preds, num_attributes),
                               ATTRIBUTES[:num_attributes], path)
