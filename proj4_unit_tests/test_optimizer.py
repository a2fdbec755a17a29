"""Part 1: get_optimizer."""
import pytest
import torch
from torch import nn

from proj4_code.optimizer import get_optimizer
from proj4_lib import expectations as expect


@pytest.mark.parametrize("optimizer_type", ["sgd", "adam"])
def test_type_and_hyper_parameters_from_the_config(optimizer_type):
    expect.optimizer_follows_config(get_optimizer, optimizer_type)


@pytest.mark.parametrize("optimizer_type", ["sgd", "adam"])
def test_only_trainable_parameters(optimizer_type):
    expect.optimizes_only_trainable(get_optimizer, optimizer_type)


def test_step_moves_the_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    optimizer = get_optimizer(model, {"optimizer_type": "sgd", "lr": 0.1})
    before = model[2].bias.detach().clone()
    model(torch.ones(5, 4)).sum().backward()
    optimizer.step()
    assert torch.allclose(model[2].bias, before - 0.1 * 5), "one SGD step: bias -= lr * grad (5 = batch size)"


def test_defaults():
    """Missing keys: SGD, lr 0.01, weight_decay 0, momentum 0; the type in any case."""
    expect.optimizer_defaults(get_optimizer)


def test_unknown_type():
    with pytest.raises(ValueError, match="rmsprop"):
        get_optimizer(nn.Linear(2, 2), {"optimizer_type": "rmsprop", "lr": 0.1})
