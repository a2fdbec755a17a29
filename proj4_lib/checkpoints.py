"""Saving and loading trained models: the files you submit (provided).

A checkpoint is a dict {"format", "class_name", "model_kwargs", "architecture", "state_dict"}, read
back with torch.load(weights_only=True), so loading one can never run code. "architecture" is the
from-scratch models' layer list (proj4_lib/architecture.py): the grader rebuilds the model from it
and evaluates the weights without running your code. The "compact" format of the
pretrained-backbone models leaves out the backbone tensors that equal the named pretrained weights
and records the SHA-256 of that weights file instead; loading rebuilds them.

This module never imports your code: rebuild_model takes the function that turns the class name
in a checkpoint into a class. load_trained_model (proj4_tools.models, and proj4_code.dl_utils under
the course's name) passes the one that imports the part's module.
"""
from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Optional, Union

import torch
from torch import nn

from proj4_lib import architecture, parts


def trained_model_path(out_dir: Union[str, Path], class_name: str) -> Path:
    return Path(out_dir) / parts.get_part(class_name).checkpoint


def atomic_torch_save(obj, path: Path) -> None:
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


def gradable_architecture(model: nn.Module, outputs: int) -> dict:
    """The layer list of a model whose architecture is the student's (Part 2), once it is sure the grader
    can evaluate the weights from it: it follows proj4_lib/architecture.py's rules and the model rebuilt
    from it computes what `model` computes (eval mode, two random images). ArchitectureError otherwise,
    naming the layer and the rule."""
    name = type(model).__name__
    try:
        rebuilt = architecture.rebuilt_copy(model, outputs)
    except architecture.ArchitectureError as err:
        raise architecture.ArchitectureError(
            f"{name} was not saved: the grader rebuilds it from its layer list (it runs none of your code) to "
            f"grade its test accuracy, and could not: {err}. The rules are in proj4_lib/architecture.py and in "
            "the docstring of your model's file") from None
    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    # A float32 copy on the CPU, where the grader evaluates: a model on a GPU, in half precision or
    # channels_last is saved as what it computes there.
    yours = copy.deepcopy(model).float().cpu().eval()
    with torch.no_grad():
        yours, graded = yours(x), rebuilt.eval()(x)
    if yours.shape != graded.shape or not torch.allclose(yours, graded, rtol=1e-4, atol=1e-4):
        raise architecture.ArchitectureError(
            f"{name} was not saved: its forward computes something else than its layers do: the grader evaluates "
            "fc_layers(torch.flatten(conv_layers(x), 1)), so forward must compute exactly that (and every layer "
            "must be in conv_layers or fc_layers)")
    return architecture.describe(model)


def save_trained_model_weights(model: nn.Module, out_dir: Union[str, Path], compact: bool = False) -> Path:
    """Save `model` as out_dir/trained_<ClassName>_final.pt (the file you submit) and return the path.

    compact=True (pretrained-backbone models only) stores just what differs from the pretrained
    weights: ~0.1 MB instead of ~45 MB for ResNet-18. Loading it needs the same weights file.
    A model whose architecture is yours (SimpleNetFinal) is saved only if the grader can rebuild it
    from its layer list (proj4_lib/architecture.py); otherwise ArchitectureError (a ValueError) names
    the layer and the rule, and nothing is written. A model wrapped by torch.compile or nn.DataParallel
    is saved as the model it wraps.
    """
    while isinstance(getattr(model, "_orig_mod", None), nn.Module) or isinstance(model, nn.DataParallel):
        model = getattr(model, "_orig_mod", None) or model.module  # the compiled or parallel model's own
    class_name = type(model).__name__
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}  # no copy: torch.save reads them
    checkpoint = {
        "format": "full",
        "class_name": class_name,
        "model_kwargs": dict(getattr(model, "checkpoint_kwargs", {})),
        "architecture": None,
        "state_dict": state,
    }
    if "backbone" not in checkpoint["model_kwargs"]:  # a from-scratch model: record its layers
        part = parts.get_part(class_name)
        if part.design == "student":
            checkpoint["architecture"] = gradable_architecture(model, part.outputs)
        else:  # the handout's design: graded in the course's own class, the list is for information
            try:
                checkpoint["architecture"] = architecture.describe(model)
            except architecture.ArchitectureError:
                pass
    if compact:
        from proj4_lib import backbones

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
    atomic_torch_save(checkpoint, path)
    return path


def read_checkpoint(path: Union[str, Path], expected_class: Optional[str] = None) -> dict:
    """The checkpoint dict saved by save_trained_model_weights, checked: it reads with weights_only=True,
    has a class_name and a state_dict, and holds a known part's class (`expected_class`, if given)."""
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
    if class_name not in parts.class_names():
        raise ValueError(f"checkpoint {path} holds unknown model class {class_name!r}; "
                         f"known: {', '.join(parts.class_names())}")
    return checkpoint


def rebuild_model(path: Union[str, Path], model_class: Callable[[str], type],
                  expected_class: Optional[str] = None) -> nn.Module:
    """Rebuild the model saved by save_trained_model_weights, in eval mode, on the CPU.

    model_class: class name -> the class to build (the caller's: this module imports no model code).
    expected_class: refuse (ValueError) a checkpoint that holds another model class.
    Full checkpoints need no pretrained weights and no network: the model is built with
    pretrained=False and every tensor comes from the file.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path, expected_class)
    class_name = checkpoint["class_name"]
    cls = model_class(class_name)
    kwargs = dict(checkpoint.get("model_kwargs", {}))
    if checkpoint.get("format") == "compact":
        from proj4_lib import backbones

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
