"""Checks shared by the model tests (Parts 1-4). A plain module, not conftest.py: the test files
import it by name, so every check a test makes is visible from the test file."""
import importlib.util

import pytest
import torch
from torch import nn

from proj4_code.dl_utils import compute_loss
from proj4_code.optimizer import get_optimizer

needs_timm = pytest.mark.skipif(importlib.util.find_spec("timm") is None,
                                reason="efficientnet_lite0 needs timm: pip install -e .[offline]")
BACKBONES = ["resnet18", pytest.param("efficientnet_lite0", marks=needs_timm)]


def count_parameters(model: nn.Module, trainable: bool) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad == trainable)


def assert_classifier_attributes(model: nn.Module) -> None:
    """The course's attributes: conv_layers and fc_layers as nn.Sequential, a mean cross-entropy loss."""
    assert isinstance(model.conv_layers, nn.Sequential)
    assert isinstance(model.fc_layers, nn.Sequential)
    assert isinstance(model.loss_criterion, nn.CrossEntropyLoss)
    assert model.loss_criterion.reduction == "mean"


def assert_only_head_trains(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """One training step in train mode changes the head and nothing in conv_layers: no weight and no
    BatchNorm running statistic."""
    backbone_before = {k: v.clone() for k, v in model.conv_layers.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.fc_layers.state_dict().items()}
    optimizer = get_optimizer(model, {"optimizer_type": "adam", "lr": 0.1})
    model.train()
    loss = compute_loss(model, model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    changed = [k for k, v in model.conv_layers.state_dict().items() if not torch.equal(v, backbone_before[k])]
    assert not changed, f"backbone tensors changed in training: {changed[:5]}"
    assert any(not torch.equal(v, head_before[k]) for k, v in model.fc_layers.state_dict().items()), \
        "the head did not change in a training step"
