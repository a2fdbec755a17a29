"""Parts 1 and 4: accuracy, loss, and saving / loading trained models."""
import math

import pytest
import torch
from torch import nn

from proj4_code.dl_utils import (
    compute_accuracy,
    compute_loss,
    compute_multilabel_accuracy,
    load_trained_model,
    save_trained_model_weights,
)
from proj4_code.multilabel_resnet import MultilabelResNet18
from proj4_code.my_resnet import MyResNet18
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


def test_compute_multilabel_accuracy():
    probs = torch.tensor([[0.9, 0.5, 0.49, 0.1],
                          [0.2, 0.51, 0.5, 1.0]])
    labels = torch.tensor([[1.0, 1.0, 1.0, 0.0],  # 0.5 counts as 1: right, right, wrong, right
                           [1.0, 0.0, 0.0, 1.0]])  # wrong, wrong, wrong, right
    accuracy = compute_multilabel_accuracy(probs, labels)
    assert isinstance(accuracy, float)
    assert accuracy == pytest.approx(4 / 8, abs=1e-7), "element-wise over N x A; probability 0.5 predicts 1"
    assert compute_multilabel_accuracy(torch.zeros(3, 7), torch.zeros(3, 7)) == 1.0


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


@pytest.mark.points(2)
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
    model = ToyNet(nn.BCELoss(reduction="mean"))
    assert compute_loss(model, probs, flags).item() == pytest.approx(sum(entries) / 6, rel=1e-6)
    assert compute_loss(model, probs, flags, is_normalize=False).item() == pytest.approx(sum(entries), rel=1e-6)


# -- saving and loading -------------------------------------------------------------------------

def randomise_buffers(model):
    """Give BatchNorm statistics values a fresh model would not have, so the test sees them."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    return model


MODELS = {
    "SimpleNet": (lambda: SimpleNet(), (2, 1, 64, 64)),
    "MyResNet18-resnet18": (lambda: MyResNet18(pretrained=False, backbone="resnet18"), (2, 1, 64, 64)),
    "MyResNet18-efficientnet_lite0": (lambda: MyResNet18(pretrained=False, backbone="efficientnet_lite0"),
                                      (2, 3, 64, 64)),
    "MultilabelResNet18-resnet18": (lambda: MultilabelResNet18(pretrained=False, backbone="resnet18"),
                                    (2, 3, 64, 64)),
    "MultilabelResNet18-efficientnet_lite0": (
        lambda: MultilabelResNet18(pretrained=False, backbone="efficientnet_lite0"), (2, 1, 64, 64)),
}


@pytest.mark.points(2)
@pytest.mark.parametrize("name", MODELS)
def test_save_and_load_round_trip(tmp_path, name):
    if "efficientnet" in name:
        pytest.importorskip("timm", reason="the efficientnet_lite0 backbone needs timm (pip install -e .[offline])")
    build, shape = MODELS[name]
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
