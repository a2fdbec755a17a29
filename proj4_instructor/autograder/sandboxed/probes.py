"""Probes: each student function run on inputs drawn from this grading's secret seed.

The same code runs twice in every grading: on the trusted side with the reference solution
(trusted.py, before any student code runs) and in the sandbox with the student's proj4_code
(answers.py). Both draw their inputs from the seed the runner chose for this grading alone, so
the two sets of answers can only agree where the student's code computes what the reference
computes. Reason: an answer that can be written down without running correct code (a published
parameter count, a value from an earlier grading's feedback) is worth nothing on its own, so every
check names at least one output computed on these inputs.

A probe is `probe_<name>(draw)` -> dict of JSON values; the code it exercises comes from the
package `proj4_code` on sys.path (the reference's or the student's). The one exception is
SimpleNetFinal, whose architecture is the student's choice: the trusted side runs its probe on
the model its checkpoint describes (proj4_lib.architecture), so the sandbox must show that the
student's class computes what that description does.

Fair to every valid solution: a probe records what the code does, never how it is written (whether
a wrong input raises, not which exception; the figure's layers with nested Sequentials opened and
commuting layers in either order; the augmentation presets by what they do to synthetic scenes, with
proj4_lib/rules.py's measurements, the same the notebook and the public tests use).
"""
from __future__ import annotations

import hashlib
import importlib
import math
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import torch
from PIL import Image
from torch import nn

from proj4_lib import rules

BACKBONES = ("resnet18", "efficientnet_lite0")
FIRST = {"conv_layers": 0, "fc_layers": 1}  # canonical order of a model's blocks, whatever order they were set in
AUGMENT_DRAWS = 64  # step image draws: the flips' share and the jitter's average need many (4 numbers each)
VIEW_DRAWS = 12  # plaid image draws: each must keep half the scene in view
RAW_OUTPUTS = 4  # step image outputs sent whole (their shape, range and randomness)
AUGMENT_SIZE = (40, 64)  # 5 pixels per plaid stripe cycle down the height (rules.PLAID_CYCLES = 8)


class Draw:
    """Random inputs from (the grading's seed, a probe's name): the same numbers on both sides."""

    def __init__(self, seed: int, name: str):
        digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
        self.seed = int.from_bytes(digest[:8], "little") >> 1
        self.rng = np.random.default_rng(self.seed)
        self.gen = torch.Generator().manual_seed(self.seed)

    def int(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return int(self.rng.integers(low, high + 1))

    def uniform(self, *shape) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen)

    def normal(self, *shape) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen)

    def labels(self, n: int, classes: int) -> torch.Tensor:
        return torch.randint(0, classes, (n,), generator=self.gen)

    def flags(self, *shape) -> torch.Tensor:
        return (torch.rand(*shape, generator=self.gen) > 0.5).float()

    def pick(self, options, k: int) -> list:
        return [options[i] for i in sorted(self.rng.choice(len(options), size=k, replace=False))]

    def sub(self, name: str) -> "Draw":
        return Draw(self.seed, name)


# -- helpers ------------------------------------------------------------------------------------

def student(module: str, name: str):
    return getattr(importlib.import_module(f"proj4_code.{module}"), name)


def provided(module: str, name: str):
    """A function of a provided package (proj4_lib.checkpoints, proj4_tools.models): the grader's copy."""
    return getattr(importlib.import_module(module), name)


def values(x, digits: int = 7):
    """A tensor, array or number as JSON numbers (7 significant digits)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    if isinstance(x, np.ndarray):
        return [values(item, digits) for item in x] if x.ndim else values(float(x), digits)
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return float(f"{x:.{digits}g}") if math.isfinite(x) else str(x)
    if isinstance(x, (list, tuple)):
        return [values(item, digits) for item in x]
    return x


def shape(x) -> list:
    return list(x.shape) if isinstance(x, torch.Tensor) else [type(x).__name__]


def count(params) -> int:
    return int(sum(p.numel() for p in params))


def canonical(named) -> list:
    """(name, tensor) pairs with conv_layers first, then fc_layers, then the rest (stable): the order
    two equal architectures agree on, whichever block the student's __init__ set first."""
    return sorted(named, key=lambda item: FIRST.get(item[0].split(".")[0], 2))


def fill(model: nn.Module, draw: Draw) -> nn.Module:
    """Weights from the draw, by position, at a scale that keeps deep networks' activations O(1):
    He-scaled weights, norm scales near 1, small biases, and non-trivial batch-norm statistics."""
    gen = draw.sub("fill").gen
    with torch.no_grad():
        for name, tensor in canonical(model.named_parameters()):
            noise = torch.randn(tensor.shape, generator=gen)
            if tensor.dim() > 1:
                tensor.copy_(noise * math.sqrt(2.0 / max(1, tensor[0].numel())))
            elif name.endswith("weight"):
                tensor.copy_(1 + 0.2 * noise)
            else:
                tensor.copy_(0.2 * noise)
        for name, tensor in canonical(model.named_buffers()):
            if name.endswith("running_mean"):
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=gen))
            elif name.endswith("running_var"):
                tensor.copy_(1 + 0.3 * torch.rand(tensor.shape, generator=gen))
    return model


RAISED = "__raised__"  # an answer that is this marker says the student's code raised while computing it


def guard(ans: dict, key: str, fn: Callable[[], object]) -> None:
    """ans[key] = fn(), or the marker naming what the student's code raised: one failing function
    costs only the answers it computes (draw the inputs of each guarded block from its own sub-draw,
    so a failure cannot shift the inputs of the next)."""
    try:
        ans[key] = fn()
    except Exception as err:  # noqa: BLE001 - the student's error is this answer
        ans[key] = {RAISED: f"{type(err).__name__}: {str(err)[:300]}"}


def raises(fn) -> bool:
    """Whether fn() raises: any exception (which one is the student's choice unless the handout names it)."""
    try:
        fn()
    except Exception:  # noqa: BLE001 - that it raises is the answer
        return True
    return False


def types(seq) -> list:
    return [type(m).__name__ for m in seq]


def loss_info(criterion) -> list:
    return [type(criterion).__name__, getattr(criterion, "reduction", None)]


def leaves(block: nn.Module) -> list:
    """The layers of a block in forward order, nested Sequentials opened."""
    return [m for m in block.modules() if not list(m.children())]


def pair(value) -> list:
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


# -- Part 1: SimpleNet -----------------------------------------------------------------------------

def probe_simple_net(draw: Draw) -> dict:
    model = student("simple_net", "SimpleNet")()
    conv, fc = leaves(model.conv_layers), leaves(model.fc_layers)
    ans = {
        "attributes": [type(model.conv_layers).__name__, type(model.fc_layers).__name__,
                       *loss_info(model.loss_criterion)],
        "params": count(model.parameters()),
        "all_trainable": all(p.requires_grad for p in model.parameters()),
        # As the figure reads: a ReLU before its pool (they commute), nested Sequentials, Flatten are all one
        # network; the forward output below shows whether the order matters otherwise.
        "conv_types": rules.figure_kinds(types(conv)), "fc_types": rules.figure_kinds(types(fc)),
        "conv_shapes": [[m.in_channels, m.out_channels, pair(m.kernel_size), pair(m.stride), pair(m.padding)]
                        for m in conv if isinstance(m, nn.Conv2d)],
        "pools": [pair(m.kernel_size) + pair(m.stride) for m in conv if isinstance(m, nn.MaxPool2d)],
        "fc_shapes": [[m.in_features, m.out_features] for m in fc if isinstance(m, nn.Linear)],
    }
    fill(model, draw).eval()
    sub = draw.sub("inputs")
    n = sub.int(2, 6)
    batch, one, two = sub.uniform(n, 1, 64, 64), sub.uniform(1, 1, 64, 64), sub.uniform(2, 1, 64, 64)
    with torch.no_grad():
        guard(ans, "forward", lambda: values(model(batch)))
        guard(ans, "out_shapes", lambda: [shape(model(one)), shape(model(batch))])
        # The features conv_layers gives, flattened: a Flatten at its end or at fc_layers' start is the same net.
        guard(ans, "conv_out_shape", lambda: shape(torch.flatten(model.conv_layers(two), 1)))
    ans["wrong_input_raises"] = [raises(lambda s=s: model(torch.rand(*s))) for s in ((2, 3, 64, 64), (2, 1, 32, 32))]
    return ans


# -- Part 2: SimpleNetFinal (the trusted side passes the model its checkpoint describes) ------------

def probe_simple_net_final(draw: Draw, make: Optional[Callable[[], nn.Module]] = None) -> dict:
    make = make or student("simple_net_final", "SimpleNetFinal")
    model = make()
    ans = {"attributes": [type(model.conv_layers).__name__, type(model.fc_layers).__name__,
                          *loss_info(model.loss_criterion)],
           "params": count(model.parameters())}
    fill(model, draw).eval()
    x = draw.sub("inputs").uniform(draw.sub("n").int(2, 5), 1, 64, 64)
    with torch.no_grad():
        first = model(x)
        ans["forward"] = values(first)
        ans["eval_deterministic"] = bool(torch.equal(first, model(x)))
    model.train()
    torch.manual_seed(draw.seed % 2**31)

    def differs():  # dropout and batch statistics must change the training-mode output
        with torch.no_grad():
            out = model(x)
        # The training-mode output itself, under this seed: Dropout is the identity in eval mode, so
        # only here does a class without the Dropout its layer list declares compute something else
        # (the same layers in the same order draw the same dropout masks from the same seed).
        ans["train_forward"] = values(out)
        return not torch.allclose(out, first, atol=1e-6)

    guard(ans, "train_differs", differs)
    return ans


# -- Parts 3-4: the frozen-backbone models ----------------------------------------------------------

def _frozen(cls, backbone: str, draw: Draw, outputs: int) -> dict:
    model = cls(pretrained=False, backbone=backbone)
    a = {
        "trainable": count(p for p in model.parameters() if p.requires_grad),
        "frozen": count(p for p in model.parameters() if not p.requires_grad),
        "conv_layers_trainable": count(p for p in model.conv_layers.parameters() if p.requires_grad),
        "loss": loss_info(model.loss_criterion),
        "first_layer": type(model.conv_layers[0]).__name__,
    }
    if hasattr(model, "activation"):
        a["activation"] = type(model.activation).__name__
        a["sigmoid_in_fc"] = any(isinstance(m, nn.Sigmoid) for m in model.fc_layers.modules())
    model.train()
    a["backbone_eval_in_train"] = not any(m.training for m in model.conv_layers.modules())
    fill(model, draw).eval()
    sub = draw.sub("inputs")
    gray = sub.uniform(sub.int(1, 4), 1, 64, 64)  # a batch of one image too: .squeeze() bugs only show there

    def forward():
        with torch.no_grad():
            out = model(gray)
            a["out_shape"] = shape(out)
            a["rgb_same_as_gray"] = bool(torch.allclose(out, model(gray.expand(-1, 3, -1, -1)), atol=1e-5))
            return values(out)

    guard(a, "forward", forward)
    with torch.no_grad():
        guard(a, "head", lambda: values(model.head(model.conv_layers(gray))))
        guard(a, "forward_one", lambda: values(model(gray[:1])))  # one image: a .squeeze() loses its batch axis
    guard(a, "training_step", lambda: _training_step(model, draw.sub("step"), outputs, a))
    model = None  # one model at a time (the closures above hold it too)
    return a


def _training_step(model: nn.Module, draw: Draw, outputs: int, a: dict) -> bool:
    """One step of a trusted loop (torch only): the backbone must not change, the head must. Dropout in
    the head (a valid choice) is switched off: the step then is the same for any head with this Linear."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.p = 0.0
    conv = {k: t.clone() for k, t in model.conv_layers.state_dict().items()}
    head = {k: t.clone() for k, t in model.fc_layers.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    batch = draw.uniform(4, 1, 64, 64)
    target = draw.flags(4, outputs) if outputs == 7 else draw.labels(4, outputs)
    loss = model.loss_criterion(model(batch), target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    a["backbone_unchanged"] = all(torch.equal(t, conv[k]) for k, t in model.conv_layers.state_dict().items())
    a["head_changed"] = any(not torch.equal(t, head[k]) for k, t in model.fc_layers.state_dict().items())
    a["loss_value"] = values(loss)
    a["head_after_step"] = values(sum(t.double().sum() for t in model.fc_layers.state_dict().values()))
    return True


def probe_my_resnet(draw: Draw) -> dict:
    cls, ans = student("my_resnet", "MyResNet18"), {}
    for b in BACKBONES:
        guard(ans, b, lambda b=b: _frozen(cls, b, draw.sub(b), 15))
    return ans


def probe_multilabel_resnet(draw: Draw) -> dict:
    cls, ans = student("multilabel_resnet", "MultilabelResNet18"), {}
    for b in BACKBONES:
        guard(ans, b, lambda b=b: _frozen(cls, b, draw.sub(b), 7))
    return ans


# -- metrics and the loss ----------------------------------------------------------------------------

class _Affine(nn.Module):
    def __init__(self, criterion, draw: Draw, features: int, outputs: int):
        super().__init__()
        self.fc = nn.Linear(features, outputs)
        fill(self, draw)
        self.loss_criterion = criterion

    def forward(self, x):
        return self.fc(x)


def probe_dl_utils(draw: Draw) -> dict:
    acc = student("dl_utils", "compute_accuracy")
    macc = student("dl_utils", "compute_multilabel_accuracy")
    loss = student("dl_utils", "compute_loss")
    ans, out = {}, {}
    d = draw.sub("accuracy")
    n, c = d.int(20, 60), d.int(3, 15)
    logits, labels = d.normal(n, c), d.labels(n, c)
    hits = d.int(3, n // 2)
    labels[:hits] = logits[:hits].argmax(1)
    guard(ans, "accuracy", lambda: [type(acc(logits, labels)).__name__, values(acc(logits, labels))])
    d = draw.sub("multilabel")
    m, k = d.int(10, 40), d.int(3, 9)
    probs, flags = d.uniform(m, k), d.flags(m, k)
    probs[0, : min(3, k)] = 0.5  # the >= 0.5 boundary
    guard(ans, "multilabel_accuracy", lambda: [type(macc(probs, flags)).__name__, values(macc(probs, flags))])
    d = draw.sub("loss")
    b, f, o, a = d.int(2, 7), d.int(2, 5), d.int(2, 6), d.int(2, 7)
    x, y, t = d.normal(b, f), d.labels(b, o), d.flags(b, a)
    for reduction in ("mean", "sum"):
        model = _Affine(nn.CrossEntropyLoss(reduction=reduction), draw.sub(reduction), f, o)

        def cross_entropy(model=model):
            value = loss(model, model(x), y)
            total = loss(model, model(x), y, is_normalize=False)
            return [values(value), values(total), int(value.dim()),
                    {"backpropagates": bool(value.requires_grad), "summed_backpropagates": bool(total.requires_grad)}]

        guard(out, reduction, cross_entropy)
        bce = _Affine(nn.BCELoss(reduction=reduction), draw.sub("bce" + reduction), f, a)

        def binary(model=bce):
            p = torch.sigmoid(model(x))
            value = loss(model, p, t)
            total = loss(model, p, t, is_normalize=False)
            return [values(value), values(total),
                    {"backpropagates": bool(value.requires_grad), "summed_backpropagates": bool(total.requires_grad)}]

        guard(out, f"bce_{reduction}", binary)
    ans["loss"] = out
    return ans


# -- saving and loading through the provided checkpoints module --------------------------------------

def probe_checkpoints(draw: Draw) -> dict:
    save = provided("proj4_lib.checkpoints", "save_trained_model_weights")
    load = provided("proj4_tools.models", "load_trained_model")
    # The frozen-backbone classes on the smaller backbone: what is probed is the class with the
    # provided save and load, and a 45 MB ResNet-18 written and read twice costs seconds at half a CPU.
    builds = {"SimpleNet": lambda: student("simple_net", "SimpleNet")()}
    for cls_name, module in (("MyResNet18", "my_resnet"), ("MultilabelResNet18", "multilabel_resnet")):
        builds[f"{cls_name}-{BACKBONES[1]}"] = (lambda c=cls_name, m=module: student(m, c)(pretrained=False,
                                                                                         backbone=BACKBONES[1]))
    ans = {"round_trip": {}}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        def round_trip(name, build):
            model = fill(build(), draw.sub(name)).eval()
            x = draw.sub(name + "x").uniform(2, 1, 64, 64)
            with torch.no_grad():
                expected = model(x)
            path, class_name = save(model, Path(tmp) / name), type(model).__name__
            del model  # one model at a time: the grader runs in 768 MB
            loaded = load(path, expected_class=class_name)
            with torch.no_grad():
                again = loaded(x)
            answer = [bool(torch.equal(again, expected)), bool(not loaded.training), type(loaded).__name__,
                      values(again.sum())]
            del loaded
            path.unlink()
            return answer

        for name, build in builds.items():
            guard(ans["round_trip"], name, lambda n=name, b=build: round_trip(n, b))
        simple = student("simple_net", "SimpleNet")
        path = save(simple(), Path(tmp) / "refuse")
        ans["refuses_other_class"] = raises(lambda: load(path, expected_class="SimpleNetFinal"))
        torch.save(simple().state_dict(), Path(tmp) / "bare.pt")
        ans["refuses_bare_state_dict"] = raises(lambda: load(Path(tmp) / "bare.pt"))
    return ans


# -- data: transforms, loaders, statistics -------------------------------------------------------------

def scene_image(draw: Draw, height: int, width: int) -> Image.Image:
    """A random grayscale image with smooth structure (random blobs and a gradient)."""
    ys, xs = np.mgrid[0:height, 0:width] / max(height, width)
    pixels = draw.rng.uniform(40, 200) + draw.rng.uniform(-60, 60) * xs
    for _ in range(draw.int(2, 5)):
        cy, cx, r, a = draw.rng.uniform(0, 1), draw.rng.uniform(0, 1), draw.rng.uniform(0.05, 0.3), \
            draw.rng.uniform(-80, 80)
        pixels = pixels + a * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r * r))
    pixels = pixels + draw.rng.normal(0, 6, (height, width))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")


def rules_image(rows) -> Image.Image:
    """A proj4_lib.rules image (gray values as lists of rows) as a PIL grayscale image."""
    return Image.fromarray(np.clip(np.rint(np.asarray(rows, dtype=np.float64)), 0, 255).astype(np.uint8), mode="L")


def augmentation_sources(draw: Draw) -> dict:
    """The step and plaid images' sizes, 15-Scene's (about square, and twice as wide as high: a preset
    must work on both) and the step image's levels, from the draw: the same on both sides, and what the
    scorer judges against."""
    side = draw.int(220, 260)
    return {"step_size": [side, side + draw.int(-20, 20)], "plaid_size": [draw.int(190, 230), draw.int(380, 420)],
            "dark": draw.int(50, 70), "bright": draw.int(170, 190)}


def probe_data_transforms(draw: Draw) -> dict:
    dt = importlib.import_module("proj4_code.data_transforms")
    size = (draw.int(24, 56), draw.int(24, 56))
    mean, std = float(draw.rng.uniform(0.3, 0.6)), float(draw.rng.uniform(0.15, 0.35))
    image = scene_image(draw, draw.int(60, 140), draw.int(60, 180))
    ans = {}

    def fixed(make):
        compose = make()
        out = compose(image)
        return {"compose": type(compose).__name__, "shape": shape(out), "dtype": str(out.dtype),
                "values": values(out[0, ::3, ::3], 6)}

    guard(ans, "fundamental", lambda: fixed(lambda: dt.get_fundamental_transforms(size)))
    guard(ans, "normalization", lambda: fixed(lambda: dt.get_fundamental_normalization_transforms(size, mean, std)))
    sources = augmentation_sources(draw.sub("sources"))
    step = rules_image(rules.step_image(*sources["step_size"], sources["dark"], sources["bright"]))
    plaid = rules_image(rules.plaid_image(*sources["plaid_size"]))

    def random(make):
        """What the preset does to the step and plaid images, draw after draw (rules.step_summary and
        rules.plaid_profiles of each output: what the scorer's rules read), and a few outputs whole."""
        compose = make()
        torch.manual_seed(draw.seed % 2**31)
        steps = [compose(step) for _ in range(AUGMENT_DRAWS)]
        plaids = [compose(plaid) for _ in range(VIEW_DRAWS)]
        shapes = sorted({tuple(shape(o)) for o in steps + plaids})
        answer = {"compose": type(compose).__name__, "shapes": [list(s) for s in shapes],
                  "dtype": str(steps[0].dtype) if isinstance(steps[0], torch.Tensor) else type(steps[0]).__name__}
        if shapes == [(1, *AUGMENT_SIZE)]:
            answer["outputs"] = [values(o[0], 4) for o in steps[:RAW_OUTPUTS]]
            answer["step"] = [values(rules.step_summary(o[0].tolist()), 4) for o in steps]
            answer["plaid"] = [values(rules.plaid_profiles(o[0].tolist()), 4) for o in plaids]
        return answer

    guard(ans, "augmentation", lambda: random(lambda: dt.get_fundamental_augmentation_transforms(AUGMENT_SIZE)))
    guard(ans, "all", lambda: random(lambda: dt.get_all_transforms(AUGMENT_SIZE, mean, std)))
    ans["mean_std"] = [mean, std]
    ans["sources"] = sources
    return ans


CLASS_WORDS = ("alley", "beach", "canyon", "dune", "field", "glacier", "harbor", "island", "jungle", "lake",
               "marsh", "orchard", "prairie", "quarry", "river", "swamp", "tundra", "valley")
EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG")


def image_tree(root: Path, draw: Draw) -> Dict[str, list]:
    """train/ and test/ with 3-5 random classes of 1-4 random images each (.jpg, .jpeg, .png, .JPG),
    a text file in each class folder and a stray file at the top of each split (a .DS_Store)."""
    classes = draw.pick(CLASS_WORDS, draw.int(3, 5))
    made = {}
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        (root / split / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
        for c, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir()
            for i in range(draw.int(1, 4)):
                ext = EXTENSIONS[draw.int(0, len(EXTENSIONS) - 1)]
                pixels = draw.rng.integers(0, 256, (draw.int(12, 30), draw.int(12, 30)), dtype=np.uint8) // (c + 1)
                Image.fromarray(pixels.astype(np.uint8), mode="L").save(
                    folder / f"img_{i}{ext}", format="PNG" if ext == ".png" else "JPEG", quality=90)
            (folder / "notes.txt").write_text("not an image")
        made[split] = classes
    return made


class TreeDataset(torch.utils.data.Dataset):
    """The grader's own loader of an image_tree split, for the probes that test code built on a
    dataset (the Trainer, the confusion data): their answers then do not depend on the ImageLoader."""

    def __init__(self, root: Path, split: str, transform):
        folder = Path(root) / split
        names = sorted(p.name for p in folder.iterdir() if p.is_dir())
        self.class_dict = {name: i for i, name in enumerate(names)}
        self.dataset = [(str(f), i) for i, name in enumerate(names) for f in sorted((folder / name).iterdir())
                        if f.suffix.lower() in (".jpg", ".jpeg", ".png")]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        path, label = self.dataset[index]
        with Image.open(path) as img:
            image = img.convert("L")
        return (self.transform(image) if self.transform else image), label


def _rel(path, root: Path) -> str:
    return os.path.relpath(str(path), str(root)).replace(os.sep, "/")


def probe_image_loader(draw: Draw) -> dict:
    from torchvision import transforms as T

    loader_cls = student("image_loader", "ImageLoader")
    multi_cls = student("image_loader", "MultiLabelImageLoader")
    read_csv = student("image_loader", "read_attribute_csv")
    ans = {}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = Path(tmp) / "data"
        image_tree(root, draw)
        files = sorted(p for p in (root / "test").rglob("img_*"))
        pick = draw.sub("picks")
        index = pick.int(0, len(files) - 1)
        rows = []
        for path in files[: pick.int(2, len(files))]:
            flags = [str(pick.int(0, 1)) for _ in range(7)]
            rows.append(",".join([path.parent.name, path.name, *flags]))
        csv = root / "attributes.csv"
        csv.write_text("\n".join(rows) + "\n")

        def loaded():
            loader = loader_cls(str(root), "test", T.ToTensor())
            ans["class_dict"] = {str(k): int(v) for k, v in dict(getattr(loader, "class_dict", {})).items()}
            ans["items"] = sorted([_rel(p, root), int(c)] for p, c in loader.dataset)
            ans["len"] = len(loader)
            x, y = loader[min(index, len(loader) - 1)]
            return [shape(x), type(y).__name__, int(y), values(x.sum(), 6)]

        guard(ans, "getitem", loaded)
        guard(ans, "csv", lambda: [[_rel(p, root), values(t)] for p, t in read_csv(str(csv), str(root / "test"))])

        def multilabel():
            multi = multi_cls(str(root), str(csv), "test", T.ToTensor())
            mx, my = multi[len(multi) - 1]
            kind = [type(my).__name__, str(my.dtype) if isinstance(my, torch.Tensor) else None]
            return [len(multi), shape(mx), kind, values(my), values(mx.sum(), 6)]

        guard(ans, "multilabel", multilabel)
        empty = sorted(p for p in (root / "test").iterdir() if p.is_dir())[0]
        for file in empty.iterdir():
            if file.suffix.lower() != ".txt":
                file.unlink()
        ans["empty_class_folder"] = raises(lambda: loader_cls(str(root), "test", T.ToTensor()))
    return ans


def probe_stats_helper(draw: Draw) -> dict:
    compute = student("stats_helper", "compute_mean_and_std")
    ans = {}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        for kind in ("constant", "random"):
            root = Path(tmp) / kind
            for i in range(draw.int(2, 5)):
                folder = root / ("a" if i % 2 else "b") / ("deep" if i % 3 == 0 else "")
                folder.mkdir(parents=True, exist_ok=True)
                size = (draw.int(1, 3), draw.int(2, 4))  # few pixels: n - 1 against n shows in the std
                pixels = (np.full(size, draw.int(0, 255), np.uint8) if kind == "constant"
                          else draw.rng.integers(0, 256, size, dtype=np.uint8))
                Image.fromarray(pixels, mode="L").save(folder / f"im{i}.png")
            (root / "readme.txt").write_text("not an image")
            guard(ans, kind, lambda r=root: values(list(compute(str(r)))))
    return ans


def probe_optimizer(draw: Draw) -> dict:
    get = student("optimizer", "get_optimizer")
    ans = {}
    for kind in ("sgd", "adam"):
        sub = draw.sub(kind)
        model = fill(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)), sub)
        for p in model[0].parameters():
            p.requires_grad = False
        config = {"optimizer_type": kind if sub.int(0, 1) else kind.upper(), "lr": float(sub.rng.uniform(0.01, 0.2)),
                  "weight_decay": float(sub.rng.uniform(0.0, 0.05)), "momentum": float(sub.rng.uniform(0.5, 0.95))}
        batches = [sub.uniform(6, 4) for _ in range(2)]

        def step(model=model, config=config, batches=batches, kind=kind):
            opt = get(model, config)
            group = opt.param_groups[0]
            for batch in batches:
                loss = model(batch).pow(2).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            return {"type": type(opt).__name__, "lr": values(group.get("lr")),
                    "weight_decay": values(group.get("weight_decay")),
                    "momentum": values(group.get("momentum")) if kind == "sgd" else None,
                    "params": sorted(p.numel() for g in opt.param_groups for p in g["params"]),
                    "after_step": values(model[2].weight)}

        guard(ans, kind, step)
    def defaults():
        group = get(nn.Linear(2, 2), {}).param_groups[0]
        return [type(get(nn.Linear(2, 2), {})).__name__, values(group.get("lr")), values(group.get("momentum")),
                values(group.get("weight_decay"))]

    guard(ans, "defaults", defaults)
    ans["unknown_raises"] = raises(lambda: get(nn.Linear(2, 2), {"optimizer_type": "rmsprop"}))
    return ans


class _PixelModel(nn.Module):
    """A fixed linear model over pixels resized to 8 x 8 (any image size)."""

    def __init__(self, outputs: int, draw: Draw):
        super().__init__()
        self.fc = nn.Linear(64, outputs)
        self.gradients_enabled: list = []  # torch.is_grad_enabled() at each forward
        self.modes: list = []  # self.training at each forward (a function may restore the mode after)
        fill(self, draw)

    def forward(self, x):
        self.gradients_enabled.append(torch.is_grad_enabled())
        self.modes.append(self.training)
        return self.fc(nn.functional.adaptive_avg_pool2d(x, 8).flatten(1) * 8)


def probe_confusion_matrix(draw: Draw) -> dict:
    from torchvision import transforms as T

    cm = importlib.import_module("proj4_code.confusion_matrix")
    c, n = draw.int(3, 6), draw.int(15, 40)
    targets, preds = draw.labels(n, c).numpy(), draw.labels(n, c).numpy()
    targets[targets == c - 1] = 0  # one class with no samples: its row stays 0
    ans = {}
    guard(ans, "matrix", lambda: values(cm.generate_confusion_matrix(targets, preds, c, normalize=False)))
    guard(ans, "matrix_normalized", lambda: values(cm.generate_confusion_matrix(targets, preds, c, normalize=True)))
    a, m = draw.int(3, 7), draw.int(8, 20)
    flags_t, flags_p = draw.flags(m, a).numpy(), draw.flags(m, a).numpy()
    guard(ans, "accuracy_table", lambda: values(cm.generate_accuracy_table(flags_t, flags_p, a)))
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = Path(tmp) / "data"
        classes = image_tree(root, draw.sub("tree"))["test"]
        dataset = TreeDataset(root, "test", T.Compose([T.Resize((16, 16)), T.ToTensor()]))
        model = _PixelModel(len(classes), draw.sub("model")).train()

        def confusion():
            t, p, labels = cm.generate_confusion_data(model, dataset)
            ans["_first"] = [int(np.asarray(t)[0]), int(np.asarray(p)[0])]
            return [values(np.asarray(t)), values(np.asarray(p)), [str(x) for x in labels],
                    {"eval_mode": bool(model.modes) and not any(model.modes),
                     "without_gradients": bool(model.gradients_enabled) and not any(model.gradients_enabled)}]

        guard(ans, "confusion_data", confusion)
        target, predicted = ans.pop("_first", [0, 0])

        def images():
            paths = cm.get_pred_images_for_target(model, dataset, predicted_class=predicted, target_class=target)
            return sorted(_rel(path, root) for path in paths)

        guard(ans, "pred_images", images)
        flags = draw.sub("flags")
        attributes = flags.int(3, 6)
        rows = {path: flags.flags(attributes) for path, _ in dataset.dataset}
        multi = _FlagsDataset(dataset, rows)
        probs = _ProbabilityModel(attributes, draw.sub("probabilities"))
        guard(ans, "accuracy_data", lambda: [values(np.asarray(a)) for a in
                                             cm.generate_accuracy_data(probs, multi, attributes)])
    return ans


class _FlagsDataset(torch.utils.data.Dataset):
    """An image dataset with attribute flags as the targets."""

    def __init__(self, images: "TreeDataset", flags: dict):
        self.images, self.flags = images, flags

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        x, _ = self.images[index]
        return x, self.flags[self.images.dataset[index][0]]


class _ProbabilityModel(nn.Module):
    """Sigmoid probabilities over pixels, with attribute 0 at exactly 0.5 (the >= 0.5 boundary)."""

    def __init__(self, outputs: int, draw: Draw):
        super().__init__()
        self.fc = nn.Linear(64, outputs)
        self.gradients_enabled: list = []  # torch.is_grad_enabled() at each forward
        fill(self, draw)
        with torch.no_grad():
            self.fc.weight[0].zero_()
            self.fc.bias[0] = 0.0

    def forward(self, x):
        return torch.sigmoid(self.fc(nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)))


def probe_runner(draw: Draw) -> dict:
    """A tiny training run through the student's Trainer (training_step / validation_step), and resume."""
    from torchvision import transforms as T

    class Probed(student("runner", "Trainer")):
        def make_dataset(self, split, transform):  # the grader's loader: only the student's steps are probed
            return TreeDataset(self.data_dir, split, transform)

    transform = T.Compose([T.Resize((10, 12)), T.ToTensor()])

    class Tiny(nn.Module):
        """Batch norm and dropout: a step in eval mode, or a validation in train mode, changes the numbers."""

        def __init__(self, classes: int):
            super().__init__()
            self.conv_layers = nn.Sequential(nn.Flatten())
            self.fc_layers = nn.Sequential(nn.Linear(120, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.25),
                                           nn.Linear(8, classes))
            fill(self, draw.sub("tiny"))
            self.loss_criterion = nn.CrossEntropyLoss()

        def forward(self, x):
            return self.fc_layers(self.conv_layers(x))

    class TinyFrozen(nn.Module):
        """A frozen (parameter-free) 'backbone' and a head: what the Trainer caches features of."""

        def __init__(self, classes: int):
            super().__init__()
            self.conv_layers = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten())  # features (N, 16)
            self.fc_layers = nn.Linear(16, classes)
            fill(self, draw.sub("tiny_frozen"))
            self.loss_criterion = nn.CrossEntropyLoss()

        def head(self, features):
            return self.fc_layers(torch.flatten(features, 1))

        def forward(self, x):
            return self.head(self.conv_layers(x))

    names = ("train_loss_history", "validation_loss_history", "train_accuracy_history",
             "validation_accuracy_history")
    lr, batch_size, seed = float(draw.rng.uniform(0.05, 0.5)), draw.int(2, 4), draw.int(0, 1000)
    ans = {}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = Path(tmp) / "data"
        classes = len(image_tree(root, draw.sub("tree"))["train"])
        # No training batch of one image: batch norm cannot take one in train mode.
        images = len(TreeDataset(root, "train", None))
        batch_size = next(b for b in (batch_size, 2, 3, 4, 5, 6) if images % b != 1)

        def make(out: str, load: bool, model=None, **extra):
            model = model or Tiny(classes)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            # A schedule the Trainer steps once per batch: a step of the student's own changes the histories.
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
            return Probed(data_dir=str(root), model=model, optimizer=optimizer, model_dir=str(Path(tmp) / out),
                          train_data_transforms=transform, val_data_transforms=transform, batch_size=batch_size,
                          load_from_disk=load, device="cpu", progress=False, seed=seed, lr_scheduler=scheduler,
                          **extra)

        def seeded(fn):  # dropout draws from torch's generator: the same numbers on both sides
            def run():
                torch.manual_seed(seed)
                return fn()
            return run

        def validation():
            trainer = make("v", False)
            weights = {k: t.clone() for k, t in trainer.model.state_dict().items()}
            trainer.validate()
            return all(torch.equal(t, weights[k]) for k, t in trainer.model.state_dict().items())

        def training():
            trainer = make("a", False)
            trainer.run_training_loop(2)
            ans["weights"] = values(trainer.model.fc_layers[-1].bias)
            return {n: values(getattr(trainer, n)) for n in names}

        def resume():
            make("b", False).run_training_loop(1)
            resumed = make("b", True)
            resumed.run_training_loop(2)
            return {n: values(getattr(resumed, n)) for n in names}

        def cached():  # the steps must go through model_output: the batches hold features, not images
            trainer = make("c", False, model=TinyFrozen(classes), cache_features=True)
            trainer.run_training_loop(1)
            return {n: values(getattr(trainer, n)) for n in names}

        guard(ans, "validate_keeps_weights", seeded(validation))
        guard(ans, "histories", seeded(training))
        guard(ans, "resume", seeded(resume))
        guard(ans, "cached_features", seeded(cached))
    return ans


# -- the submitted checkpoints, loaded into the classes (Parts 1-2) --------------------------------------

def checkpoint_inputs(seed: int) -> torch.Tensor:
    return Draw(seed, "checkpoint_inputs").uniform(5, 1, 64, 64)


def checkpoint_outputs(seed: int, model_dir: str, parts: list) -> dict:
    """Each from-scratch part's checkpoint loaded into the student's class (its own state dict, strict)
    and run on this grading's inputs: the trusted side runs the same inputs through the model the
    checkpoint describes, so the class submitted must be the class that was trained."""
    ans = {}
    for part in parts:
        if part["backbone"]:
            continue
        path = Path(model_dir) / part["checkpoint"]
        if not path.is_file():
            continue
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            model = getattr(importlib.import_module(part["module"]), part["class_name"])()
            model.load_state_dict(checkpoint["state_dict"], strict=True)
            with torch.no_grad():
                ans[part["class_name"]] = values(model.eval()(checkpoint_inputs(seed)))
        except Exception as err:  # noqa: BLE001 - what the student's class or checkpoint raises is its answer
            ans[part["class_name"]] = {RAISED: f"{type(err).__name__}: {str(err)[:300]}"}
    return ans


PROBES: Dict[str, Callable] = {name[len("probe_"):]: fn for name, fn in sorted(globals().items())
                               if name.startswith("probe_")}
