"""What each TODO must do, written once (provided).

The notebook's checks (notebook_checks.py) and the public tests (proj4_unit_tests/) both call
these; each raises AssertionError saying what is wrong. They never import your code: you pass in
the function, class or object under test, so this module works whatever state proj4_code is in.

    Part 1   scene_classes, sorted_image_folders, loader_items, mean_and_std_match_numpy, image_tensor,
             resizes_whole_image, preset_output, normalizes_with, simple_net_layers, simple_net_parameters,
             classifier_attributes, loss_criterion, raw_scores, raises_on_wrong_input, accuracy_value,
             loss_normalised_once, optimizer_follows_config, optimizes_only_trainable, optimizer_defaults,
             training_step_is_one_step, validate_changes_nothing, steps_use_model_output
    Part 2   augmentation_behaviour (flips, jitter, view: proj4_lib/rules.py), keeps_the_scene,
             flips_horizontally_sometimes, random_but_seeded, all_transforms_behaviour, final_net_design,
             rebuildable, confusion_matrix_rows, confusion_data
    Part 3-4 head_follows_the_backbone, parameter_counts, frozen_backbone_head, forward_is_head_on_features,
             batch_of_one, sigmoid_head, attribute_items, accuracy_table_rows, accuracy_data

Judged by behaviour, never by how the code is written: any exception for a wrong input, any order of
the training step's calls that trains correctly, any transforms (torchvision.transforms or its v2) that
do what the handout asks. Where a graded check enforces a rule, the rule itself is proj4_lib/rules.py's.
"""
from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from proj4_lib import architecture, rules
from proj4_lib.files import ATTRIBUTES, IMAGE_EXTENSIONS
from proj4_lib.fixtures import write_images
from proj4_lib.utils import reset_seed

SCENE_CLASSES = ("bedroom", "coast", "forest", "highway", "industrial", "insidecity", "kitchen", "livingroom",
                 "mountain", "office", "opencountry", "store", "street", "suburb", "tallbuilding")


# -- Part 1: ImageLoader -----------------------------------------------------------------------------
def scene_classes(class_dict: Dict[str, int]) -> None:
    """The 15-Scene class folders, numbered 0..14 in alphabetical order."""
    assert isinstance(class_dict, dict) and len(class_dict) == len(SCENE_CLASSES), (
        f"class_dict should map the {len(SCENE_CLASSES)} class names, got {class_dict}")
    assert class_dict == {name: i for i, name in enumerate(SCENE_CLASSES)}, (
        f"classes are numbered in alphabetical order (bedroom 0 ... tallbuilding 14), got {class_dict}")


@contextlib.contextmanager
def reverse_listing() -> Iterator[None]:
    """Within `with`: os.listdir and os.scandir list names in reverse alphabetical order, whatever the
    filesystem does, so code that relies on the order a folder happens to be listed in shows it."""
    listdir, scandir = os.listdir, os.scandir

    class Entries(list):  # what scandir returns must also work as a context manager
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def close(self):
            pass

    def reversed_scandir(path="."):
        with scandir(path) as found:
            return Entries(sorted(found, key=lambda e: e.name, reverse=True))

    os.listdir = lambda path=".": sorted(listdir(path), reverse=True)
    os.scandir = reversed_scandir
    try:
        yield
    finally:
        os.listdir, os.scandir = listdir, scandir


def sorted_image_folders(loader_class: type, folder: Path) -> None:
    """On folder/train/{b,c,a}/{2.png,1.jpg,3.JPG,4.jpeg} (+ a text file in a class folder and a .DS_Store
    file beside the class folders, as macOS leaves), listed in reverse order: classes numbered a 0, b 1, c 2
    (folders only); every image in order of class, then file name; int labels; the transform applied."""
    names = ("2.png", "1.jpg", "3.JPG", "4.jpeg")
    write_images(folder, {Path("train", c, name): np.full((8, 8), 40 * "abc".index(c), np.uint8)
                          for c in "bca" for name in names})
    (Path(folder) / "train" / "a" / "notes.txt").write_text("not an image")
    (Path(folder) / "train" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # a file, not a class folder
    with reverse_listing():
        loader = loader_class(str(folder), split="train", transform=transforms.ToTensor())
        assert loader.class_dict == {"a": 0, "b": 1, "c": 2}, (
            f"folders b, c, a should be numbered {{'a': 0, 'b': 1, 'c': 2}} (sorted; a file such as .DS_Store "
            f"beside them is not a class), got {loader.class_dict}")
        got = [(os.path.relpath(p, Path(folder) / "train"), y) for p, y in loader.dataset]
        expected = [(os.path.join(c, f), i) for i, c in enumerate("abc") for f in sorted(names)]
        assert got == expected, ("image paths should be every .jpg/.jpeg/.png (any case), sorted by class then "
                                 f"file name:\n{expected}\ngot\n{got}")
        assert len(loader) == len(expected), f"len(loader) is {len(loader)}, expected {len(expected)}"
        for index in (0, len(expected) - 1):
            image, label = loader[index]
            assert type(label) is int, f"the label should be a Python int, got {type(label).__name__}"
            assert isinstance(image, torch.Tensor), "loader[i] should apply self.transform"


def loader_items(loader, indices: Sequence[int], size: Optional[Sequence[int]] = None) -> None:
    """loader[i] (its transform ends in ToTensor, resizing to `size` (H, W) if given) is a float32
    tensor (1, H, W) in [0, 1] and the int label of loader.dataset[i]; with the transform set to None
    it is the PIL grayscale image, values 0-255."""
    for index in indices:
        image, label = loader[index]
        assert isinstance(image, torch.Tensor) and image.dtype == torch.float32 and image.dim() == 3 \
            and image.shape[0] == 1 and (size is None or tuple(image.shape[1:]) == tuple(size)), (
            f"loader[{index}] should apply self.transform: expected a float32 tensor (1, "
            f"{', '.join(map(str, size)) if size else 'H, W'}), got {getattr(image, 'shape', type(image).__name__)}")
        assert 0.0 <= image.min() and image.max() <= 1.0, f"loader[{index}]: values should be in [0, 1]"
        assert type(label) is int and label == loader.dataset[index][1], (
            f"loader[{index}] should give the int label {loader.dataset[index][1]}, got {label!r}")
    transform, loader.transform = loader.transform, None
    try:
        image, _ = loader[indices[0]]
        assert isinstance(image, Image.Image) and image.mode == "L", (
            f"without a transform, loader[i] should give a PIL grayscale image, got {type(image).__name__}")
        pixels = np.asarray(image)
        assert pixels.dtype == np.uint8 and pixels.max() > 1, "values must be 0-255, not scaled to [0, 1]"
    finally:
        loader.transform = transform


def images_on_disk(folder: Path) -> int:
    return sum(1 for _, _, names in os.walk(folder) for name in names if name.lower().endswith(IMAGE_EXTENSIONS))


# -- Part 1: compute_mean_and_std ---------------------------------------------------------------------
def mean_and_std_match_numpy(compute: Callable, folder: Path, images: Dict[Path, np.ndarray],
                             tolerance: float) -> None:
    """compute(folder) over these images (written under folder, next to a text file) gives NumPy's mean
    and sample standard deviation (n - 1) of every pixel in [0, 1], as Python floats."""
    write_images(folder, images)
    (Path(folder) / next(iter(images)).parts[0] / "notes.txt").write_text("not an image")
    mean, std = compute(str(folder))
    grays = [np.asarray(Image.fromarray(np.asarray(p, np.uint8)).convert("L")) for p in images.values()]
    every_pixel = np.concatenate([g.ravel() for g in grays]).astype(np.float64) / 255.0
    expected_mean, expected_std = every_pixel.mean(), every_pixel.std(ddof=1)
    assert isinstance(mean, float) and isinstance(std, float), (
        f"return Python floats, got {type(mean).__name__} and {type(std).__name__}")
    assert math.isclose(mean, expected_mean, abs_tol=tolerance), f"mean {mean}, expected {expected_mean:.6f}"
    assert math.isclose(std, expected_std, abs_tol=tolerance), (
        f"std {std}, expected {expected_std:.6f} (the sample standard deviation, n - 1, of all pixels in [0, 1])")


# -- Part 1-2: transforms -----------------------------------------------------------------------------
def transform_types(compose) -> List[type]:
    """The types in a Compose (torchvision.transforms' or transforms.v2's)."""
    assert type(compose).__name__ == "Compose" and isinstance(getattr(compose, "transforms", None), list), (
        f"expected a transforms.Compose, got {type(compose).__name__}")
    return [type(t) for t in compose.transforms]


def image_tensor(out, size: Sequence[int], in_unit_range: bool = True) -> None:
    """A transform's output: a float32 tensor (1, H, W) for inp_size (H, W), in [0, 1] unless normalised."""
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32, (
        f"the output should be a float32 tensor, got {getattr(out, 'dtype', type(out).__name__)}")
    assert tuple(out.shape) == (1, *size), (
        f"inp_size {tuple(size)} (H, W) should give shape (1, {size[0]}, {size[1]}), got {tuple(out.shape)}")
    if in_unit_range:
        assert 0 <= out.min() and out.max() <= 1, "values should be in [0, 1]"


def resizes_whole_image(compose, image: Image.Image, size: Sequence[int]) -> None:
    """The output is the whole image resized to (H, W) (PIL's bilinear resize), not a crop of it."""
    out = compose(image)
    expected = transforms.functional.to_tensor(image.resize(tuple(size)[::-1], Image.BILINEAR))
    assert isinstance(out, torch.Tensor) and out.shape == expected.shape and torch.allclose(out, expected, atol=0.02), (
        f"a {image.width} x {image.height} image should be resized as a whole to {tuple(size)} (H, W) with "
        "transforms.Resize; the output differs from the resized image (a crop, e.g. CenterCrop, keeps only part of it)")


def preset_output(compose, image: Image.Image, size: Sequence[int], normalized: bool) -> None:
    """A preset is a transforms.Compose whose output for `image` (one that reaches past half
    brightness) is a float32 tensor (1, H, W); unnormalised, in [0, 1] and scaled, not all near 0."""
    transform_types(compose)
    out = compose(image)
    image_tensor(out, size, in_unit_range=not normalized)
    if not normalized:
        assert out.max() > 0.5, "values must be scaled to [0, 1] (ToTensor), not all near 0"


def normalizes_with(compose, plain, image: Image.Image, mean: float, std: float) -> None:
    """compose(image) is plain(image) normalised with exactly this mean and std: (x - mean) / std, within
    the 0.02 a resize may differ by (PIL's, or torch's on a tensor: transforms.v2's usual order)."""
    out, base = compose(image), plain(image)
    assert isinstance(out, torch.Tensor) and out.shape == base.shape, (
        f"the output should have the shape of the un-normalised preset's, {tuple(base.shape)}")
    assert torch.allclose(out, (base - mean) / std, atol=0.02 / std), (
        f"the output should be (x - mean) / std with the given mean {mean} and std {std} (transforms.Normalize, "
        "after ToTensor), and it is not")


# The synthetic images the augmentation rules are judged on (proj4_lib/rules.py), at 15-Scene's sizes.
STEP_LEVELS = (60, 180)  # the step image's dark and bright gray values
SCENE_SIZES = ((256, 256), (200, 411))  # (H, W) of the source images
AUGMENT_DRAWS, VIEW_DRAWS = 64, 8  # draws of the step image; of the plaid image, per size


def _pil(rows) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(np.asarray(rows, dtype=np.float64)), 0, 255).astype(np.uint8), mode="L")


def _channel(out, size: Sequence[int]) -> list:
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (1, *size), (
        f"inp_size {tuple(size)} (H, W) should give a tensor (1, {size[0]}, {size[1]}), got "
        f"{tuple(getattr(out, 'shape', ())) or type(out).__name__}")
    return out[0].tolist()


def augmentation_outputs(compose, size: Sequence[int], seed: int = 0) -> Tuple[list, list]:
    """(step summaries, plaid profiles) of a preset's outputs for the rules' images (rules.step_summary,
    rules.plaid_profiles), drawn under `seed`."""
    reset_seed(seed)
    step = _pil(rules.step_image(*SCENE_SIZES[0], *STEP_LEVELS))
    summaries = [rules.step_summary(_channel(compose(step), size)) for _ in range(AUGMENT_DRAWS)]
    profiles = [rules.plaid_profiles(_channel(compose(plaid), size)) for plaid in
                (_pil(rules.plaid_image(h, w)) for h, w in SCENE_SIZES) for _ in range(VIEW_DRAWS)]
    return summaries, profiles


def augmentation_behaviour(compose, size: Sequence[int]) -> list:
    """The augmentation preset by what it does (proj4_lib/rules.py, the graded checks' rules): random
    left-right flips, a brightness/contrast jitter centred on the image and not too strong, at least half
    the scene in view, values in [0, 1], random. Returns its step summaries."""
    summaries, profiles = augmentation_outputs(compose, size)
    problems = rules.augmentation_problems(summaries, profiles, STEP_LEVELS[0] / 255, STEP_LEVELS[1] / 255)
    wrong = [problem for problem in problems.values() if problem]
    assert not wrong, "; ".join(wrong)
    return summaries


def all_transforms_behaviour(compose, augmentation, size: Sequence[int], mean: float, std: float) -> None:
    """get_all_transforms is the augmentation preset plus Normalize(mean, std): its outputs, with the
    normalisation undone, stay in [0, 1] and look like the augmentation preset's (rules.normalize_problem)."""
    plain, _ = augmentation_outputs(augmentation, size)
    normalized, _ = augmentation_outputs(compose, size)
    undone = rules.unnormalize(normalized, mean, std)
    low, high = min(s[2] for s in undone), max(s[3] for s in undone)
    assert -0.02 <= low and high <= 1.02, (
        f"with Normalize undone (x * {std} + {mean}) the values span [{low:.2f}, {high:.2f}], not [0, 1]: normalise "
        "with exactly the mean and std given, once, after ToTensor")
    problem = rules.normalize_problem(plain, undone, STEP_LEVELS[0] / 255, STEP_LEVELS[1] / 255)
    assert not problem, problem


def keeps_the_scene(compose, size: Sequence[int]) -> None:
    """On 15-Scene-sized images every draw keeps at least half the scene in view (rules.view_problem:
    49 % of its area, 70 % of the width times 70 % of the height) and gives (1, H, W)."""
    _, profiles = augmentation_outputs(compose, size)
    problem = rules.view_problem(profiles)
    assert not problem, problem


def flips_horizontally_sometimes(compose, draws: int = 20) -> None:
    """Over `draws` calls an image with a bright top-left quarter comes out mirrored left-right sometimes
    but not every time (a random flip, p = 0.5), and never upside down."""
    pixels = np.zeros((200, 300), np.uint8)
    pixels[:100, :150] = 220  # bright top-left quarter
    reset_seed(0)
    mirrored = 0
    for _ in range(draws):
        out = compose(Image.fromarray(pixels, mode="L"))[0]
        h, w = out.shape
        top, left = out[: h // 2].mean() > out[h // 2:].mean(), out[:, : w // 2].mean() > out[:, w // 2:].mean()
        assert top, "the bright top came out at the bottom: no vertical flips"
        mirrored += not left
    assert 0 < mirrored < draws, (
        f"mirrored {mirrored} of {draws} times: RandomHorizontalFlip() flips half the time (p = 0.5), at random")


def random_but_seeded(compose, image: Image.Image, draws: int = 4) -> None:
    """Calls differ from each other, and repeat under the same seed (the randomness is torch's)."""
    reset_seed(0)
    first = [compose(image) for _ in range(draws)]
    assert any(not torch.equal(first[0], other) for other in first[1:]), (
        f"{draws} calls gave the same image: nothing is random")
    reset_seed(0)
    again = [compose(image) for _ in range(draws)]
    assert all(torch.equal(a, b) for a, b in zip(first, again)), "the same seed must give the same augmentation"


# -- Part 1-2: models ----------------------------------------------------------------------------------
def count(model: nn.Module, kind) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def classifier_attributes(model: nn.Module) -> None:
    """The course's attributes: conv_layers and fc_layers as nn.Sequential, a mean cross-entropy loss."""
    for name in ("conv_layers", "fc_layers"):
        assert isinstance(getattr(model, name, None), nn.Sequential), (
            f"{name} should be an nn.Sequential, got {type(getattr(model, name, None)).__name__}")
    loss_criterion(model, nn.CrossEntropyLoss)


def loss_criterion(model: nn.Module, kind: type) -> None:
    criterion = getattr(model, "loss_criterion", None)
    assert isinstance(criterion, kind) and criterion.reduction == "mean", (
        f"loss_criterion should be nn.{kind.__name__}(reduction='mean'), got {criterion}")


def raw_scores(model: nn.Module, x: torch.Tensor) -> None:
    """A single-label model returns raw scores (logits): no softmax, so the rows do not sum to 1 and the
    scores are not all in [0, 1] (CrossEntropyLoss applies log-softmax itself)."""
    model.eval()
    with torch.no_grad():
        scores = model(x) * 1000  # large enough that random logits leave [0, 1]; probabilities stay rows of sum 1000
    sums = scores.sum(dim=1)
    assert not torch.allclose(sums, torch.full_like(sums, 1000.0), rtol=1e-3), (
        "every row of the output sums to 1: forward returns probabilities; return the raw scores (logits), "
        "no softmax")
    assert scores.min() < 0, "no output is negative: forward should return raw scores (logits), not probabilities"


def layers_of(block: nn.Module) -> List[nn.Module]:
    """The layers of a block in forward order, nested Sequentials opened."""
    return [m for m in block.modules() if not list(m.children())]


FIGURE_CONV = ["Conv2d", "MaxPool2d", "ReLU"] * 2
FIGURE_FC = ["Linear", "ReLU", "Linear"]


def simple_net_figure() -> nn.Module:
    """The course's figure itself, for comparing outputs (the same parameters in the same order)."""
    figure = nn.Module()
    figure.conv_layers = nn.Sequential(nn.Conv2d(1, 10, 5), nn.MaxPool2d(3, 3), nn.ReLU(),
                                       nn.Conv2d(10, 20, 5), nn.MaxPool2d(3, 3), nn.ReLU())
    figure.fc_layers = nn.Sequential(nn.Linear(500, 100), nn.ReLU(), nn.Linear(100, 15))
    return figure


def simple_net_layers(model: nn.Module) -> None:
    """The course's figure: (Conv2d 5x5, MaxPool2d 3/3, ReLU) twice, 1 -> 10 -> 20 channels, then
    Linear(500, 100), ReLU, Linear(100, 15). A ReLU may come before its pool (they commute), nested
    Sequentials and Flatten layers are fine: with the same weights, the output must be the figure's."""
    conv, fc = layers_of(model.conv_layers), layers_of(model.fc_layers)
    kinds = [type(m).__name__ for m in conv]
    assert rules.figure_kinds(kinds) == rules.figure_kinds(FIGURE_CONV), (
        f"conv_layers should be (Conv2d, MaxPool2d, ReLU) twice, as in the figure; got {kinds}")
    convs = [m for m in conv if isinstance(m, nn.Conv2d)]
    for layer, channels in zip(convs, ((1, 10), (10, 20))):
        assert (layer.in_channels, layer.out_channels) == channels, (
            f"{layer}: the figure has {channels[0]} -> {channels[1]}")
        assert layer.kernel_size == (5, 5) and layer.stride == (1, 1) and layer.padding == (0, 0), (
            f"{layer}: the figure's convolutions have kernel 5, stride 1 and no padding")
    for pool in (m for m in conv if isinstance(m, nn.MaxPool2d)):
        assert pool.kernel_size in (3, (3, 3)) and pool.stride in (3, (3, 3)), (
            f"{pool}: the figure's pools are 3 x 3 with stride 3")
    kinds = [type(m).__name__ for m in fc]
    assert rules.figure_kinds(kinds) == FIGURE_FC, f"fc_layers should be Linear, ReLU, Linear; got {kinds}"
    linears = [(m.in_features, m.out_features) for m in fc if isinstance(m, nn.Linear)]
    assert linears == [(500, 100), (100, 15)], f"the figure's linear layers are 500 -> 100 and 100 -> 15, got {linears}"
    figure = simple_net_figure()
    with torch.no_grad():
        for mine, theirs in zip(architecture.canonical(figure.named_parameters()),
                                architecture.canonical(model.named_parameters())):
            mine[1].copy_(theirs[1])
        x = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(0))
        was_training = model.training
        expected = figure.fc_layers(torch.flatten(figure.conv_layers(x), 1))
        out = model.eval()(x)
        model.train(was_training)
    assert torch.allclose(out, expected, atol=1e-5), (
        "with the figure's layers and the same weights, forward gives other outputs than the figure: forward should "
        "be conv_layers, flatten to (N, 500), fc_layers, in that order")


def simple_net_parameters(model: nn.Module) -> None:
    params = sum(p.numel() for p in model.parameters())
    assert params == 56_895, f"{params} parameters, the figure's network has 56,895"
    assert all(p.requires_grad for p in model.parameters()), "every parameter of SimpleNet trains"


def raises_on_wrong_input(model: nn.Module, shapes=((2, 3, 64, 64), (2, 1, 32, 32))) -> None:
    """A wrong input shape raises an error: any exception (torch's own RuntimeError, or a ValueError of
    your own check) rather than a silent output."""
    for shape in shapes:
        try:
            with torch.no_grad():
                out = model(torch.rand(*shape))
        except Exception:  # noqa: BLE001 - which exception does not matter: that it raises does
            continue
        raise AssertionError(f"an input of shape {shape} gave an output of shape {tuple(getattr(out, 'shape', ()))}: "
                             "the model must raise an error (any exception) for input that is not (N, 1, 64, 64)")


def final_net_design(model: nn.Module) -> None:
    """SimpleNetFinal's design rules (proj4_lib/rules.py, as graded): at least 3 Conv2d, a BatchNorm2d,
    2 Linear, a Dropout with p > 0, a non-linearity after every Conv2d; in the layer types the grader
    rebuilds (proj4_lib/architecture.py)."""
    try:
        spec = architecture.describe(model)
    except architecture.ArchitectureError as err:
        raise AssertionError(f"the grader rebuilds SimpleNetFinal from its layer list and cannot: {err}") from None
    problem = rules.design_problem(spec)
    assert not problem, problem


def rebuildable(model: nn.Module, outputs: int = 15) -> None:
    """What the grader evaluates (proj4_lib/architecture.py): the model rebuilt from its layer list, with
    its weights, computes what forward computes, in eval mode and in train mode (the same dropout draws),
    within the size limits. save_trained_model_weights refuses a model that fails this."""
    try:
        rebuilt = architecture.rebuilt_copy(model, outputs)
    except architecture.ArchitectureError as err:
        raise AssertionError(f"the grader rebuilds SimpleNetFinal from its layer list (to grade its accuracy) and "
                             f"cannot: {err}") from None
    x = torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    was_training = model.training
    try:
        with torch.no_grad():
            for mode in (False, True):
                torch.manual_seed(1)
                got = model.train(mode)(x)
                torch.manual_seed(1)
                expected = rebuilt.train(mode)(x)
                assert got.shape == expected.shape and torch.allclose(got, expected, rtol=1e-4, atol=1e-5), (
                    f"in {'train' if mode else 'eval'} mode forward computes something else than its layers: "
                    "the grader evaluates fc_layers(torch.flatten(conv_layers(x), 1)), so forward must compute "
                    "exactly that, with every layer (dropout too) in conv_layers or fc_layers")
    finally:
        model.train(was_training)


# -- Part 1, 4: metrics and the loss --------------------------------------------------------------------
def accuracy_value(accuracy: Callable, outputs: torch.Tensor, labels: torch.Tensor, expected: float,
                   why: str) -> None:
    """accuracy(outputs, labels) is a Python float equal to `expected` (`why` says how it is counted)."""
    value = accuracy(outputs, labels)
    assert isinstance(value, float), f"should return a Python float, got {type(value).__name__}"
    assert math.isclose(value, expected, abs_tol=1e-6), f"{why}: expected {expected:.4f}, got {value}"


class _WithCriterion(nn.Module):
    """All compute_loss reads of a model: its loss_criterion."""

    def __init__(self, loss_criterion: nn.Module):
        super().__init__()
        self.loss_criterion = loss_criterion


def loss_normalised_once(compute_loss: Callable, criterion: type, outputs: torch.Tensor, targets: torch.Tensor,
                         expected_mean: float) -> None:
    """With a criterion of reduction "mean" and of "sum": normalised, the mean over every target entry
    (`expected_mean`); not normalised, that times targets.numel(); a scalar that can be back-propagated."""
    for reduction in ("mean", "sum"):
        model = _WithCriterion(criterion(reduction=reduction))
        loss = compute_loss(model, outputs, targets)
        assert isinstance(loss, torch.Tensor) and loss.dim() == 0, f"the loss should be a scalar tensor, got {loss!r}"
        assert loss.requires_grad, "the loss must stay a tensor that can be back-propagated"
        assert math.isclose(loss.item(), expected_mean, rel_tol=1e-5), (
            f"{criterion.__name__}(reduction={reduction!r}) on targets of shape {tuple(targets.shape)}: the mean over "
            f"all {targets.numel()} entries is {expected_mean:.4f}, got {loss.item():.4f} (normalise exactly once: "
            "a sum is divided by target_labels.numel(), a mean is already normalised)")
        total = compute_loss(model, outputs, targets, is_normalize=False)
        assert isinstance(total, torch.Tensor) and total.requires_grad, (
            f"{criterion.__name__}(reduction={reduction!r}), is_normalize=False: the summed loss must stay a tensor "
            "that can be back-propagated (no .detach() or .item())")
        assert math.isclose(total.item(), expected_mean * targets.numel(), rel_tol=1e-5), (
            f"{criterion.__name__}(reduction={reduction!r}), is_normalize=False: the sum "
            f"{expected_mean * targets.numel():.4f}, got {total.item():.4f}")


# -- Part 1: get_optimizer -------------------------------------------------------------------------------
def _small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _optimised(optimizer) -> set:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


OPTIMIZER_CONFIGS = {
    "sgd": ({"optimizer_type": "sgd", "lr": 0.05, "weight_decay": 1e-3, "momentum": 0.9}, torch.optim.SGD),
    "adam": ({"optimizer_type": "adam", "lr": 3e-3, "weight_decay": 1e-4}, torch.optim.Adam),
}


def optimizer_follows_config(get_optimizer: Callable, optimizer_type: str) -> None:
    """The optimizer of that type, with lr, weight_decay (and SGD's momentum) from the config, over every
    parameter of a model that trains them all."""
    config, kind = OPTIMIZER_CONFIGS[optimizer_type]
    model = _small_model()
    optimizer = get_optimizer(model, config)
    assert type(optimizer) is kind, f"optimizer_type {optimizer_type} gave {type(optimizer).__name__}"
    group = optimizer.param_groups[0]
    for key in ("lr", "weight_decay", "momentum"):
        if key in config:
            assert group[key] == config[key], f"{optimizer_type}: {key} should come from the config, " \
                                              f"{config[key]}, got {group[key]}"
    assert _optimised(optimizer) == {id(p) for p in model.parameters()}, "every trainable parameter is optimised"


def optimizes_only_trainable(get_optimizer: Callable, optimizer_type: str) -> None:
    model = _small_model()
    model[0].requires_grad_(False)
    optimizer = get_optimizer(model, {"optimizer_type": optimizer_type, "lr": 0.1})
    assert _optimised(optimizer) == {id(p) for p in model[2].parameters()}, (
        f"{optimizer_type}: optimise only the parameters with requires_grad (Parts 3-4 freeze the backbone)")


def optimizer_defaults(get_optimizer: Callable) -> None:
    """Missing keys: SGD, lr 0.01, weight_decay 0, momentum 0; the type in any case ("Adam")."""
    optimizer = get_optimizer(_small_model(), {})
    group = optimizer.param_groups[0]
    assert type(optimizer) is torch.optim.SGD and (group["lr"], group["weight_decay"], group["momentum"]) == (
        0.01, 0, 0), f"an empty config means SGD, lr 0.01, weight_decay 0, momentum 0; got {optimizer}"
    adam = get_optimizer(_small_model(), {"optimizer_type": "Adam"})
    assert type(adam) is torch.optim.Adam and (adam.param_groups[0]["lr"], adam.param_groups[0]["weight_decay"]) \
        == (0.01, 0), f"optimizer_type 'Adam' (any case) with no lr: Adam, lr 0.01, weight_decay 0; got {adam}"


# -- Part 1: the Trainer's steps -------------------------------------------------------------------------
class BatchNormNet(nn.Module):
    """A small classifier whose output differs in train and eval mode: batch norm (batch statistics in
    train mode, running ones in eval mode) and, with dropout > 0, a Dropout. Input (N, 1, H, W)."""

    def __init__(self, classes: int, dropout: float = 0.0):
        super().__init__()
        self.conv_layers = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                         nn.AdaptiveAvgPool2d(2))
        self.fc_layers = nn.Sequential(nn.Dropout(dropout), nn.Linear(16, classes))
        self.loss_criterion = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_layers(torch.flatten(self.conv_layers(x), 1))


STEP_LR = 0.05


def training_step_is_one_step(trainer, batches) -> None:
    """Each training_step(x, y) takes exactly one optimizer step on that batch's mean loss, computed in
    train mode: the weights move by -lr * (the gradient of this batch alone), whatever order the calls
    come in (optimizer.zero_grad() before loss.backward(), or after optimizer.step(): both are one step).
    It returns the output (N, C) and the batch's mean loss, and leaves the learning-rate scheduler alone
    (train_epoch steps it after every batch). Give it a model in train mode with batch norm (BatchNormNet):
    a step run in eval mode shows. The check swaps in plain SGD (lr STEP_LR) and restores the trainer."""
    import copy

    model = trainer.model
    model.train()
    model.zero_grad(set_to_none=True)  # what a fresh model has (train_epoch starts from here too)
    saved = trainer.optimizer, trainer.lr_scheduler
    trainer.optimizer = torch.optim.SGD(model.parameters(), lr=STEP_LR)
    # A schedule that changes nothing, to see whether training_step steps it.
    trainer.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(trainer.optimizer, lambda step: 1.0)
    modes = []
    hook = model.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    try:
        earlier = None  # the gradients of the batches before, summed: what a step without zero_grad adds
        for x, y in batches:
            reference = copy.deepcopy(model).train()
            logits = reference(x)
            expected_loss = reference.loss_criterion(logits, y)
            expected_loss.backward()
            grads = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in reference.parameters()]
            before = [p.detach().clone() for p in model.parameters()]
            modes.clear()
            output, loss = trainer.training_step(x, y)
            assert modes and all(modes), (
                "training_step ran the model in eval mode: train_epoch puts it in train mode (dropout and batch-norm "
                "statistics on); leave the mode alone")
            assert tuple(output.shape) == tuple(logits.shape) and loss.dim() == 0, (
                f"training_step returns (output {tuple(logits.shape)}, loss scalar)")
            assert math.isclose(loss.item(), expected_loss.item(), rel_tol=1e-4, abs_tol=1e-6), (
                f"training_step's loss {loss.item():.4f} is not the batch's mean loss {expected_loss.item():.4f}")
            moved = [p.detach() - b for p, b in zip(model.parameters(), before)]
            if all(torch.equal(m, torch.zeros_like(m)) for m in moved):
                raise AssertionError("training_step did not change the weights: compute the loss, call "
                                     "loss.backward(), then self.optimizer.step() (zero the gradients before backward "
                                     "or after the step, not between them)")
            if all(torch.allclose(m, -STEP_LR * g, rtol=1e-4, atol=1e-6) for m, g in zip(moved, grads)):
                earlier = grads if earlier is None else [e + g for e, g in zip(earlier, grads)]
                continue
            if earlier is not None and all(torch.allclose(m, -STEP_LR * (g + e), rtol=1e-4, atol=1e-6)
                                           for m, g, e in zip(moved, grads, earlier)):
                raise AssertionError("training_step's step used the gradients of the batches before too: zero them "
                                     "once per step, with self.optimizer.zero_grad() before loss.backward() (or "
                                     "after self.optimizer.step()), or they add up over batches")
            raise AssertionError("training_step's step is not one optimizer step on this batch's loss: compute the "
                                 "output with self.model_output(x) and the loss with compute_loss, then zero the "
                                 "gradients, loss.backward() and self.optimizer.step(), once each")
        assert trainer.lr_scheduler.last_epoch == 0, (
            f"training_step stepped the learning-rate scheduler {trainer.lr_scheduler.last_epoch} times: the Trainer "
            "already steps it after every batch (train_epoch), so the schedule would run twice as fast")
    finally:
        hook.remove()
        trainer.optimizer, trainer.lr_scheduler = saved


def validate_changes_nothing(trainer) -> Tuple[float, float]:
    """validate (after training: the optimizer holds gradients and momentum) leaves every weight and every
    batch-norm statistic as it was, and returns the mean loss and the accuracy over the validation set in
    eval mode (with a model with dropout and batch norm, a validation_step that switches to train mode shows)."""
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    states = []  # (gradients enabled, train mode) at each forward
    hook = trainer.model.register_forward_pre_hook(
        lambda module, args: states.append((torch.is_grad_enabled(), module.training)))
    try:
        loss, accuracy = trainer.validate()
    finally:
        hook.remove()
    assert states and not any(training for _, training in states), (
        "validation ran the model in train mode: validation_step must not call model.train() (validate puts the "
        "model in eval mode: no dropout, batch norm on its running statistics)")
    assert not any(enabled for enabled, _ in states), (
        "validation ran the model with gradients on: validate runs validation_step under torch.no_grad(); do not "
        "turn them back on")
    changed = [k for k, v in trainer.model.state_dict().items() if not torch.equal(before[k], v)]
    assert not changed, (
        f"validate changed {changed[:3]}: validation_step must only compute the output and the loss (no backward(), "
        "no optimizer.step(), no model.train(): the Trainer runs validation in eval mode)")
    outputs, targets = trainer.validation_outputs()
    expected = trainer.model.loss_criterion(outputs, targets).item()
    assert math.isfinite(loss) and math.isclose(loss, expected, rel_tol=1e-4), (
        f"validate returned loss {loss:.4f}, expected the mean loss in eval mode {expected:.4f} (does validation_step "
        "switch the model to train mode, or sum the loss?)")
    expected_accuracy = (outputs.argmax(1) == targets).float().mean().item()
    assert math.isclose(accuracy, expected_accuracy, abs_tol=1e-6), (
        f"validate returned accuracy {accuracy}, expected {expected_accuracy}")
    return loss, accuracy


def steps_use_model_output(trainer) -> None:
    """With cache_features=True the batches are backbone features, not images: the steps must compute
    the forward pass with self.model_output(x). One epoch trains the head; validate gives a finite loss."""
    before = trainer.model.fc_layers.weight.detach().clone()
    trainer.train_epoch()
    assert not torch.equal(before, trainer.model.fc_layers.weight), "the head did not train on the cached features"
    loss, _ = trainer.validate()
    assert math.isfinite(loss), f"validate returned loss {loss} on cached features"


# -- Part 2, 4: confusion matrix and attribute accuracy ---------------------------------------------------
def confusion_matrix_rows(generate: Callable, targets: np.ndarray, preds: np.ndarray, num_classes: int,
                          expected_counts: np.ndarray) -> None:
    """normalize=False counts [true, predicted] pairs; normalize=True divides each row by its count
    (a class without samples keeps a row of 0, never NaN)."""
    counts = generate(targets, preds, num_classes, normalize=False)
    assert counts.shape == expected_counts.shape and np.array_equal(counts, expected_counts), (
        f"counts (rows = true class):\n{counts}\nexpected\n{expected_counts}")
    rows = generate(targets, preds, num_classes, normalize=True)
    assert not np.isnan(rows).any(), "a class without samples has a row of 0, not NaN"
    sums = expected_counts.sum(axis=1, keepdims=True)
    expected_rows = np.divide(expected_counts, sums, out=np.zeros_like(expected_counts, dtype=float), where=sums > 0)
    assert np.allclose(rows, expected_rows), (
        f"normalize=True divides each row by its count (an empty class's row stays 0), got\n{rows}")


def confusion_data(generate: Callable, model: nn.Module, dataset, expected_targets, expected_preds,
                   expected_labels) -> None:
    """generate_confusion_data runs the model in eval mode without gradients: targets, argmax predictions,
    the class names."""
    model.train()
    states = []  # (gradients enabled, train mode) at each forward
    hook = model.register_forward_pre_hook(
        lambda module, args: states.append((torch.is_grad_enabled(), module.training)))
    try:
        targets, preds, labels = generate(model, dataset)
    finally:
        hook.remove()
    assert list(targets) == list(expected_targets), f"targets {list(targets)}, expected {list(expected_targets)}"
    assert list(preds) == list(expected_preds), f"predictions {list(preds)}, expected the argmax {list(expected_preds)}"
    assert np.shape(targets) == np.shape(preds) == (len(expected_targets),), "targets and predictions are (N,)"
    assert list(labels) == list(expected_labels), f"class labels {labels}, expected {list(expected_labels)}"
    assert states and not any(training for _, training in states), "run the model in eval mode (model_outputs does it)"
    assert not any(enabled for enabled, _ in states), (
        "run the model without gradients (model_outputs runs it under torch.no_grad()): gradients cost memory "
        "and time for nothing here")


def accuracy_table_rows(generate: Callable, targets: np.ndarray, preds: np.ndarray, expected: Sequence[float]) -> None:
    table = generate(targets, preds, targets.shape[1])
    assert np.shape(table) == (targets.shape[1],) and np.allclose(table, expected), (
        f"per-attribute accuracy {table}, expected {list(expected)} (the fraction right in each column)")


def accuracy_data(generate: Callable, model: nn.Module, dataset, num_attributes: int, expected_targets,
                  expected_preds) -> None:
    """generate_accuracy_data: the 0/1 flags, and 0/1 predictions where a probability of 0.5 counts as 1."""
    targets, preds = generate(model, dataset, num_attributes)
    assert np.array_equal(preds, expected_preds), (
        f"predictions {np.asarray(preds).tolist()}, expected probability >= 0.5 as 1: "
        f"{np.asarray(expected_preds).tolist()}")
    assert np.array_equal(targets, expected_targets), f"targets {np.asarray(targets).tolist()}"


# -- Parts 3-4: a frozen backbone and a new head ------------------------------------------------------------
def head_follows_the_backbone(model: nn.Module, outputs: int) -> int:
    """The head is Linear(D, outputs) with D the backbone's feature size (512 or 1,280), never a constant.
    Returns D."""
    with torch.no_grad():
        features = model.conv_layers(torch.rand(2, 1, 96, 96)).flatten(1).shape[1]
    linears = [(m.in_features, m.out_features) for m in model.fc_layers.modules() if isinstance(m, nn.Linear)]
    assert linears == [(features, outputs)], (
        f"backbone {getattr(model, 'backbone_name', '?')} gives {features} features: the head should be "
        f"Linear({features}, {outputs}) (use num_features, not a constant), got Linear layers {linears}")
    return features


def parameter_counts(model: nn.Module, trainable: int, frozen: Optional[int] = None) -> None:
    """`trainable` parameters train (the head), every parameter of conv_layers is frozen (`frozen` of them)."""
    got = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert got == trainable, f"{got} trainable parameters, expected {trainable:,}: only the head trains"
    assert not any(p.requires_grad for p in model.conv_layers.parameters()), "freeze every parameter of conv_layers"
    if frozen is not None:
        got = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        assert got == frozen, f"{got} frozen parameters, expected {frozen:,}: the whole backbone is frozen"


def frozen_backbone_head(model: nn.Module, outputs: int) -> torch.Tensor:
    """Every backbone parameter frozen, only the head Linear(D, outputs) trains, and the output is
    (N, outputs). Returns the model's output for two small images."""
    assert all(not p.requires_grad for p in model.conv_layers.parameters()), "freeze every parameter of conv_layers"
    features = head_follows_the_backbone(model, outputs)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == (features + 1) * outputs, (
        f"{trainable} trainable parameters; only the head Linear({features} -> {outputs}) should train, "
        f"{(features + 1) * outputs}")
    out = model(torch.rand(2, 1, 96, 96))
    assert tuple(out.shape) == (2, outputs), f"output shape {tuple(out.shape)}, expected (2, {outputs})"
    batch_of_one(model, outputs)
    forward_is_head_on_features(model, outputs)
    return out


def forward_is_head_on_features(model: nn.Module, outputs: int) -> None:
    """forward(x) is head(conv_layers(x)) (batches of 1 and 3, eval mode): with cache_features=True the
    Trainer trains the head on the backbone's cached features, and the autograder evaluates it there, so a
    forward that computes anything else is not the model that was trained."""
    model.eval()
    for n in (1, 3):
        x = torch.rand(n, 1, 64, 64, generator=torch.Generator().manual_seed(n))
        with torch.no_grad():
            whole, split = model(x), model.head(model.conv_layers(x))
        assert tuple(whole.shape) == (n, outputs) and torch.allclose(whole, split, atol=1e-5), (
            f"forward(x) differs from head(conv_layers(x)) for a batch of {n}: forward should be conv_layers -> "
            "flatten -> fc_layers" + (" -> activation" if hasattr(model, "activation") else "") + " and nothing else "
            "(the Trainer trains, and the autograder evaluates, the head on the backbone's features)")


def batch_of_one(model: nn.Module, outputs: int) -> None:
    """A batch of one image gives (1, outputs): flatten the features with torch.flatten(x, 1); squeeze()
    would drop the batch dimension too."""
    with torch.no_grad():
        out = model(torch.rand(1, 1, 64, 64))
    assert tuple(out.shape) == (1, outputs), (
        f"one image (1, 1, 64, 64) gave output shape {tuple(out.shape)}, expected (1, {outputs}): flatten the "
        "backbone's features with torch.flatten(features, 1), not squeeze(), which also drops a batch of one")


def sigmoid_head(model: nn.Module) -> None:
    """Multi-label: `activation` is its own nn.Sigmoid (not in fc_layers), forward is
    activation(fc_layers(flattened features)), probabilities in [0, 1], and the loss a mean BCELoss."""
    assert isinstance(getattr(model, "activation", None), nn.Sigmoid), (
        "activation should be nn.Sigmoid (its own attribute)")
    assert not any(isinstance(m, nn.Sigmoid) for m in model.fc_layers.modules()), "keep the sigmoid out of fc_layers"
    model.eval()
    x = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        out, logits = model(x), model.fc_layers(torch.flatten(model.conv_layers(x), 1))
    assert 0.0 <= out.min() and out.max() <= 1.0, "the outputs should be probabilities in [0, 1]"
    assert torch.allclose(out, torch.sigmoid(logits), atol=1e-6), (
        "forward should return activation(fc_layers(features)): a sigmoid per attribute, probabilities in [0, 1]")
    loss_criterion(model, nn.BCELoss)


def attribute_items(loader, rows: Sequence[Sequence[str]], indices: Sequence[int]) -> None:
    """A multi-label loader over a CSV: one item per row; loader[i] is the transformed image and the
    row's flags as a float32 tensor (7,) (BCELoss needs floats)."""
    assert len(loader) == len(rows), f"len(loader) is {len(loader)}, the CSV has {len(rows)} rows"
    for index in indices:
        image, flags = loader[index]
        assert isinstance(image, torch.Tensor) and image.shape[0] == 1, "loader[i] should apply self.transform"
        expected = [float(c) for c in rows[index][2:]]
        assert isinstance(flags, torch.Tensor) and flags.shape == (len(ATTRIBUTES),) and flags.dtype == torch.float32, (
            f"the attribute flags should be a float32 tensor of shape ({len(ATTRIBUTES)},) (BCELoss needs floats), "
            f"got {flags!r}")
        assert flags.tolist() == expected, f"flags of row {index + 1} should be {expected}, got {flags.tolist()}"
        assert loader.dataset[index][0].endswith(os.path.join(rows[index][0], rows[index][1])), (
            f"item {index} should be the image of CSV row {index + 1}, {rows[index][0]}/{rows[index][1]}")
