"""Quick checks the notebook runs right after each TODO (provided; proj4_tools: it imports your code).

Each function exercises one piece of your code on small inputs and raises AssertionError saying
what is wrong. The notebook runs them through utils.verify, which prints "Correct",
"Wrong: <what>" or "Not implemented yet". What each TODO must do is written once, in
expectations.py; the public tests (proj4_unit_tests, pytest) call the same expectations and check
more, and so does the autograder.

Your code is imported inside each check, so a check runs whatever state your other files are in.
"""
from __future__ import annotations

import csv
import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision import transforms

from proj4_lib import expectations as expect
from proj4_lib.fixtures import class_tree, constant_image, noise_image, ramp_image


class _Scores(nn.Module):
    """A stand-in model whose output is its input."""

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


def _backbones(backbone: str) -> list:
    """The given backbone first, then the others that can be built here (efficientnet_lite0 needs timm):
    a head must follow the backbone's feature size, whichever backbone this machine uses."""
    import importlib.util

    from proj4_lib.backbones import BACKBONES

    others = [b for b in BACKBONES if b != backbone and (b != "efficientnet_lite0" or importlib.util.find_spec("timm"))]
    return [backbone] + others


# -- Part 1 -----------------------------------------------------------------------------------------
def image_loader(data_dir) -> None:
    """ImageLoader: class numbering, image paths, items and length on the installed data, and on a
    small tree listed in reverse order (whatever your filesystem does, your code must sort)."""
    from proj4_code.image_loader import ImageLoader

    loader = ImageLoader(str(data_dir), split="train", transform=None)
    expect.scene_classes(loader.class_dict)
    on_disk = expect.images_on_disk(Path(data_dir) / "train")
    assert len(loader.dataset) == on_disk, f"found {len(loader.dataset)} image paths, but train/ holds {on_disk} images"
    assert len(loader) == on_disk, f"len(loader) is {len(loader)}, expected {on_disk}"
    for path, label in loader.dataset[:: max(1, on_disk // 50)]:
        assert Path(path).is_file(), f"{path} is not a file"
        folder = Path(path).parent.name
        assert label == loader.class_dict[folder], f"{path} is labelled {label}, but {folder} is class " \
                                                   f"{loader.class_dict[folder]}"
    loader.transform = transforms.ToTensor()
    expect.loader_items(loader, [0])
    with tempfile.TemporaryDirectory() as folder:
        expect.sorted_image_folders(ImageLoader, Path(folder))


def compute_mean_and_std() -> None:
    """compute_mean_and_std on two small images in nested folders, against NumPy's answer."""
    from proj4_code.stats_helper import compute_mean_and_std as compute

    images = {Path("train", "a", "ramp.png"): np.tile(np.arange(0, 256, 16, dtype=np.uint8), (12, 1)),
              Path("test", "b", "flat.png"): np.full((5, 7), 200, dtype=np.uint8)}
    with tempfile.TemporaryDirectory() as folder:
        expect.mean_and_std_match_numpy(compute, Path(folder), images, tolerance=1e-6)


def fundamental_transforms() -> None:
    from proj4_code.data_transforms import get_fundamental_transforms

    for size in ((64, 64), (32, 48)):
        expect.image_tensor(get_fundamental_transforms(size)(noise_image(100, 80)), size)
        expect.resizes_whole_image(get_fundamental_transforms(size), ramp_image(100, 120), size)


def fundamental_normalization_transforms() -> None:
    from proj4_code.data_transforms import get_fundamental_normalization_transforms

    compose = get_fundamental_normalization_transforms((64, 64), 0.4, 0.2)
    expect.transform_types(compose)
    plain = transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor()])  # the fundamental preset
    expect.normalizes_with(compose, plain, ramp_image(100, 120), 0.4, 0.2)
    out = compose(constant_image(204))  # 204 / 255 = 0.8, normalised to (0.8 - 0.4) / 0.2 = 2
    expect.image_tensor(out, (64, 64), in_unit_range=False)
    assert torch.allclose(out, torch.full_like(out, 2.0), atol=1e-4), (
        f"a pixel of 0.8 with mean 0.4 and std 0.2 should become (0.8 - 0.4) / 0.2 = 2.0, got {out.mean():.4f}")


def simple_net() -> None:
    from proj4_code.simple_net import SimpleNet

    model = SimpleNet()
    out = model(torch.randn(2, 1, 64, 64))
    assert tuple(out.shape) == (2, 15), f"output shape {tuple(out.shape)}, expected (2, 15)"
    expect.simple_net_layers(model)
    expect.simple_net_parameters(model)
    expect.raw_scores(model, torch.rand(4, 1, 64, 64))
    expect.raises_on_wrong_input(model)
    expect.classifier_attributes(model)


def compute_accuracy() -> None:
    from proj4_code.dl_utils import compute_accuracy as accuracy

    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 0.5], [0.0, 0.0, 5.0]])
    expect.accuracy_value(accuracy, logits, torch.tensor([0, 1, 2, 2]), 0.75, "3 of 4 predictions are right")


def compute_loss() -> None:
    from proj4_code.dl_utils import compute_loss as loss_of

    logits, labels = torch.randn(4, 15, requires_grad=True), torch.tensor([0, 3, 14, 7])
    expect.loss_normalised_once(loss_of, nn.CrossEntropyLoss, logits, labels,
                                nn.functional.cross_entropy(logits, labels).item())
    # Multi-label (Part 4): 4 samples x 7 attributes; normalised means the mean over all 28 entries.
    probs = torch.rand(4, 7).clamp(0.05, 0.95).requires_grad_()
    flags = torch.randint(0, 2, (4, 7)).float()
    expect.loss_normalised_once(loss_of, nn.BCELoss, probs, flags,
                                nn.functional.binary_cross_entropy(probs, flags).item())


def get_optimizer() -> None:
    from proj4_code.optimizer import get_optimizer as make

    for optimizer_type in ("adam", "sgd"):
        expect.optimizer_follows_config(make, optimizer_type)
        expect.optimizes_only_trainable(make, optimizer_type)
    expect.optimizer_defaults(make)


def _brightness_model() -> nn.Module:
    """Classifies an image by its mean brightness: all a dark vs. light problem needs. Its 'backbone'
    (average pooling) has no weights, so it also runs with cached features, like Parts 3-4."""
    from proj4_lib.backbones import FrozenBackboneModel

    class Brightness(FrozenBackboneModel):
        def __init__(self):
            super().__init__()
            self.conv_layers = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc_layers = nn.Linear(1, 2)
            self.loss_criterion = nn.CrossEntropyLoss()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.conv_layers(x))

    return Brightness()


def _dark_and_light(folder: Path) -> Path:
    """A two-class dataset anyone can learn: dark noise vs. light noise, 16 x 16."""
    low = (0, 160)
    return class_tree(folder, ("dark", "light"), {"train": 8, "test": 4},
                      pixels=lambda rng, c: rng.integers(low[c], low[c] + 96, size=(16, 16), dtype=np.uint8))


def trainer() -> None:
    """Trainer.train_epoch and validate on a tiny two-class problem (uses your ImageLoader): one optimizer
    step per training_step, validation in eval mode changing nothing, the cached-features path."""
    from proj4_code.runner import Trainer

    torch.manual_seed(0)
    model = _brightness_model()
    with tempfile.TemporaryDirectory() as folder:
        data = _dark_and_light(Path(folder) / "data")

        def make(optimizer, out: str, model=model, **kwargs):
            return Trainer(data, model, optimizer, Path(folder) / out, transforms.ToTensor(), transforms.ToTensor(),
                           batch_size=4, load_from_disk=False, device="cpu", progress=False, **kwargs)

        # A model with batch norm (and dropout for validation): a step or a validation in the wrong mode shows.
        steps = expect.BatchNormNet(2)
        stepper = make(torch.optim.SGD(steps.parameters(), lr=0.1), "steps", model=steps)
        expect.training_step_is_one_step(stepper, list(stepper.train_loader)[:3])
        checked = expect.BatchNormNet(2, dropout=0.5)
        expect.validate_changes_nothing(make(torch.optim.SGD(checked.parameters(), lr=0.1), "eval", model=checked))

        run = make(torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.5), "checkpoints")
        before = [p.detach().clone() for p in model.parameters()]
        first_loss, _ = expect.validate_changes_nothing(run)
        loss, _ = run.train_epoch()
        assert math.isfinite(loss), f"train_epoch returned loss {loss}"
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters())), (
            "train_epoch did not change the weights: call loss.backward() and optimizer.step()")
        for _ in range(5):
            run.train_epoch()
        val_loss, val_accuracy = expect.validate_changes_nothing(run)

        # Parts 3-4 train on cached backbone features: the steps must use self.model_output(x).
        expect.steps_use_model_output(make(torch.optim.SGD(model.parameters(), lr=1.0), "cached", cache_features=True))
    assert val_loss < first_loss, f"validation loss {first_loss:.4f} -> {val_loss:.4f}: it should fall on this problem"
    assert val_accuracy == 1.0, f"dark vs. light images should be learnt perfectly, got accuracy {val_accuracy:.2f}"


# -- Part 2 -----------------------------------------------------------------------------------------
def fundamental_augmentation_transforms() -> None:
    """The augmentation preset by what it does to synthetic scenes (proj4_lib/rules.py: the graded rules)."""
    from proj4_code.data_transforms import get_fundamental_augmentation_transforms

    compose = get_fundamental_augmentation_transforms((64, 64))
    expect.transform_types(compose)
    image = noise_image(100, 80)
    for _ in range(10):
        expect.image_tensor(compose(image), (64, 64))  # no Normalize here: values stay in [0, 1]
    expect.random_but_seeded(compose, image)
    expect.flips_horizontally_sometimes(compose)
    expect.augmentation_behaviour(compose, (64, 64))


def all_transforms() -> None:
    """get_all_transforms: the augmentation preset plus Normalize with the given mean and std."""
    from proj4_code.data_transforms import get_all_transforms, get_fundamental_augmentation_transforms

    compose = get_all_transforms((64, 64), 0.5, 0.25)
    expect.transform_types(compose)
    expect.image_tensor(compose(noise_image(100, 80)), (64, 64), in_unit_range=False)
    expect.all_transforms_behaviour(compose, get_fundamental_augmentation_transforms((64, 64)), (64, 64), 0.5, 0.25)


def simple_net_final() -> None:
    """SimpleNetFinal's rules (the notebook's Part 2 and simple_net_final.py list them), checked before you train:
    the design rules, and that the grader can rebuild it from its layer list."""
    from proj4_code.simple_net_final import SimpleNetFinal

    model = SimpleNetFinal()
    for mode in (True, False):
        out = model.train(mode)(torch.randn(4, 1, 64, 64))
        assert tuple(out.shape) == (4, 15), f"output shape {tuple(out.shape)} in {'train' if mode else 'eval'} mode"
    expect.classifier_attributes(model)
    expect.final_net_design(model)
    expect.rebuildable(model)
    expect.raw_scores(model, torch.randn(4, 1, 64, 64))


def confusion_matrix() -> None:
    """generate_confusion_matrix on a worked example, generate_confusion_data with a stand-in model."""
    from proj4_code.confusion_matrix import generate_confusion_data, generate_confusion_matrix

    expect.confusion_matrix_rows(generate_confusion_matrix, np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]),
                                 4, np.array([[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]], dtype=float))
    scores = [[5, 0, 0], [0, 5, 0], [5, 0, 0], [0, 0, 5]]
    data = _FixedOutputs(scores, [0, 1, 1, 2], class_names=["a", "b", "c"])
    expect.confusion_data(generate_confusion_data, _Scores(), data, [0, 1, 1, 2], [0, 1, 0, 2], ["a", "b", "c"])


# -- Part 3 -----------------------------------------------------------------------------------------
def my_resnet(backbone: str = "resnet18") -> None:
    """MyResNet18 built without pretrained weights (fast, offline): frozen backbone, 15-way head."""
    from proj4_code.my_resnet import MyResNet18

    for name in _backbones(backbone):
        model = MyResNet18(pretrained=False, backbone=name)
        expect.frozen_backbone_head(model, 15)
        expect.raw_scores(model, torch.rand(4, 1, 64, 64))
        expect.loss_criterion(model, nn.CrossEntropyLoss)


# -- Part 4 -----------------------------------------------------------------------------------------
def multilabel_image_loader(data_dir) -> None:
    from proj4_code.image_loader import MultiLabelImageLoader

    csv_path = Path(data_dir) / "scene_attributes_train.csv"
    with open(csv_path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    loader = MultiLabelImageLoader(str(data_dir), str(csv_path), split="train", transform=transforms.ToTensor())
    expect.attribute_items(loader, rows, [0, len(rows) - 1])


def multilabel_resnet(backbone: str = "resnet18") -> None:
    """MultilabelResNet18 without pretrained weights: frozen backbone, 7 sigmoid outputs, BCE loss."""
    from proj4_code.multilabel_resnet import MultilabelResNet18

    for name in _backbones(backbone):
        model = MultilabelResNet18(pretrained=False, backbone=name).eval()
        expect.sigmoid_head(model)
        expect.frozen_backbone_head(model, 7)


def compute_multilabel_accuracy() -> None:
    from proj4_code.dl_utils import compute_multilabel_accuracy as accuracy

    probs = torch.tensor([[0.9, 0.2, 0.5], [0.4, 0.6, 0.1]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    expect.accuracy_value(accuracy, probs, labels, 4 / 6, "4 of the 6 entries are right (0.5 counts as 1)")


def accuracy_table() -> None:
    """generate_accuracy_table on a worked example, generate_accuracy_data with a stand-in model."""
    from proj4_code.confusion_matrix import generate_accuracy_data, generate_accuracy_table

    expect.accuracy_table_rows(generate_accuracy_table, np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1]]),
                               np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [1, 1, 0]]), [0.75, 0.75, 0.5])
    data = _FixedOutputs([[0.9, 0.1, 0.5], [0.2, 0.7, 0.49]], [[1, 0, 1], [0, 0, 1]])
    expect.accuracy_data(generate_accuracy_data, _Scores(), data, 3, [[1, 0, 1], [0, 0, 1]], [[1, 0, 1], [0, 1, 0]])
