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
    class_name = type(model).__name__
    assert path == tmp_path / f"trained_{class_name}_final.pt" and path.is_file()
    torch.manual_seed(123)  # the rebuilt model starts from other random weights
    loaded = load_trained_model(path, expected_class=class_name)
    assert type(loaded) is type(model) and not loaded.training
    assert getattr(loaded, "backbone_name", None) == getattr(model, "backbone_name", None)
    with torch.no_grad():
        assert torch.equal(loaded(x), expected)


def assert_raw_scores(model: nn.Module, x: torch.Tensor) -> None:
    """A single-label model returns raw scores (logits): no softmax, so the rows do not sum to 1 and the
    scores are not all in [0, 1] (CrossEntropyLoss applies log-softmax itself)."""
    model.eval()
    with torch.no_grad():
        scores = model(x) * 1000  # large enough that random logits leave [0, 1]; probabilities stay rows of sum 1000
    sums = scores.sum(dim=1)
    assert not torch.allclose(sums, torch.full_like(sums, 1000.0), rtol=1e-3), \
        "every row of the output sums to 1: forward returns probabilities; return the raw scores (no softmax)"
    assert scores.min() < 0, "no output is negative: forward should return raw scores (logits), not probabilities"


def assert_nonlinearity_after_every_conv(conv_layers: nn.Module) -> None:
    """Each conv block has a non-linearity: between a Conv2d and the next one (or the end) there is a ReLU."""
    layers = [m for m in conv_layers.modules() if not list(m.children())]
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    for i, start in enumerate(convs):
        block = layers[start:convs[i + 1] if i + 1 < len(convs) else len(layers)]
        assert any(isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU)) for m in block), \
            f"conv block {i + 1} ({' -> '.join(type(m).__name__ for m in block)}) has no ReLU: every conv block needs one"


def assert_head_follows_the_backbone(model: nn.Module, backbone: str, outputs: int) -> None:
    """The head is Linear(D, outputs) with D the backbone's feature size (512 or 1,280), never a constant."""
    from proj4_lib.backbones import load_backbone

    _, num_features = load_backbone(backbone, pretrained=False)
    linears = [m for m in model.fc_layers.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(num_features, outputs)], model.fc_layers

