"""Metrics, the loss, and saving / loading trained models.

Rules: metrics take tensors and return Python floats; no loops over samples (use tensor ops).
"""
from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

#: Class name -> module, for rebuilding a model from a checkpoint.
MODEL_CLASSES = {
    "SimpleNet": "proj4_code.simple_net",
    "SimpleNetFinal": "proj4_code.simple_net_final",
    "MyResNet18": "proj4_code.my_resnet",
    "MultilabelResNet18": "proj4_code.multilabel_resnet",
}


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

    The course's original divided by N on top of a criterion that already averages (reduction
    "mean"), so the loss was normalised twice. Here the criterion's own reduction is respected:
    a "mean" criterion is already normalised, a "sum" criterion is divided by the number of
    target entries when is_normalize is True.
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


# ----------------------------------------------------------------------------------------------
# Saving and loading trained models (provided).
#
# A checkpoint is a dict: {"class_name", "model_kwargs", "state_dict", "format"}. The "compact"
# format of the pretrained-backbone models leaves out the backbone tensors that equal the named
# pretrained weights and records the SHA-256 of that weights file instead; loading rebuilds them.


def trained_model_path(out_dir: Union[str, Path], class_name: str) -> Path:
    return Path(out_dir) / f"trained_{class_name}_final.pt"


def _atomic_torch_save(obj, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def sha256_of_file(path: Union[str, Path]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_trained_model_weights(model: nn.Module, out_dir: Union[str, Path], compact: bool = False) -> Path:
    """Save `model` as out_dir/trained_<ClassName>_final.pt (the file you submit) and return the path.

    compact=True (pretrained-backbone models only) stores just what differs from the pretrained
    weights: ~0.1 MB instead of ~45 MB for ResNet-18. Loading it needs the same weights file.
    """
    class_name = type(model).__name__
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    checkpoint = {
        "format": "full",
        "class_name": class_name,
        "model_kwargs": dict(getattr(model, "checkpoint_kwargs", {})),
        "state_dict": state,
    }
    if compact:
        from proj4_code import backbones

        backbone = checkpoint["model_kwargs"].get("backbone")
        if backbone is None:
            raise ValueError(f"compact=True needs a pretrained-backbone model; {class_name} has none")
        reference = backbones.pretrained_conv_layers_state(backbone)
        checkpoint["state_dict"] = {
            k: v for k, v in state.items()
            if not (k.startswith("conv_layers.") and k[len("conv_layers."):] in reference
                    and torch.equal(reference[k[len("conv_layers."):]], v))
        }
        weights_file = backbones.pretrained_weights_file(backbone)
        checkpoint["format"] = "compact"
        checkpoint["pretrained"] = {"backbone": backbone, "file": weights_file.name,
                                    "sha256": sha256_of_file(weights_file)}
    path = trained_model_path(out_dir, class_name)
    _atomic_torch_save(checkpoint, path)
    return path


def load_trained_model(path: Union[str, Path], expected_class: Optional[str] = None) -> nn.Module:
    """Rebuild the model saved by save_trained_model_weights, in eval mode, on the CPU.

    expected_class: refuse (ValueError) a checkpoint that holds another model class.
    Full checkpoints need no pretrained weights and no network: the model is built with
    pretrained=False and every tensor comes from the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err}); save it again "
                         "with save_trained_model_weights") from err
    if not isinstance(checkpoint, dict) or "class_name" not in checkpoint or "state_dict" not in checkpoint:
        raise ValueError(f"checkpoint {path} was not written by save_trained_model_weights "
                         "(no class_name / state_dict)")
    class_name = checkpoint["class_name"]
    if expected_class is not None and class_name != expected_class:
        raise ValueError(f"checkpoint {path} holds a {class_name}, not a {expected_class}")
    if class_name not in MODEL_CLASSES:
        raise ValueError(f"checkpoint {path} holds unknown model class {class_name!r}; "
                         f"known: {', '.join(MODEL_CLASSES)}")
    cls = getattr(importlib.import_module(MODEL_CLASSES[class_name]), class_name)
    kwargs = dict(checkpoint.get("model_kwargs", {}))
    if checkpoint.get("format") == "compact":
        from proj4_code import backbones

        info = checkpoint["pretrained"]
        local = backbones.pretrained_weights_file(info["backbone"])
        if not local.is_file() or sha256_of_file(local) != info["sha256"]:
            raise ValueError(f"compact checkpoint {path} was made from {info['file']} with SHA-256 "
                             f"{info['sha256'][:12]}..., but {local} is missing or differs; "
                             "use a full checkpoint (compact=False) instead")
        model = cls(pretrained=True, **kwargs)
        missing, unexpected = model.load_state_dict(checkpoint["state_dict"], strict=False)
        if unexpected or any(not k.startswith("conv_layers.") for k in missing):
            raise ValueError(f"checkpoint {path} does not fit {class_name}: missing {missing}, unexpected {unexpected}")
    else:
        model = cls(pretrained=False, **kwargs) if "backbone" in kwargs else cls(**kwargs)
        try:
            model.load_state_dict(checkpoint["state_dict"], strict=True)
        except RuntimeError as err:
            raise ValueError(f"checkpoint {path} does not fit {class_name}: {err}") from err
    return model.eval()
