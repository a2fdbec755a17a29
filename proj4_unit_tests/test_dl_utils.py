"""Part 1: accuracy, loss, and saving / loading trained models (the multi-label accuracy, Part 4, is in
test_multilabel_metrics.py; the round trips of the Part 3-4 models in their test files)."""
import math

import pytest
import torch
from torch import nn

from model_checks import assert_save_load_round_trip
from proj4_code.dl_utils import compute_accuracy, compute_loss, load_trained_model, save_trained_model_weights
from proj4_code.simple_net import SimpleNet

# -- metrics ----------------------------------------------------------------------------------


def test_compute_accuracy():
    logits = torch.tensor([[0.1, 2.0, -1.0],
                           [3.0, 0.0, 0.5],
                           [-1.0, -2.0, -0.5],
                           [0.0, 0.2, 0.1],
                           [5.0, 4.0, 6.0]])
    labels = torch.tensor([1, 0, 0, 2, 2])  # right, right, wrong, wrong, right
    accuracy = compute_accuracy(logits, labels)
    assert isinstance(accuracy, float)
    assert accuracy == pytest.approx(3 / 5, abs=1e-7)
    assert compute_accuracy(logits, logits.argmax(dim=1)) == 1.0


# -- loss -------------------------------------------------------------------------------------

X = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.0]])
LABELS = torch.tensor([2, 0, 1])


class ToyNet(nn.Module):
    """Linear(2 -> 3) with fixed weights: logits of X are [[1, 2.5, 2], [0, -0.5, -2], [3, 0.5, 2]]."""

    def __init__(self, criterion):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
            self.fc.bias.copy_(torch.tensor([0.0, 0.5, -1.0]))
        self.loss_criterion = criterion

    def forward(self, x):
        return self.fc(x)


def cross_entropy_by_hand():
    rows, losses = [[1, 2.5, 2], [0, -0.5, -2], [3, 0.5, 2]], []
    for row, label in zip(rows, LABELS.tolist()):
        losses.append(math.log(sum(math.exp(v) for v in row)) - row[label])
    return sum(losses) / len(losses)


def test_compute_loss_mean_criterion():
    model = ToyNet(nn.CrossEntropyLoss(reduction="mean"))
    expected = cross_entropy_by_hand()  # 1.1327...
    loss = compute_loss(model, model(X), LABELS)
    assert loss.dim() == 0 and loss.requires_grad
    assert loss.item() == pytest.approx(expected, rel=1e-6), "a mean criterion is already normalised"
    total = compute_loss(model, model(X), LABELS, is_normalize=False)
    assert total.item() == pytest.approx(3 * expected, rel=1e-6)


def test_compute_loss_sum_criterion():
    model = ToyNet(nn.CrossEntropyLoss(reduction="sum"))
    expected = cross_entropy_by_hand()
    assert compute_loss(model, model(X), LABELS).item() == pytest.approx(expected, rel=1e-6)
    assert compute_loss(model, model(X), LABELS, is_normalize=False).item() == pytest.approx(3 * expected, rel=1e-6)


def test_compute_loss_bce():
    probs = torch.tensor([[0.9, 0.2], [0.5, 0.7], [0.1, 0.6]], requires_grad=True)
    flags = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    entries = [-math.log(p if y else 1 - p)
               for p, y in zip(probs.flatten().tolist(), flags.flatten().tolist())]
    for reduction in ("mean", "sum"):
        # Normalised: the mean over all N x A = 6 entries, whatever the criterion's reduction.
        model = ToyNet(nn.BCELoss(reduction=reduction))
        assert compute_loss(model, probs, flags).item() == pytest.approx(sum(entries) / 6, rel=1e-6), reduction
        assert compute_loss(model, probs, flags, is_normalize=False).item() == pytest.approx(sum(entries), rel=1e-6), \
            reduction


# -- saving and loading -------------------------------------------------------------------------

def test_save_and_load_round_trip(tmp_path):
    assert_save_load_round_trip(tmp_path, SimpleNet, (2, 1, 64, 64))


def test_load_refuses_another_class(tmp_path):
    path = save_trained_model_weights(SimpleNet(), tmp_path)
    with pytest.raises(ValueError) as err:
        load_trained_model(path, expected_class="SimpleNetFinal")
    message = str(err.value)
    assert str(path) in message and "SimpleNet," in message and "SimpleNetFinal" in message


def test_load_refuses_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_trained_model(tmp_path / "nothing.pt")


def test_load_refuses_non_checkpoint(tmp_path):
    path = tmp_path / "trained_SimpleNet_final.pt"
    torch.save(SimpleNet().state_dict(), path)  # a bare state dict, not a checkpoint
    with pytest.raises(ValueError, match="save_trained_model_weights") as err:
        load_trained_model(path)
    assert str(path) in str(err.value)


def test_load_refuses_corrupt_file(tmp_path):
    path = tmp_path / "trained_SimpleNet_final.pt"
    path.write_bytes(torch.randint(0, 256, (5000,), dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(ValueError) as err:
        load_trained_model(path)
    assert str(path) in str(err.value)


def test_load_refuses_state_dict_that_does_not_fit(tmp_path):
    path = save_trained_model_weights(SimpleNet(), tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["fc_layers.2.weight"] = torch.zeros(10, 100)  # a 10-class head
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match="does not fit") as err:
        load_trained_model(path)
    assert str(path) in str(err.value)
