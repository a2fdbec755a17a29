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


def _other_backbones(backbone: str) -> list:
    """The given backbone first, then the other one where it can be built (efficientnet_lite0 needs timm):
    a head must follow the backbone's feature size, whichever backbone this machine uses."""
    import importlib.util

    from proj4_lib.backbones import BACKBONES

    others = [b for b in BACKBONES if b != backbone and (b != "efficientnet_lite0" or importlib.util.find_spec("timm"))]
    return [backbone] + others


def _raw_scores(model: nn.Module, x: torch.Tensor) -> None:
    """Single-label models return raw scores (logits): CrossEntropyLoss applies the softmax itself."""
    model.eval()
    with torch.no_grad():
        scores = model(x) * 1000
    sums = scores.sum(dim=1)
    assert not torch.allclose(sums, torch.full_like(sums, 1000.0), rtol=1e-3) and scores.min() < 0, (
        "the output rows look like probabilities (non-negative, summing to 1): forward should return the raw "
        "scores (logits), with no softmax")


def _relu_in_every_conv_block(conv_layers: nn.Module) -> None:
    layers = [m for m in conv_layers.modules() if not list(m.children())]
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    for i, start in enumerate(convs):
        block = layers[start:convs[i + 1] if i + 1 < len(convs) else len(layers)]
        assert any(isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU)) for m in block), (
            f"conv block {i + 1} ({' -> '.join(type(m).__name__ for m in block)}) has no ReLU; expected a "
            "non-linearity after every Conv2d")


class _ReverseListing:
    """Within `with`: os.listdir / os.scandir list names in reverse alphabetical order, so code that
    does not sort shows it on every filesystem."""

    class _Entries(list):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def close(self):
            pass

    def __enter__(self):
        self.listdir, self.scandir = os.listdir, os.scandir
        listdir, scandir, entries = self.listdir, self.scandir, self._Entries

        def reversed_scandir(path="."):
            with scandir(path) as found:
                return entries(sorted(found, key=lambda e: e.name, reverse=True))

        os.listdir = lambda path=".": sorted(listdir(path), reverse=True)
        os.scandir = reversed_scandir
        return self

    def __exit__(self, *exc):
        os.listdir, os.scandir = self.listdir, self.scandir
        return False


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

    # A small tree listed in reverse order (whatever your filesystem does): your code must sort.
    with tempfile.TemporaryDirectory() as folder, _ReverseListing():
        for name in ("b", "c", "a"):
            for file_name in ("2.png", "1.jpg", "3.JPG"):
                (Path(folder) / "train" / name).mkdir(parents=True, exist_ok=True)
                _constant_image(40 * "abc".index(name)).save(Path(folder) / "train" / name / file_name,
                                                            format="PNG" if file_name.endswith("png") else "JPEG")
        small = ImageLoader(folder, split="train", transform=transforms.ToTensor())
        assert small.class_dict == {"a": 0, "b": 1, "c": 2}, (
            f"folders b, c, a should be numbered {{'a': 0, 'b': 1, 'c': 2}} (sorted), got {small.class_dict}")
        got = [(os.path.relpath(p, Path(folder) / "train"), y) for p, y in small.dataset]
        expected = [(os.path.join(c, f), i) for i, c in enumerate("abc") for f in ("1.jpg", "2.png", "3.JPG")]
        assert got == expected, f"image paths should be every .jpg/.jpeg/.png (any case), sorted by class then " \
                                f"file name:\n{expected}\ngot\n{got}"
        for index in (0, 8):
            image, label = small[index]
            assert type(label) is int, f"the label should be a Python int, got {type(label).__name__}"
            assert isinstance(image, torch.Tensor), "loader[i] should apply self.transform"


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
    out = compose(_constant_image(204))  # 204 / 255 = 0.8, normalised to (0.8 - 0.4) / 0.2 = 2
    assert tuple(out.shape) == (1, 64, 64), f"expected shape (1, 64, 64), got {tuple(out.shape)}"
    assert torch.allclose(out, torch.full_like(out, 2.0), atol=1e-4), (
        f"a pixel of 0.8 with mean 0.4 and std 0.2 should become (0.8 - 0.4) / 0.2 = 2.0, got {out.mean():.4f}")


def simple_net() -> None:
    from proj4_code.simple_net import SimpleNet

    model = SimpleNet()
    out = model(torch.randn(2, 1, 64, 64))
    assert tuple(out.shape) == (2, 15), f"output shape {tuple(out.shape)}, expected (2, 15)"
    assert _count(model, nn.Conv2d) == 2 and _count(model, nn.Linear) == 2, "expected 2 Conv2d and 2 Linear layers"
    params = sum(p.numel() for p in model.parameters())
    assert params == 56_895, f"{params} parameters, the figure's network has 56,895"
    kinds = [type(m).__name__ for m in model.conv_layers]
    assert kinds == ["Conv2d", "MaxPool2d", "ReLU"] * 2, f"conv_layers should be (Conv2d, MaxPool2d, ReLU) twice, " \
                                                          f"as in the figure; got {kinds}"
    for conv in (model.conv_layers[0], model.conv_layers[3]):
        assert conv.kernel_size == (5, 5) and conv.stride == (1, 1) and conv.padding == (0, 0), (
            f"{conv}: the figure's convolutions have kernel 5, stride 1 and no padding")
    for pool in (model.conv_layers[1], model.conv_layers[4]):
        assert pool.kernel_size == 3 and pool.stride == 3, f"{pool}: the figure's pools are 3 x 3 with stride 3"
    kinds = [type(m).__name__ for m in model.fc_layers]
    assert kinds == ["Linear", "ReLU", "Linear"], f"fc_layers should be Linear, ReLU, Linear; got {kinds}"
    _raw_scores(model, torch.rand(4, 1, 64, 64))
    assert isinstance(model.loss_criterion, nn.CrossEntropyLoss) and model.loss_criterion.reduction == "mean", (
        f"loss_criterion should be nn.CrossEntropyLoss(reduction='mean'), got {model.loss_criterion}")


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
    # Multi-label (Part 4): 4 samples x 7 attributes; normalised means the mean over all 28 entries.
    probs, flags = torch.rand(4, 7).clamp(0.05, 0.95), torch.randint(0, 2, (4, 7)).float()
    expected = nn.functional.binary_cross_entropy(probs, flags)
    for reduction in ("mean", "sum"):
        loss = loss_of(_Scores(nn.BCELoss(reduction=reduction)), probs, flags)
        assert torch.isclose(loss, expected), (
            f"BCELoss(reduction={reduction!r}) on (4, 7) targets: the mean over all 28 entries is {expected:.4f}, "
            f"got {loss:.4f} (divide a sum by target_labels.numel(), not by the batch size)")


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
    sgd = make(model, {"optimizer_type": "sgd", "lr": 0.1, "weight_decay": 1e-3})
    assert sgd.param_groups[0]["weight_decay"] == 1e-3, "SGD takes weight_decay from the config"
    default = make(model, {})
    group = default.param_groups[0]
    assert isinstance(default, torch.optim.SGD) and (group["lr"], group["weight_decay"], group["momentum"]) == (
        0.01, 0, 0), f"an empty config means SGD, lr 0.01, weight_decay 0, momentum 0; got {default}"


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
    model = _brightness_model()
    with tempfile.TemporaryDirectory() as folder:
        _dark_and_light(Path(folder) / "data")
        # training_step on its own: .grad must be the gradient of this batch alone (lr = 0: no weight moves).
        frozen = Trainer(Path(folder) / "data", model, torch.optim.SGD(model.parameters(), lr=0.0),
                         Path(folder) / "frozen", transforms.ToTensor(), transforms.ToTensor(),
                         batch_size=4, load_from_disk=False, device="cpu", progress=False)
        for x, y in list(frozen.train_loader)[:3]:
            model.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            expected = [p.grad.clone() for p in model.parameters()]
            model.zero_grad()  # leave what a previous step would: gradients of another batch
            nn.functional.cross_entropy(model(x.flip(0)[:1]), y.flip(0)[:1]).backward()
            output, loss = frozen.training_step(x, y)
            assert tuple(output.shape) == (len(y), 2) and loss.dim() == 0, "training_step returns (output, loss)"
            assert all(p.grad is not None and torch.allclose(p.grad, g, atol=1e-6)
                       for p, g in zip(model.parameters(), expected)), (
                "after training_step the gradients are not those of the batch: call optimizer.zero_grad() "
                "before loss.backward(), then optimizer.step()")

        run = Trainer(Path(folder) / "data", model, torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.5),
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
        trained = [p.detach().clone() for p in model.parameters()]
        val_loss, val_accuracy = run.validate()
        assert all(torch.equal(a, b) for a, b in zip(trained, model.parameters())), (
            "validate changed the weights after training: validation_step must not call backward() or "
            "optimizer.step() (the optimizer still holds the last gradients)")
        outputs, targets = run.validation_outputs()
        expected = nn.functional.cross_entropy(outputs, targets).item()
        assert math.isclose(val_loss, expected, rel_tol=1e-4), (
            f"validate returned loss {val_loss:.4f}, expected the mean cross-entropy {expected:.4f}")

        # Parts 3-4 train on cached backbone features: the steps must use self.model_output(x).
        cached = Trainer(Path(folder) / "data", model, torch.optim.SGD(model.parameters(), lr=1.0),
                         Path(folder) / "cached", transforms.ToTensor(), transforms.ToTensor(), batch_size=4,
                         load_from_disk=False, device="cpu", progress=False, cache_features=True)
        cached.train_epoch()
        cached.validate()
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
    assert transforms.RandomVerticalFlip not in kinds, "no RandomVerticalFlip: an upside-down scene is not a scene"

    # On 15-Scene-sized images (256 x 256, 411 x 200): 8 stripes across the width, then the height; the
    # augmentation must keep at least 70 % of the scene in view (a small shift or crop, not a zoom).
    for height, width in ((256, 256), (200, 411)):
        for vertical in (True, False):
            n = width if vertical else height
            wave = 128 + 100 * np.sin(2 * np.pi * 8 * (np.arange(n) + 0.5) / n)
            pixels = np.tile(wave, (height, 1)) if vertical else np.tile(wave[:, None], (1, width))
            for _ in range(8):
                out = compose(Image.fromarray(pixels.astype(np.uint8), mode="L"))
                assert tuple(out.shape) == (1, 64, 64), f"a {width} x {height} image gave shape {tuple(out.shape)}"
                profile = out[0].mean(dim=0 if vertical else 1)
                signs = torch.sign(profile - profile.mean())
                seen = int((signs[1:] != signs[:-1]).sum()) / 2
                assert seen >= 5.6, (
                    f"a {width} x {height} image with 8 stripes across its {'width' if vertical else 'height'} came "
                    f"out with {seen}: about {seen / 8:.0%} of the scene stays in view, expected at least 70 % "
                    "(resize to inp_size (H, W) first, then shift or crop a little)")


def all_transforms() -> None:
    from proj4_code.data_transforms import get_all_transforms

    compose = get_all_transforms((64, 64), 0.5, 0.25)
    kinds = _transform_types(compose)
    for needed in (transforms.RandomHorizontalFlip, transforms.ColorJitter, transforms.Normalize):
        assert needed in kinds, f"{needed.__name__} is missing"
    normalize = next(t for t in compose.transforms if isinstance(t, transforms.Normalize))
    assert list(normalize.mean) == [0.5] and list(normalize.std) == [0.25], (
        f"Normalize should use the given mean and std, got {normalize.mean}, {normalize.std}")
    assert isinstance(compose.transforms[-1], transforms.Normalize), "Normalize comes last, after ToTensor"
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
    _relu_in_every_conv_block(model.conv_layers)
    _raw_scores(model, torch.randn(4, 1, 64, 64))
    assert isinstance(model.loss_criterion, nn.CrossEntropyLoss) and model.loss_criterion.reduction == "mean", (
        f"loss_criterion should be nn.CrossEntropyLoss(reduction='mean'), got {model.loss_criterion}")


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
    linears = [(m.in_features, m.out_features) for m in model.fc_layers.modules() if isinstance(m, nn.Linear)]
    assert linears == [(features, outputs)], (
        f"backbone {model.backbone_name} gives {features} features: the head should be Linear({features}, {outputs}) "
        f"(use num_features, not a constant), got Linear layers {linears}")
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

    for name in _other_backbones(backbone):
        model = MyResNet18(pretrained=False, backbone=name)
        _frozen_head_model(model, 15)
        _raw_scores(model, torch.rand(4, 1, 64, 64))
        assert isinstance(model.loss_criterion, nn.CrossEntropyLoss) and model.loss_criterion.reduction == "mean", (
            f"loss_criterion should be nn.CrossEntropyLoss(reduction='mean'), got {model.loss_criterion}")


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
    assert isinstance(flags, torch.Tensor) and flags.shape == (len(ATTRIBUTES),) and flags.dtype == torch.float32, (
        f"the attribute flags should be a float32 tensor of shape ({len(ATTRIBUTES)},) (BCELoss needs floats), "
        f"got {flags!r}")
    assert torch.equal(flags.float(), expected), f"flags of row 1 should be {expected.tolist()}, got {flags.tolist()}"


def multilabel_resnet(backbone: str = "resnet18") -> None:
    """MultilabelResNet18 without pretrained weights: frozen backbone, 7 sigmoid outputs, BCE loss."""
    from proj4_code.multilabel_resnet import MultilabelResNet18

    for name in _other_backbones(backbone):
        model = MultilabelResNet18(pretrained=False, backbone=name).eval()
        assert isinstance(model.activation, nn.Sigmoid), "activation should be nn.Sigmoid (its own attribute)"
        assert not any(isinstance(m, nn.Sigmoid) for m in model.fc_layers.modules()), "keep the sigmoid out of fc_layers"
        out = _frozen_head_model(model, len(ATTRIBUTES))
        x = torch.rand(2, 1, 96, 96)
        with torch.no_grad():
            out, logits = model(x), model.fc_layers(torch.flatten(model.conv_layers(x), 1))
        assert torch.allclose(out, torch.sigmoid(logits), atol=1e-6), (
            "forward should return activation(fc_layers(features)): a sigmoid per attribute, probabilities in [0, 1]")
        assert isinstance(model.loss_criterion, nn.BCELoss) and model.loss_criterion.reduction == "mean", (
            f"loss_criterion should be nn.BCELoss(reduction='mean'), got {model.loss_criterion}")


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
