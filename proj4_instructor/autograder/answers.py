"""The answer producer: the only autograder code that runs student code. It decides nothing.

Rule: this process runs as the unprivileged sandbox user (see sandbox.py) and writes ANSWERS only,
to the JSON file named on its command line: the outputs of student functions on fixed inputs
(probes), and the predictions of each submitted checkpoint on the anonymous test images. It never
sees what it is judged against: the expected answers, the labels and the rules stay with the
trusted side (scoring.py), which reads this file with json only.
Reason: anything in this process can be changed by the submission (monkeypatching, os._exit,
forged files); so nothing it writes may be taken as a verdict, only as a value to compare.

Each probe runs on its own, in a try/except: a crash is recorded as that probe's error and the
others still run. The file is rewritten after every probe, so a process killed midway leaves the
answers it had. Fixed inputs are public (this file is readable by the sandbox user).

    python answers.py OUT.json CONFIG.json [--probes-only]
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

BACKBONES = ("resnet18", "efficientnet_lite0")
BATCH_SIZE = 4  # small batches: faster on one CPU and less memory for the 224 x 224 backbones


def student(module: str, name: str):
    return getattr(importlib.import_module(f"proj4_code.{module}"), name)


def provided(module: str, name: str):
    return getattr(importlib.import_module(f"proj4_lib.{module}"), name)


def v(x, digits: int = 5):
    """A tensor / array / number as rounded JSON values."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    if isinstance(x, np.ndarray):
        return np.round(x.astype(np.float64), digits).tolist()
    if isinstance(x, (float, np.floating)):
        return round(float(x), digits)
    if isinstance(x, (list, tuple)):
        return [v(item, digits) for item in x]
    return x


def count(params) -> int:
    return int(sum(p.numel() for p in params))


def fill(model: nn.Module, seed: int = 7) -> nn.Module:
    """Deterministic weights by position, so two equal architectures compute the same (buffers kept)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.05)
    return model


def fixed(*shape, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def raises(fn) -> str:
    try:
        fn()
    except Exception as err:  # noqa: BLE001 - the type is the answer
        return type(err).__name__
    return ""


def types(seq) -> list:
    return [type(m).__name__ for m in seq]


# -- probes: one per part of the assignment ---------------------------------------------------------

def probe_simple_net() -> dict:
    torch.manual_seed(0)
    model = student("simple_net", "SimpleNet")()
    conv, fc = list(model.conv_layers), list(model.fc_layers)
    ans = {
        "attributes": [type(model.conv_layers).__name__, type(model.fc_layers).__name__,
                       type(model.loss_criterion).__name__, getattr(model.loss_criterion, "reduction", None)],
        "params": count(model.parameters()),
        "all_trainable": all(p.requires_grad for p in model.parameters()),
        "conv_types": types(conv), "fc_types": types(fc),
        "conv_shapes": [[m.in_channels, m.out_channels, list(m.kernel_size), list(m.stride), list(m.padding)]
                        for m in conv if isinstance(m, nn.Conv2d)],
        "pools": [[m.kernel_size, m.stride] for m in conv if isinstance(m, nn.MaxPool2d)],
        "fc_shapes": [[m.in_features, m.out_features] for m in fc if isinstance(m, nn.Linear)],
    }
    model.eval()
    with torch.no_grad():
        ans["out_shapes"] = [list(model(fixed(n, 1, 64, 64)).shape) for n in (1, 5)]
        ans["conv_out_shape"] = list(model.conv_layers(fixed(2, 1, 64, 64)).shape)
        ans["forward"] = v(fill(model)(fixed(4, 1, 64, 64, seed=1)), 4)
    ans["wrong_input_raises"] = [raises(lambda s=s: model(torch.rand(*s))) for s in ((2, 3, 64, 64), (2, 1, 32, 32))]
    return ans


def probe_simple_net_final() -> dict:
    torch.manual_seed(0)
    model = student("simple_net_final", "SimpleNetFinal")()
    kinds = [m for m in model.modules()]
    ans = {
        "attributes": [type(model.conv_layers).__name__, type(model.fc_layers).__name__,
                       type(model.loss_criterion).__name__, getattr(model.loss_criterion, "reduction", None)],
        "counts": {kind.__name__: sum(isinstance(m, kind) for m in kinds)
                   for kind in (nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.ReLU)},
        "dropout": any(isinstance(m, nn.modules.dropout._DropoutNd) for m in kinds),
    }
    model.eval()
    with torch.no_grad():
        x = fixed(3, 1, 64, 64)
        first = model(x)
        ans["out_shape"] = list(first.shape)
        ans["eval_deterministic"] = bool(torch.equal(first, model(x)))
    return ans


def _frozen_model(class_name: str, module: str, outputs: int) -> dict:
    cls = student(module, class_name)
    ans = {}
    for backbone in BACKBONES:
        torch.manual_seed(0)
        model = cls(pretrained=False, backbone=backbone)
        a = {
            "trainable": count(p for p in model.parameters() if p.requires_grad),
            "frozen": count(p for p in model.parameters() if not p.requires_grad),
            "conv_layers_trainable": count(p for p in model.conv_layers.parameters() if p.requires_grad),
            "conv_layers_params": count(model.conv_layers.parameters()),
            "loss": [type(model.loss_criterion).__name__, getattr(model.loss_criterion, "reduction", None)],
            "first_layer": type(model.conv_layers[0]).__name__,
        }
        if hasattr(model, "activation"):
            a["activation"] = type(model.activation).__name__
            a["sigmoid_in_fc"] = any(isinstance(m, nn.Sigmoid) for m in model.fc_layers.modules())
        model.train()
        a["backbone_eval_in_train"] = not any(m.training for m in model.conv_layers.modules())
        fill(model, seed=3).eval()
        gray = fixed(2, 1, 64, 64, seed=2)
        with torch.no_grad():
            out = model(gray)
            a["out_shape"] = list(out.shape)
            a["forward"] = v(out, 4)
            a["rgb_same_as_gray"] = bool(torch.allclose(out, model(gray.expand(-1, 3, -1, -1)), atol=1e-5))
        # one training step with a trusted loop (torch only): the backbone must not change
        torch.manual_seed(0)
        model = fill(cls(pretrained=False, backbone=backbone), seed=8)
        before = {k: t.clone() for k, t in model.conv_layers.state_dict().items()}
        head = {k: t.clone() for k, t in model.fc_layers.state_dict().items()}
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
        model.train()
        out = model(fixed(4, 1, 64, 64, seed=4))
        target = (torch.randint(0, 2, (4, outputs), generator=torch.Generator().manual_seed(5)).float()
                  if outputs == 7 else torch.tensor([0, 3, 7, 14]))
        loss = model.loss_criterion(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        a["backbone_unchanged"] = all(torch.equal(t, before[k]) for k, t in model.conv_layers.state_dict().items())
        a["head_changed"] = any(not torch.equal(t, head[k]) for k, t in model.fc_layers.state_dict().items())
        a["head_after_step"] = v(sum(t.double().sum() for t in model.fc_layers.state_dict().values()), 3)
        ans[backbone] = a
    return ans


def probe_my_resnet() -> dict:
    return _frozen_model("MyResNet18", "my_resnet", 15)


def probe_multilabel_resnet() -> dict:
    return _frozen_model("MultilabelResNet18", "multilabel_resnet", 7)


class _ToyNet(nn.Module):
    def __init__(self, criterion):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
            self.fc.bias.copy_(torch.tensor([0.0, 0.5, -1.0]))
        self.loss_criterion = criterion

    def forward(self, x):
        return self.fc(x)


def probe_dl_utils() -> dict:
    acc = student("dl_utils", "compute_accuracy")
    macc = student("dl_utils", "compute_multilabel_accuracy")
    loss = student("dl_utils", "compute_loss")
    logits = fixed(40, 15, seed=11)
    labels = torch.randint(0, 15, (40,), generator=torch.Generator().manual_seed(12))
    labels[:9] = logits[:9].argmax(1)
    probs = fixed(30, 7, seed=13)
    probs[0, :3] = 0.5
    flags = (fixed(30, 7, seed=14) > 0.5).float()
    a = {"accuracy": [type(acc(logits, labels)).__name__, v(acc(logits, labels), 6)],
         "multilabel_accuracy": [type(macc(probs, flags)).__name__, v(macc(probs, flags), 6)]}
    x, y = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.0]]), torch.tensor([2, 0, 1])
    out = {}
    for reduction in ("mean", "sum"):
        model = _ToyNet(nn.CrossEntropyLoss(reduction=reduction))
        value = loss(model, model(x), y)
        out[reduction] = [v(value, 5), v(loss(model, model(x), y, is_normalize=False), 5),
                          int(value.dim()), bool(value.requires_grad)]
    bce = _ToyNet(nn.BCELoss(reduction="mean"))
    p = torch.tensor([[0.9, 0.2], [0.5, 0.7], [0.1, 0.6]], requires_grad=True)
    f = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    out["bce"] = [v(loss(bce, p, f), 5), v(loss(bce, p, f, is_normalize=False), 5)]
    a["loss"] = out
    return a


def probe_checkpoints() -> dict:
    """The student's model classes through the provided save / load (proj4_lib.checkpoints)."""
    save = provided("checkpoints", "save_trained_model_weights")
    load = provided("checkpoints", "load_trained_model")
    builds = {"SimpleNet": lambda: student("simple_net", "SimpleNet")()}
    for cls_name, module in (("MyResNet18", "my_resnet"), ("MultilabelResNet18", "multilabel_resnet")):
        for backbone in BACKBONES:
            builds[f"{cls_name}-{backbone}"] = (lambda c=cls_name, m=module, b=backbone:
                                                student(m, c)(pretrained=False, backbone=b))
    ans = {"round_trip": {}}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        for name, build in builds.items():
            try:
                torch.manual_seed(0)
                model = fill(build(), seed=9).eval()
                x = fixed(2, 1, 64, 64, seed=6)
                with torch.no_grad():
                    expected = model(x)
                path = save(model, Path(tmp) / name)
                torch.manual_seed(123)
                loaded = load(path, expected_class=type(model).__name__)
                with torch.no_grad():
                    same = bool(torch.equal(loaded(x), expected))
                ans["round_trip"][name] = [same, bool(not loaded.training), type(loaded).__name__,
                                           v(expected.sum(), 3)]
            except Exception as err:  # noqa: BLE001
                ans["round_trip"][name] = f"error: {type(err).__name__}: {str(err)[:300]}"
        simple = student("simple_net", "SimpleNet")
        path = save(simple(), Path(tmp) / "refuse")
        ans["refuses_other_class"] = raises(lambda: load(path, expected_class="SimpleNetFinal"))
        torch.save(simple().state_dict(), Path(tmp) / "bare.pt")
        ans["refuses_bare_state_dict"] = raises(lambda: load(Path(tmp) / "bare.pt"))
        checkpoint = torch.load(path, weights_only=True)
        checkpoint["state_dict"]["fc_layers.2.weight"] = torch.zeros(10, 100)
        torch.save(checkpoint, Path(tmp) / "misfit.pt")
        ans["refuses_misfit"] = raises(lambda: load(Path(tmp) / "misfit.pt"))
    return ans


def _ramp_image() -> Image.Image:
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(0, 200, 120), (90, 1))
    return Image.fromarray((ramp + rng.integers(0, 55, (90, 120))).astype(np.uint8), mode="L")


def probe_data_transforms() -> dict:
    from torchvision import transforms as T

    dt = importlib.import_module("proj4_code.data_transforms")
    size, mean, std = (48, 64), 0.45, 0.25
    presets = {"fundamental": lambda: dt.get_fundamental_transforms(size),
               "augmentation": lambda: dt.get_fundamental_augmentation_transforms(size),
               "normalization": lambda: dt.get_fundamental_normalization_transforms(size, mean, std),
               "all": lambda: dt.get_all_transforms(size, mean, std)}
    image = _ramp_image()
    ans = {}
    for name, make in presets.items():
        compose = make()
        torch.manual_seed(0)
        out = compose(image)
        kinds = [type(t).__name__ for t in compose.transforms]
        norms = [[v(list(t.mean)), v(list(t.std))] for t in compose.transforms if isinstance(t, T.Normalize)]
        ans[name] = {"compose": type(compose).__name__, "shape": list(out.shape), "dtype": str(out.dtype),
                     "range_ok": bool(0.0 <= out.min() and out.max() <= 1.0 and out.max() > 0.5),
                     "flip_and_jitter": "RandomHorizontalFlip" in kinds and "ColorJitter" in kinds,
                     "normalize": norms}
        if name in ("fundamental", "normalization"):
            ans[name]["values"] = v(out[0, ::6, ::8], 2)
        if name in ("augmentation", "all"):
            outs = []
            for seed in range(6):
                torch.manual_seed(seed)
                outs.append(compose(image))
            ans[name]["random"] = any(not torch.equal(outs[0], o) for o in outs[1:])
    return ans


def _tree(root: Path, classes=("beach", "city", "forest"), per_class=(3, 2, 4)) -> Path:
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for c, (name, n) in enumerate(zip(classes, per_class)):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = (rng.integers(0, 256, (20, 24), dtype=np.uint8) // (c + 1)).astype(np.uint8)
                Image.fromarray(pixels, mode="L").save(folder / f"img_{i}.png")
            (folder / "notes.txt").write_text("not an image")
    return root


def probe_image_loader() -> dict:
    from torchvision import transforms as T

    loader_cls = student("image_loader", "ImageLoader")
    multi_cls = student("image_loader", "MultiLabelImageLoader")
    read_csv = student("image_loader", "read_attribute_csv")
    ans = {}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = _tree(Path(tmp))
        loader = loader_cls(str(root), "test", T.ToTensor())
        ans["classes"] = loader.get_classes() if hasattr(loader, "get_classes") else None
        ans["class_dict"] = dict(getattr(loader, "class_dict", {}))
        ans["items"] = sorted([os.path.relpath(p, root), int(c)] for p, c in loader.dataset)
        ans["len"] = len(loader)
        x, y = loader[len(loader) - 1]
        ans["getitem"] = [list(x.shape), int(y), v(x.sum(), 3)]
        rows = ["beach,img_0.png,1,0,1,0,0,1,0", "city,img_1.png,0,1,1,1,0,0,1", "forest,img_3.png,0,0,0,1,1,1,1"]
        csv = root / "attributes.csv"
        csv.write_text("\n".join(rows) + "\n")
        read = read_csv(str(csv), str(root / "test"))
        ans["csv"] = [[os.path.relpath(p, root), v(t)] for p, t in read]
        multi = multi_cls(str(root), str(csv), "test", T.ToTensor())
        mx, my = multi[1]
        ans["multilabel"] = [len(multi), list(mx.shape), v(my), v(mx.sum(), 3)]
        (root / "test" / "empty").mkdir()
        ans["empty_class_folder"] = raises(lambda: loader_cls(str(root), "test", T.ToTensor()))
    return ans


def probe_stats_helper() -> dict:
    compute = student("stats_helper", "compute_mean_and_std")
    ans = {}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = Path(tmp)
        (root / "a").mkdir()
        Image.fromarray(np.full((4, 5), 51, np.uint8), mode="L").save(root / "a" / "one.png")
        Image.fromarray(np.full((2, 10), 204, np.uint8), mode="L").save(root / "two.png")
        ans["constant"] = v(list(compute(str(root))), 6)
        rng = np.random.default_rng(3)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (17, 13 + i), dtype=np.uint8), mode="L").save(root / f"r{i}.png")
        ans["random"] = v(list(compute(str(root))), 6)
    return ans


def probe_optimizer() -> dict:
    get = student("optimizer", "get_optimizer")
    ans = {}
    for kind in ("sgd", "adam"):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        for p in model[0].parameters():
            p.requires_grad = False
        config = {"optimizer_type": kind, "lr": 0.05, "weight_decay": 0.01, "momentum": 0.9}
        opt = get(model, config)
        group = opt.param_groups[0]
        loss = model(fixed(5, 4, seed=8)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ans[kind] = {"type": type(opt).__name__, "lr": group.get("lr"), "weight_decay": group.get("weight_decay"),
                     "momentum": group.get("momentum"),
                     "params": sorted(p.numel() for g in opt.param_groups for p in g["params"]),
                     "after_step": v(model[2].weight, 4)}
    ans["defaults"] = type(get(nn.Linear(2, 2), {})).__name__
    return ans


class _PredictFromPixels(nn.Module):
    def __init__(self, outputs: int, sigmoid: bool = False):
        super().__init__()
        self.fc = nn.Linear(20 * 24, outputs)
        fill(self, seed=21)
        self.sigmoid = sigmoid

    def forward(self, x):
        out = self.fc(x.flatten(1) * 8)
        return torch.sigmoid(out) if self.sigmoid else out


def probe_confusion_matrix() -> dict:
    from torchvision import transforms as T

    cm = importlib.import_module("proj4_code.confusion_matrix")
    targets = np.array([0, 1, 2, 2, 1, 0, 2, 2, 1])
    preds = np.array([0, 2, 2, 1, 1, 0, 2, 0, 1])
    ans = {"matrix": v(cm.generate_confusion_matrix(targets, preds, 3, normalize=False), 4),
           "matrix_normalized": v(cm.generate_confusion_matrix(targets, preds, 3, normalize=True), 4)}
    flags_t = (fixed(12, 7, seed=31) > 0.5).float().numpy()
    flags_p = (fixed(12, 7, seed=32) > 0.5).float().numpy()
    ans["accuracy_table"] = v(cm.generate_accuracy_table(flags_t, flags_p, 7), 4)
    loader_cls = student("image_loader", "ImageLoader")
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = _tree(Path(tmp))
        dataset = loader_cls(str(root), "test", T.ToTensor())
        model = _PredictFromPixels(3).train()
        t, p, labels = cm.generate_confusion_data(model, dataset)
        ans["confusion_data"] = [v(np.asarray(t)), v(np.asarray(p)), list(labels), bool(not model.training)]
        paths = cm.get_pred_images_for_target(model, dataset, predicted_class=2, target_class=2)
        ans["pred_images"] = sorted(os.path.relpath(path, root) for path in paths)
    return ans


def probe_runner() -> dict:
    """A tiny training run with the student's training_step / validation_step (Trainer) and resume."""
    from torchvision import transforms as T

    trainer_cls = student("runner", "Trainer")
    transform = T.Compose([T.ToTensor()])

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_layers = nn.Sequential(nn.Flatten())
            self.fc_layers = nn.Sequential(nn.Linear(20 * 24, 3))
            fill(self, seed=41)
            self.loss_criterion = nn.CrossEntropyLoss()

        def forward(self, x):
            return self.fc_layers(self.conv_layers(x))

    def make(root, out, load):
        model = Tiny()
        return trainer_cls(str(root), model, torch.optim.SGD(model.parameters(), lr=0.5), str(out), transform,
                           transform, batch_size=4, load_from_disk=load, device="cpu", progress=False)

    names = ("train_loss_history", "validation_loss_history", "train_accuracy_history",
             "validation_accuracy_history")
    ans = {}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = _tree(Path(tmp) / "data")
        straight = make(root, Path(tmp) / "a", False)
        weights = {k: t.clone() for k, t in straight.model.state_dict().items()}
        straight.validate()
        ans["validate_keeps_weights"] = all(torch.equal(t, weights[k]) for k, t in straight.model.state_dict().items())
        straight = make(root, Path(tmp) / "a", False)
        straight.run_training_loop(2)
        ans["histories"] = {n: v(getattr(straight, n), 4) for n in names}
        ans["weights"] = v(straight.model.fc_layers[0].bias, 4)
        first = make(root, Path(tmp) / "b", False)
        first.run_training_loop(1)
        resumed = make(root, Path(tmp) / "b", True)
        resumed.run_training_loop(2)
        ans["resume"] = {n: v(getattr(resumed, n), 4) for n in names}
    return ans


PROBES = {name[len("probe_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("probe_")}


# -- checkpoint predictions ----------------------------------------------------------------------------

def predict(part: dict, config: dict) -> dict:
    """Predictions of a part's submitted checkpoint on the anonymous test images (part: from config["parts"])."""
    from torchvision import transforms as T

    class_name = part["class_name"]
    path = Path(config["model_dir"]) / part["checkpoint"]
    if not path.is_file():
        return {"error": f"{path.name} is not in the submission"}
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    kwargs = dict(checkpoint.get("model_kwargs") or {})
    cls = getattr(importlib.import_module(part["module"]), class_name)
    model = cls(pretrained=False, **kwargs) if "backbone" in kwargs else cls()
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    model.eval()
    size = part["inp_size"]
    steps = [T.Resize((size, size)), T.ToTensor()]
    if part["normalize"]:  # the from-scratch models; the pretrained backbones normalise by themselves
        steps.append(T.Normalize([config["pixel_mean"]], [config["pixel_std"]]))
    transform = T.Compose(steps)
    folder = Path(config["images_dir"]) / ("attributes" if part["multilabel"] else "images")
    files = sorted(folder.glob("*.jpg"))
    outputs = []
    with torch.no_grad():
        for start in range(0, len(files), BATCH_SIZE):
            batch = []
            for file in files[start:start + BATCH_SIZE]:
                with Image.open(file) as img:
                    batch.append(transform(img.convert("L")))
            out = model(torch.stack(batch))
            if not isinstance(out, torch.Tensor):
                return {"error": f"{class_name}.forward returned {type(out).__name__}, not a tensor"}
            outputs.append(out.detach().float())
    out = torch.cat(outputs)
    if part["multilabel"]:
        return {"probabilities": v(out, 4)}
    if out.dim() != 2:
        return {"error": f"{class_name} returned shape {tuple(out.shape)}"}
    return {"classes": out.argmax(dim=1).tolist(), "shape": list(out.shape)}


# -- the answer file -----------------------------------------------------------------------------------

def main(argv) -> int:
    out, config = Path(argv[0]), json.loads(Path(argv[1]).read_text())
    torch.set_num_threads(int(config.get("threads", 1)))
    answers = {"probes": {}, "predictions": {}}

    def save():
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(answers))
        os.replace(tmp, out)

    def attempt(table: dict, key: str, fn):
        start = time.monotonic()
        try:
            table[key] = {"answer": fn()}
        except BaseException as err:  # noqa: B036 - SystemExit from student code is one probe's failure
            table[key] = {"error": "".join(traceback.format_exception_only(type(err), err)).strip()[-1500:],
                          "traceback": traceback.format_exc()[-3000:]}
        table[key]["seconds"] = round(time.monotonic() - start, 2)
        save()

    for name, fn in PROBES.items():
        if name in config.get("skip_probes", ()):
            continue
        attempt(answers["probes"], name, fn)
    if "--probes-only" not in argv:
        for part in config["parts"]:
            attempt(answers["predictions"], part["class_name"], lambda p=part: predict(p, config))
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
