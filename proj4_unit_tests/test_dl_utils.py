"""Part 1: accuracy, loss, and saving / loading trained models (the multi-label accuracy, Part 4, is in
test_multilabel_metrics.py; the round trips of the Part 3-4 models in their test files)."""
import math

import pytest
import torch
from model_checks import assert_save_load_round_trip
from torch import nn

from proj4_code.dl_utils import compute_accuracy, compute_loss, load_trained_model, save_trained_model_weights
from proj4_code.simple_net import SimpleNet
from proj4_lib import expectations as expect

# -- metrics ----------------------------------------------------------------------------------


def test_compute_accuracy():
    logits = torch.tensor([[0.1, 2.0, -1.0],
                           [3.0, 0.0, 0.5],
                           [-1.0, -2.0, -0.5],
                           [0.0, 0.2, 0.1],
                           [5.0, 4.0, 6.0]])
    labels = torch.tensor([1, 0, 0, 2, 2])  # right, right, wrong, wrong, right
    expect.accuracy_value(compute_accuracy, logits, labels, 3 / 5, "3 of 5 predictions are right")
    assert compute_accuracy(logits, logits.argmax(dim=1)) == 1.0


# -- loss -------------------------------------------------------------------------------------

LOGITS = [[1.0, 2.5, 2.0], [0.0, -0.5, -2.0], [3.0, 0.5, 2.0]]
LABELS = torch.tensor([2, 0, 1])


def cross_entropy_by_hand():
    losses = [math.log(sum(math.exp(v) for v in row)) - row[label] for row, label in zip(LOGITS, LABELS.tolist())]
    return sum(losses) / len(losses)  # 1.1327...


def test_compute_loss_cross_entropy():
    """A mean or a sum criterion alike: normalised, the mean over the batch; not normalised, the sum."""
    logits = torch.tensor(LOGITS, requires_grad=True)
    expect.loss_normalised_once(compute_loss, nn.CrossEntropyLoss, logits, LABELS, cross_entropy_by_hand())


def test_compute_loss_bce():
    """Normalised: the mean over all N x A = 6 entries, whatever the criterion's reduction."""
    probs = torch.tensor([[0.9, 0.2], [0.5, 0.7], [0.1, 0.6]], requires_grad=True)
    flags = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    entries = [-math.log(p if y else 1 - p)
               for p, y in zip(probs.flatten().tolist(), flags.flatten().tolist())]
    expect.loss_normalised_once(compute_loss, nn.BCELoss, probs, flags, sum(entries) / len(entries))


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
