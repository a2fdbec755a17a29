"""Metrics and the loss.

Rules: metrics take tensors and return Python floats; no loops over samples (use tensor ops).
Saving and loading trained models is provided (proj4_lib/checkpoints.py) under the course's names:
save_trained_model_weights, and load_trained_model at the end of this file (do not edit either).
"""
from __future__ import annotations

import importlib

import torch
from torch import nn

from proj4_lib.checkpoints import rebuild_model, save_trained_model_weights  # noqa: F401 (provided)
from proj4_lib.parts import get_part


def compute_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of samples whose highest score is the true class.

    Args:
        logits: (N, C) float scores
        labels: (N,) int64 class indices
    Returns:
        accuracy in [0, 1]
    """
    batch_accuracy = None
    # STUB: compare the argmax over classes with the labels and average
    # BEGIN SOLUTION
    batch_accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    # END SOLUTION
    return batch_accuracy


def compute_multilabel_accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Element-wise accuracy of multi-label predictions: a probability >= 0.5 predicts 1.

    Args:
        probs: (N, A) float probabilities in [0, 1]
        labels: (N, A) float 0/1 flags
    Returns:
        the fraction of the N * A entries predicted right, in [0, 1]
    """
    batch_accuracy = None
    # STUB: threshold probs at 0.5 and compare with labels over all N x A entries
    # BEGIN SOLUTION
    batch_accuracy = ((probs >= 0.5).float() == labels).float().mean().item()
    # END SOLUTION
    return batch_accuracy


def compute_loss(
    model: nn.Module, model_output: torch.Tensor, target_labels: torch.Tensor, is_normalize: bool = True
) -> torch.Tensor:
    """The loss of a batch with model.loss_criterion.

    Args:
        model: has `loss_criterion` (e.g. CrossEntropyLoss or BCELoss, reduction "mean" or "sum")
        model_output: (N, C) logits, or (N, A) probabilities for the multi-label model
        target_labels: (N,) class indices, or (N, A) 0/1 flags
        is_normalize: True for the mean over the batch, False for the sum
    Returns:
        a scalar tensor that can be back-propagated

    Rule: respect the criterion's own reduction, and normalise exactly once. A "mean" criterion
    already averages over every target entry (N for class indices, N * A for attribute flags); a
    "sum" criterion is divided by that same number of entries when is_normalize is True. Dividing
    a mean again would make the loss, and every gradient, N times too small.
    """
    loss = None
    # STUB: apply model.loss_criterion, then scale by target_labels.numel() only where the reduction needs it
    # BEGIN SOLUTION
    loss = model.loss_criterion(model_output, target_labels)
    reduction = getattr(model.loss_criterion, "reduction", "mean")
    if reduction == "mean" and not is_normalize:
        loss = loss * target_labels.numel()
    elif reduction == "sum" and is_normalize:
        loss = loss / target_labels.numel()
    # END SOLUTION
    return loss


def load_trained_model(path, expected_class=None) -> nn.Module:
    """Provided: the model save_trained_model_weights saved at `path`, rebuilt with your class of its part,
    in eval mode on the CPU. expected_class (e.g. "SimpleNet") refuses a checkpoint of another class."""
    def your_class(name: str) -> type:
        part = get_part(name)
        return getattr(importlib.import_module(part.module), part.class_name)

    return rebuild_model(path, your_class, expected_class)
