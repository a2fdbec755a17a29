"""Part 2: SimpleNetFinal, the deeper from-scratch CNN."""
import pytest
import torch

from proj4_code.simple_net_final import SimpleNetFinal
from proj4_lib import expectations as expect


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SimpleNetFinal()


def test_attributes(model):
    expect.classifier_attributes(model)


def test_required_layers(model):
    expect.final_net_layers(model)


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
    expect.nonlinearity_after_every_conv(model.conv_layers)


def test_forward_returns_logits(model):
    """No softmax: CrossEntropyLoss wants raw scores."""
    expect.raw_scores(model, torch.rand(4, 1, 64, 64))
