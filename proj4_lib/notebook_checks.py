"""Quick checks the notebook runs right after each TODO (provided).

Each function exercises one piece of your code on small inputs and raises AssertionError saying
what is wrong. The notebook runs them through utils.verify, which prints "Correct",
"Wrong: <what>" or "Not implemented yet". They are a first check only: the unit tests in
proj4_unit_tests (pytest) and the autograder check more.
"""
from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from proj4_lib.files import ATTRIBUTES, IMAGE_EXTENSIONS


# -- small fixtures -------------------------------------------------------------------------------
def _gray_image(height: int, width: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width), dtype=np.uint8)
    return Image.fromarray(pixels, mode="L")


def _constant_image(value: int, height: int = 50, width: int = 70) -> Image.Image:
    return Image.fromarray(np.full((height, width), value, dtype=np.uint8), mode="L")


def _transform_types(compose) -> list:
    assert isinstance(compose, transforms.Compose), f"expected a transforms.Compose, got {type(compose).__name__}"
    return [type(t) for t in compose.transforms]


def _count(model: nn.Module, kind) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def _trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class _Scores(nn.Module):
    """A stand-in model whose output is its input, with the given loss criterion."""

    def __init__(self, loss_criterion: nn.Module = None):
        super().__init__()
        self.loss_criterion = loss_criterion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class _FixedOutputs(torch.utils.data.Dataset):
    """(model output, target) pairs; with _Scores as the model, the outputs are predetermined."""

    def __init__(self, outputs, targets, class_names=None):
        self.outputs = torch.as_tensor(outputs, dtype=torch.float32)
        self.targets = torch.as_tensor(targets)
        if class_names is not None:
            self.class_dict = {name: i for i, name in enumerate(class_names)}

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        return self.outputs[index], self.targets[index]


# -- Part 1 -----------------------------------------------------------------------------------------
def image_loader(data_dir) -> None:
    """ImageLoader: class numbering, image paths, items and length on the installed data."""
    from proj4_code.image_loader import ImageLoader

    loader = ImageLoader(str(data_dir), split="train", transform=None)
    classes = loader.class_dict
    assert isinstance(classes, dict) and len(classes) == 15, f"class_dict should map the 15 class names, got {classes}"
    assert sorted(classes.values()) == list(range(15)), f"class indices should be 0..14, got {sorted(classes.values())}"
    assert classes.get("bedroom") == 0 and classes.get("tallbuilding") == 14, (
        f"classes are numbered in alphabetical order (bedroom 0 ... tallbuilding 14), got {classes}")

    on_disk = sum(1 for _, _, names in os.walk(Path(data_dir) / "train")
                  for name in names if name.lower().endswith(IMAGE_EXTENSIONS))
    assert len(loader.dataset) == on_disk, f"found {len(loader.dataset)} image paths, but train/ holds {on_disk} images"
    assert len(loader) == on_disk, f"len(loader) is {len(loader)}, expected {on_disk}"
    for path, label in loader.dataset[:: max(1, on_disk // 50)]:
        assert os.path.isfile(path), f"{path} is not a file"
        folder = Path(path).parent.name
        assert label == classes[folder], f"{path} is labelled {label}, but {folder} is class {classes[folder]}"

    image, label = loader[0]
    assert isinstance(image, Image.Image) and image.mode == "L", (
        f"without a transform, loader[0] should give a PIL grayscale image, got {type(image).__name__}")
    assert isinstance(label, int), f"the label should be an int, got {type(label).__name__}"
    loader.transform = transforms.ToTensor()
    tensor, _ = loader[0]
    assert isinstance(tensor, torch.Tensor) and tensor.shape[0] == 1, "loader[0] should apply self.transform"


def compute_mean_and_std() -> None:
    """compute_mean_and_std on two small images in nested folders, against NumPy's answer."""
    from proj4_code.stats_helper import compute_mean_and_std as compute

    images = {Path("train", "a", "ramp.png"): np.tile(np.arange(0, 256, 16, dtype=np.uint8), (12, 1)),
              Path("test", "b", "flat.png"): np.full((5, 7), 200, dtype=np.uint8)}
    with tempfile.TemporaryDirectory() as folder:
        for relative, pixels in images.items():
            (Path(folder) / relative).parent.mkdir(parents=True)
            Image.fromarray(pixels, mode="L").save(Path(folder) / relative)
        (Path(folder) / "train" / "notes.txt").write_text("not an image")
        mean, std = compute(folder)
    every_pixel = np.concatenate([p.ravel() for p in images.values()]) / 255.0
    expected_mean, expected_std = every_pixel.mean(), every_pixel.std(ddof=1)
    assert math.isclose(mean, expected_mean, abs_tol=1e-6), f"mean {mean}, expected {expected_mean:.6f}"
    assert math.isclose(std, expected_std, abs_tol=1e-6), (
        f"std {std}, expected {expected_std:.6f} (the sample standard deviation, n - 1, of all pixels in [0, 1])")


def fundamental_transforms() -> None:
    from proj4_code.data_transforms import get_fundamental_transforms

    for size in ((64, 64), (32, 48)):
        out = get_fundamental_transforms(size)(_gray_image(100, 80))
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32, "the output should be a float tensor"
        assert tuple(out.shape) == (1, *size), f"inp_size {size} (H, W) should give shape (1, {size[0]}, {size[1]}), " \
                                               f"got {tuple(out.shape)}"
        assert 0 <= out.min() and out.max() <= 1, "values should be in [0, 1]"


def fundamental_normalization_transforms() -> None:
    from proj4_code.data_transforms import get_fundamental_normalization_transforms

    compose = get_fundamental_normalization_transforms((64, 64), 0.4, 0.2)
    assert transforms.Normalize in _transform_types(compose), "Normalize is missing"
    out = compose(_constant_image(153))  # 153 / 255 = 0.6, normalised to (0.6 - 0.4) / 0.2 = 1
    assert tuple(out.shape) == (1, 64, 64), f"expected shape (1, 64, 64), got {tuple(out.shape)}"
    assert torch.allclose(out, torch.ones_like(out), atol=1e-4), (
        f"a pixel of 0.6 with mean 0.4 and std 0.2 should become 1.0, got {out.mean():.4f}")


def simple_net() -> None:
    from proj4_code.simple_net import SimpleNet

    model = SimpleNet()
    out = model(torch.randn(2, 1, 64, 64))
    assert tuple(out.shape) == (2, 15), f"output shape {tuple(out.shape)}, expected (2, 15)"
    assert _count(model, nn.Conv2d) == 2 and _count(model, nn.Linear) == 2, "expected 2 Conv2d and 2 Linear layers"
    params = sum(p.numel() for p in model.parameters())
    assert params == 56_895, f"{params} parameters, the figure's network has 56,895"
    assert isinstance(model.loss_criterion, nn.CrossEntropyLoss), "loss_criterion should be nn.CrossEntropyLoss"


def compute_accuracy() -> None:
    from proj4_code.dl_utils import compute_accuracy as accuracy

    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 0.5], [0.0, 0.0, 5.0]])
    value = accuracy(logits, torch.tensor([0, 1, 2, 2]))
    assert isinstance(value, float), f"should return a Python float, got {type(value).__name__}"
    assert math.isclose(value, 0.75), f"3 of 4 predictions are right: expected 0.75, got {value}"


def compute_loss() -> None:
    from proj4_code.dl_utils import compute_loss as loss_of

    logits, labels = torch.randn(4, 15, requires_grad=True), torch.tensor([0, 3, 14, 7])
    expected = nn.functional.cross_entropy(logits, labels)
    for model in (_Scores(nn.CrossEntropyLoss(reduction="mean")), _Scores(nn.CrossEntropyLoss(reduction="sum"))):
        reduction = model.loss_criterion.reduction
        loss = loss_of(model, logits, labels)
        assert loss.requires_grad, "the loss must stay a tensor that can be back-propagated"
        assert torch.isclose(loss, expected), f"reduction {reduction!r}: mean loss {expected:.4f}, got {loss:.4f}"
        total = loss_of(model, logits, labels, is_normalize=False)
        assert torch.isclose(total, expected * 4), (
            f"reduction {reduction!r}, is_normalize=False: the sum {expected * 4:.4f}, got {total:.4f}")


def get_optimizer() -> None:
    from proj4_code.optimizer import get_optimizer as make

    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    adam = make(model, {"optimizer_type": "adam", "lr": 0.01, "weight_decay": 1e-4})
    assert isinstance(adam, torch.optim.Adam), f"optimizer_type adam gave {type(adam).__name__}"
    group = adam.param_groups[0]
    assert group["lr"] == 0.01 and group["weight_decay"] == 1e-4, "lr and weight_decay come from the config"
    optimised = {id(p) for g in adam.param_groups for p in g["params"]}
    assert optimised == {id(p) for p in model[1].parameters()}, "optimise only the parameters with requires_grad"
    sgd = make(model, {"optimizer_type": "sgd", "lr": 0.1, "momentum": 0.9})
    assert isinstance(sgd, torch.optim.SGD), f"optimizer_type sgd gave {type(sgd).__name__}"
    assert sgd.param_groups[0]["momentum"] == 0.9, "SGD takes momentum from the config"


class _Brightness(nn.Module):
    """Classifies an image by its mean brightness: all a dark vs. light problem needs."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 2)
        self.loss_criterion = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(1, 2, 3)).unsqueeze(1))


def _dark_and_light(folder: Path) -> None:
    """A two-class dataset anyone can learn: dark noise vs. light noise, 16 x 16."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 8), ("test", 4)):
        for name, low in (("dark", 0), ("light", 160)):
            (folder / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(low, low + 96, size=(16, 16), dtype=np.uint8)
                Image.fromarray(pixels, mode="L").save(folder / split / name / f"{i}.png")


def trainer() -> None:
    """Trainer.train_epoch and validate on a tiny two-class problem (uses your ImageLoader)."""
    from proj4_code.runner import Trainer

    torch.manual_seed(0)
    model = _Brightness()
    with tempfile.TemporaryDirectory() as folder:
        _dark_and_light(Path(folder) / "data")
        run = Trainer(Path(folder) / "data", model, torch.optim.SGD(model.parameters(), lr=1.0),
                      Path(folder) / "checkpoints", transforms.ToTensor(), transforms.ToTensor(),
                      batch_size=4, load_from_disk=False, device="cpu", progress=False)
        before = [p.detach().clone() for p in model.parameters()]
        first_loss, _ = run.validate()
        assert math.isfinite(first_loss), f"validate returned loss {first_loss}"
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "validate changed the weights"
        loss, _ = run.train_epoch()
        assert math.isfinite(loss), f"train_epoch returned loss {loss}"
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters())), (
            "train_epoch did not change the weights: call loss.backward() and optimizer.step()")
        for _ in range(5):
            run.train_epoch()
        val_loss, val_accuracy = run.validate()
    assert val_loss < first_loss, f"validation loss {first_loss:.4f} -> {val_loss:.4f}: it should fall on this problem"
    assert val_accuracy == 1.0, f"dark vs. light images should be learnt perfectly, got accuracy {val_accuracy:.2f}"


# -- Part 2 -----------------------------------------------------------------------------------------
def fundamental_augmentation_transforms() -> None:
    from proj4_code.data_transforms import get_fundamental_augmentation_transforms

    compose = get_fundamental_augmentation_transforms((64, 64))
    kinds = _transform_types(compose)
    for needed in (transforms.RandomHorizontalFlip, transforms.ColorJitter):
        assert needed in kinds, f"{needed.__name__} is missing"
    image = _gray_image(100, 80)
    outputs = [compose(image) for _ in range(10)]
    shapes = {tuple(o.shape) for o in outputs}
    assert shapes == {(1, 64, 64)}, f"expected shape (1, 64, 64), got {shapes}"
    assert all(0 <= o.min() and o.max() <= 1 for o in outputs), "values should be in [0, 1] (no Normalize here)"
    assert any(not torch.equal(outputs[0], o) for o in outputs[1:]), "10 calls gave the same image: nothing is random"


def all_transforms() -> None:
    from proj4_code.data_transforms import get_all_transforms

    compose = get_all_transforms((64, 64), 0.5, 0.25)
    kinds = _transform_types(compose)
    for needed in (transforms.RandomHorizontalFlip, transforms.ColorJitter, transforms.Normalize):
        assert needed in kinds, f"{needed.__name__} is missing"
    normalize = next(t for t in compose.transforms if isinstance(t, transforms.Normalize))
    assert list(normalize.mean) == [0.5] and list(normalize.std) == [0.25], (
        f"Normalize should use the given mean and std, got {normalize.mean}, {normalize.std}")
    out = compose(_gray_image(100, 80))
    assert tuple(out.shape) == (1, 64, 64), f"expected shape (1, 64, 64), got {tuple(out.shape)}"


def simple_net_final() -> None:
    from proj4_code.simple_net_final import SimpleNetFinal

    model = SimpleNetFinal()
    for mode in (True, False):
        out = model.train(mode)(torch.randn(4, 1, 64, 64))
        assert tuple(out.shape) == (4, 15), f"output shape {tuple(out.shape)} in {'train' if mode else 'eval'} mode"
    for kind, least in ((nn.Conv2d, 3), (nn.BatchNorm2d, 1), (nn.Dropout, 1), (nn.Linear, 2), (nn.ReLU, 1)):
        assert _count(model, kind) >= least, f"at least {least} {kind.__name__} layer(s) needed"
    assert isinstance(model.loss_criterion, nn.CrossEntropyLoss), "loss_criterion should be nn.CrossEntropyLoss"


def confusion_matrix() -> None:
    """generate_confusion_matrix on a worked example, generate_confusion_data with a stand-in model."""
    from proj4_code.confusion_matrix import generate_confusion_data, generate_confusion_matrix

    targets, preds = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2])
    counts = generate_confusion_matrix(targets, preds, 4, normalize=False)
    expected = np.array([[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]])
    assert np.array_equal(counts, expected), f"counts (rows = true class):\n{counts}\nexpected\n{expected}"
    fractions = generate_confusion_matrix(targets, preds, 4, normalize=True)
    expected_fractions = expected / np.array([2, 1, 3, 1])[:, None]
    assert np.allclose(fractions, expected_fractions), (
        f"normalize=True divides each row by its count (an empty class's row stays 0), got\n{fractions}")

    scores = [[5, 0, 0], [0, 5, 0], [5, 0, 0], [0, 0, 5]]
    data = _FixedOutputs(scores, [0, 1, 1, 2], class_names=["a", "b", "c"])
    got_targets, got_preds, labels = generate_confusion_data(_Scores(), data)
    assert list(got_targets) == [0, 1, 1, 2], f"targets {list(got_targets)}, expected [0, 1, 1, 2]"
    assert list(got_preds) == [0, 1, 0, 2], f"predictions {list(got_preds)}, expected the argmax [0, 1, 0, 2]"
    assert list(labels) == ["a", "b", "c"], f"class labels {labels}"


# -- Part 3 -----------------------------------------------------------------------------------------
def _frozen_head_model(model: nn.Module, outputs: int) -> torch.Tensor:
    """Checks shared by Parts 3 and 4; returns the model's output for two small images."""
    assert all(not p.requires_grad for p in model.conv_layers.parameters()), "freeze every parameter of conv_layers"
    with torch.no_grad():
        features = model.conv_layers(torch.rand(2, 1, 96, 96)).flatten(1).shape[1]
    trainable = _trainable(model)
    assert trainable == (features + 1) * outputs, (
        f"{trainable} trainable parameters; only the head Linear({features} -> {outputs}) should train, "
        f"{(features + 1) * outputs}")
    out = model(torch.rand(2, 1, 96, 96))
    assert tuple(out.shape) == (2, outputs), f"output shape {tuple(out.shape)}, expected (2, {outputs})"
    return out


def my_resnet(backbone: str = "resnet18") -> None:
    """MyResNet18 built without pretrained weights (fast, offline): frozen backbone, 15-way head."""
    from proj4_code.my_resnet import MyResNet18

    model = MyResNet18(pretrained=False, backbone=backbone)
    _frozen_head_model(model, 15)
    assert isinstance(model.loss_criterion, nn.CrossEntropyLoss), "loss_criterion should be nn.CrossEntropyLoss"


# -- Part 4 -----------------------------------------------------------------------------------------
def multilabel_image_loader(data_dir) -> None:
    from proj4_code.image_loader import MultiLabelImageLoader

    csv_path = Path(data_dir) / "scene_attributes_train.csv"
    with open(csv_path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    loader = MultiLabelImageLoader(str(data_dir), str(csv_path), split="train", transform=transforms.ToTensor())
    assert len(loader) == len(rows), f"len(loader) is {len(loader)}, {csv_path.name} has {len(rows)} rows"
    image, flags = loader[0]
    assert isinstance(image, torch.Tensor) and image.shape[0] == 1, "loader[0] should apply self.transform"
    expected = torch.tensor([float(c) for c in rows[0][2:]])
    assert isinstance(flags, torch.Tensor) and flags.shape == (len(ATTRIBUTES),), (
        f"the attribute flags should be a tensor of shape ({len(ATTRIBUTES)},)")
    assert torch.equal(flags.float(), expected), f"flags of row 1 should be {expected.tolist()}, got {flags.tolist()}"


def multilabel_resnet(backbone: str = "resnet18") -> None:
    """MultilabelResNet18 without pretrained weights: frozen backbone, 7 sigmoid outputs, BCE loss."""
    from proj4_code.multilabel_resnet import MultilabelResNet18

    model = MultilabelResNet18(pretrained=False, backbone=backbone)
    assert isinstance(model.activation, nn.Sigmoid), "activation should be nn.Sigmoid (its own attribute)"
    assert not any(isinstance(m, nn.Sigmoid) for m in model.fc_layers.modules()), "keep the sigmoid out of fc_layers"
    out = _frozen_head_model(model, len(ATTRIBUTES))
    assert 0 <= out.min() and out.max() <= 1, "forward should return probabilities in [0, 1]"
    assert isinstance(model.loss_criterion, nn.BCELoss), "loss_criterion should be nn.BCELoss"


def compute_multilabel_accuracy() -> None:
    from proj4_code.dl_utils import compute_multilabel_accuracy as accuracy

    probs = torch.tensor([[0.9, 0.2, 0.5], [0.4, 0.6, 0.1]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    value = accuracy(probs, labels)
    assert isinstance(value, float), f"should return a Python float, got {type(value).__name__}"
    assert math.isclose(value, 4 / 6, abs_tol=1e-6), (
        f"4 of the 6 entries are right (0.5 counts as 1): expected {4 / 6:.4f}, got {value}")


def accuracy_table() -> None:
    """generate_accuracy_table on a worked example, generate_accuracy_data with a stand-in model."""
    from proj4_code.confusion_matrix import generate_accuracy_data, generate_accuracy_table

    targets = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1]])
    preds = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [1, 1, 0]])
    table = generate_accuracy_table(targets, preds, 3)
    assert np.allclose(table, [0.75, 0.75, 0.5]), f"per-attribute accuracy {table}, expected [0.75, 0.75, 0.5]"

    probs = [[0.9, 0.1, 0.5], [0.2, 0.7, 0.49]]
    data = _FixedOutputs(probs, [[1, 0, 1], [0, 0, 1]])
    got_targets, got_preds = generate_accuracy_data(_Scores(), data, 3)
    assert np.array_equal(got_preds, [[1, 0, 1], [0, 1, 0]]), (
        f"predictions {got_preds.tolist()}, expected probability >= 0.5 as 1: [[1, 0, 1], [0, 1, 0]]")
    assert np.array_equal(got_targets, [[1, 0, 1], [0, 0, 1]]), f"targets {got_targets.tolist()}"
