"""Part 2: SimpleNetFinal, the deeper from-scratch CNN."""
import pytest
import torch
from torch import nn

from model_checks import assert_classifier_attributes, assert_nonlinearity_after_every_conv, assert_raw_scores
from proj4_code.simple_net_final import SimpleNetFinal


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SimpleNetFinal()


def count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


def test_attributes(model):
    assert_classifier_attributes(model)


def test_required_layers(model):
    assert count(model, nn.Conv2d) >= 3
    assert count(model, nn.BatchNorm2d) >= 1
    assert count(model, nn.Dropout) >= 1
    assert count(model, nn.Linear) >= 2
    assert count(model, nn.ReLU) >= 1


def test_output_shape(model):
    model.eval()
    for n in (1, 4):
        assert model(torch.rand(n, 1, 64, 64)).shape == (n, 15)


def test_eval_mode_is_deterministic(model):
    """Dropout is off in eval mode, so the same input gives the same logits."""
    x = torch.rand(3, 1, 64, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_every_conv_block_has_a_relu(model):
    assert_nonlinearity_after_every_conv(model.conv_layers)


def test_forward_returns_logits(model):
    """No softmax: CrossEntropyLoss wants raw scores."""
    assert_raw_scores(model, torch.rand(4, 1, 64, 64))
