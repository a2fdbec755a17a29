"""Checks shared by the model tests (Parts 1-4). A plain module, not conftest.py: the test files
import it by name, so every check a test makes is visible from the test file. What the notebook
checks too is in proj4_lib/expectations.py."""
import importlib.util

import pytest
import torch
from torch import nn

from proj4_code.dl_utils import compute_loss
from proj4_code.optimizer import get_optimizer
from proj4_lib.backbones import BACKBONES as ALL_BACKBONES

needs_timm = pytest.mark.skipif(importlib.util.find_spec("timm") is None,
                                reason="efficientnet_lite0 needs timm: pip install -e .[offline]")
BACKBONES = [pytest.param(b, marks=needs_timm) if b == "efficientnet_lite0" else b for b in ALL_BACKBONES]


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


def randomise_buffers(model: nn.Module) -> nn.Module:
    """Give BatchNorm statistics values a fresh model would not have, so a round trip test sees them."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    return model


def assert_save_load_round_trip(tmp_path, build, shape) -> None:
    """save_trained_model_weights then load_trained_model gives the same class, backbone and outputs."""
    from proj4_code.dl_utils import load_trained_model, save_trained_model_weights

    torch.manual_seed(0)
    model = randomise_buffers(build()).eval()
    x = torch.rand(*shape)
    with torch.no_grad():
        expected = model(x)
    path = save_trained_model_weights(model, tmp_path)
    cls, class_name, backbone = type(model), type(model).__name__, getattr(model, "backbone_name", None)
    assert path == tmp_path / f"trained_{class_name}_final.pt" and path.is_file()
    del model  # one model at a time (the autograder runs these tests in 768 MB)
    torch.manual_seed(123)  # the rebuilt model starts from other random weights
    loaded = load_trained_model(path, expected_class=class_name)
    assert type(loaded) is cls and not loaded.training
    assert getattr(loaded, "backbone_name", None) == backbone
    with torch.no_grad():
        assert torch.equal(loaded(x), expected)
