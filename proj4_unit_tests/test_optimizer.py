"""Part 1: get_optimizer."""
import pytest
import torch
from torch import nn

from proj4_code.optimizer import get_optimizer


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def optimised(optimizer):
    return [p for group in optimizer.param_groups for p in group["params"]]


def test_sgd():
    model = small_model()
    optimizer = get_optimizer(model, {"optimizer_type": "sgd", "lr": 0.05, "weight_decay": 1e-3, "momentum": 0.9})
    assert type(optimizer) is torch.optim.SGD
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"], group["momentum"]) == (0.05, 1e-3, 0.9)
    assert {id(p) for p in optimised(optimizer)} == {id(p) for p in model.parameters()}


def test_adam():
    model = small_model()
    optimizer = get_optimizer(model, {"optimizer_type": "adam", "lr": 3e-3, "weight_decay": 1e-4})
    assert type(optimizer) is torch.optim.Adam
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (3e-3, 1e-4)


@pytest.mark.parametrize("optimizer_type", ["sgd", "adam"])
def test_only_trainable_parameters(optimizer_type):
    model = small_model()
    for p in model[0].parameters():
        p.requires_grad = False
    optimizer = get_optimizer(model, {"optimizer_type": optimizer_type, "lr": 0.1})
    assert {id(p) for p in optimised(optimizer)} == {id(p) for p in model[2].parameters()}


def test_step_moves_the_weights():
    model = small_model()
    optimizer = get_optimizer(model, {"optimizer_type": "sgd", "lr": 0.1})
    before = model[2].bias.detach().clone()
    model(torch.ones(5, 4)).sum().backward()
    optimizer.step()
    assert torch.allclose(model[2].bias, before - 0.1 * 5), "one SGD step: bias -= lr * grad (5 = batch size)"


def test_defaults():
    """Missing keys: SGD, lr 0.01, weight_decay 0, momentum 0."""
    optimizer = get_optimizer(small_model(), {})
    assert type(optimizer) is torch.optim.SGD
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"], group["momentum"]) == (0.01, 0, 0)
    adam = get_optimizer(small_model(), {"optimizer_type": "Adam"}).param_groups[0]
    assert (adam["lr"], adam["weight_decay"]) == (0.01, 0)


def test_unknown_type():
    with pytest.raises(ValueError, match="rmsprop"):
        get_optimizer(small_model(), {"optimizer_type": "rmsprop", "lr": 0.1})
