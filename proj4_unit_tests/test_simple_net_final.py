"""Part 2: SimpleNetFinal, the deeper from-scratch CNN: its design rules and that the grader can rebuild it
(the rules are in proj4_code/simple_net_final.py's docstring; proj4_lib/rules.py and architecture.py apply them)."""
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


def test_design_rules(model):
    """At least 3 Conv2d, a BatchNorm2d, 2 Linear, a Dropout with p > 0, a non-linearity after every Conv2d."""
    expect.final_net_design(model)


def test_the_grader_can_rebuild_it(model):
    """The grader evaluates your checkpoint in the model its layer list describes: it must compute what yours
    does, in eval and train mode, within the size limits (save_trained_model_weights refuses it otherwise)."""
    expect.rebuildable(model)


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


def test_forward_returns_logits(model):
    """No softmax: CrossEntropyLoss wants raw scores."""
    expect.raw_scores(model, torch.rand(4, 1, 64, 64))
