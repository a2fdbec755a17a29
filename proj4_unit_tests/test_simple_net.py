"""Part 1: SimpleNet, exactly the course's figure."""
import pytest
import torch

from proj4_code.simple_net import SimpleNet
from proj4_lib import expectations as expect


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SimpleNet()


def test_attributes(model):
    expect.classifier_attributes(model)


def test_parameter_count(model):
    expect.simple_net_parameters(model)


def test_layers_match_the_figure(model):
    expect.simple_net_layers(model)


def test_output_shape(model):
    for n in (1, 5):
        out = model(torch.rand(n, 1, 64, 64))
        assert out.shape == (n, 15)
    # 20 x 5 x 5 = 500 features per image (a Flatten at the end of conv_layers or the start of fc_layers is fine)
    assert torch.flatten(model.conv_layers(torch.rand(2, 1, 64, 64)), 1).shape == (2, 500)


def test_forward_returns_logits(model):
    """No softmax in forward: rows need not sum to 1 and may be negative."""
    expect.raw_scores(model, torch.rand(4, 1, 64, 64))


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (2, 1, 32, 32)])
def test_wrong_input_shape(model, shape):
    """Any exception will do: torch's own, or one your forward raises after checking the input."""
    expect.raises_on_wrong_input(model, (shape,))
