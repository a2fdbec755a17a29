"""Part 1: SimpleNet, exactly the course's figure."""
import pytest
import torch
from torch import nn

from model_checks import assert_classifier_attributes, assert_raw_scores
from proj4_code.simple_net import SimpleNet


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SimpleNet()


def test_attributes(model):
    assert_classifier_attributes(model)


def test_parameter_count(model):
    assert sum(p.numel() for p in model.parameters()) == 56_895
    assert all(p.requires_grad for p in model.parameters())


def test_layers_match_the_figure(model):
    conv = list(model.conv_layers)
    assert [type(m) for m in conv] == [nn.Conv2d, nn.MaxPool2d, nn.ReLU] * 2, conv
    for layer, (c_in, c_out) in zip((conv[0], conv[3]), ((1, 10), (10, 20))):
        assert (layer.in_channels, layer.out_channels) == (c_in, c_out), layer
        assert layer.kernel_size == (5, 5) and layer.stride == (1, 1) and layer.padding == (0, 0), layer
    for pool in (conv[1], conv[4]):
        assert pool.kernel_size == 3 and pool.stride == 3, pool

    fc = list(model.fc_layers)
    assert [type(m) for m in fc] == [nn.Linear, nn.ReLU, nn.Linear], fc
    assert (fc[0].in_features, fc[0].out_features) == (500, 100)
    assert (fc[2].in_features, fc[2].out_features) == (100, 15)


def test_output_shape(model):
    for n in (1, 5):
        out = model(torch.rand(n, 1, 64, 64))
        assert out.shape == (n, 15)
    assert model.conv_layers(torch.rand(2, 1, 64, 64)).shape == (2, 20, 5, 5)


def test_forward_returns_logits(model):
    """No softmax in forward: rows need not sum to 1 and may be negative."""
    assert_raw_scores(model, torch.rand(4, 1, 64, 64))


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (2, 1, 32, 32)])
def test_wrong_input_shape(model, shape):
    with pytest.raises(RuntimeError):
        model(torch.rand(*shape))
