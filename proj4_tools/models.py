"""From the parts registry to your classes (provided; proj4_tools: it imports your code).

The registry (parts.py) names each part's model class and trainer by module and class name; this
is the one place that imports them. Each part's module is imported only when that part is used,
so a file of yours with an error breaks its own part and nothing else.

    model_class(part)          the model class of a part (a `proj4 train` name or a class name)
    trainer_class(part)        its Trainer or MultiLabelTrainer (proj4_code/runner.py)
    build_model(part, ...)     a fresh model, with a backbone for the pretrained parts
    load_trained_model(path)   the model a checkpoint holds (proj4_code.dl_utils imports it)
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional, Union

from torch import nn

from proj4_lib import checkpoints, parts


def model_class(key: str) -> type:
    part = parts.get_part(key)
    return getattr(importlib.import_module(part.module), part.class_name)


def trainer_class(key: str) -> type:
    return getattr(importlib.import_module(parts.TRAINERS_MODULE), parts.get_part(key).trainer)


def build_model(key: str, backbone: Optional[str] = None, pretrained: bool = True) -> nn.Module:
    """A fresh model of the part `key`; a backbone part gets `backbone` (default: backbones.default_backbone())."""
    part = parts.get_part(key)
    if not part.backbone:
        return model_class(key)()
    from proj4_lib.backbones import default_backbone

    return model_class(key)(pretrained=pretrained, backbone=backbone or default_backbone(download=pretrained))


def load_trained_model(path: Union[str, Path], expected_class: Optional[str] = None) -> nn.Module:
    """Rebuild the model saved by save_trained_model_weights, in eval mode, on the CPU.

    expected_class: refuse (ValueError) a checkpoint that holds another model class. Full
    checkpoints need no pretrained weights and no network (see proj4_lib.checkpoints).
    """
    return checkpoints.rebuild_model(path, model_class, expected_class)
