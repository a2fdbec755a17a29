"""The grader's own, trusted half of the hidden tests: data, transforms, checkpoint loading, scoring.

Which code is trusted: everything here and the test data. From the submission only the model
classes are used (their __init__ and forward rebuild the architecture the checkpoint was trained
with); the dataset reading, transforms, evaluation loop, checkpoint reading and metrics are the
grader's, so a broken or edited image_loader / data_transforms / dl_utils cannot change a score.
Importing this module must not import student code: hidden tests import proj4_code only inside
test functions (see proj4_grader_plugin: hidden files are removed before student code runs).

Environment (set by runner.py): PROJ4_GRADER_CONFIG (config.json), PROJ4_DATA_DIR (test/ and
scene_attributes_test.csv), PROJ4_MODEL_DIR (the submitted checkpoints), GRADER_THREADS.
"""
from __future__ import annotations

import csv
import functools
import importlib
import json
import os
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import torch
from PIL import Image
from torchvision import transforms

CONFIG = json.loads(Path(os.environ["PROJ4_GRADER_CONFIG"]).read_text())
DATA_DIR = Path(os.environ["PROJ4_DATA_DIR"])
MODEL_DIR = Path(os.environ["PROJ4_MODEL_DIR"])
MODULES = {
    "SimpleNet": "proj4_code.simple_net",
    "SimpleNetFinal": "proj4_code.simple_net_final",
    "MyResNet18": "proj4_code.my_resnet",
    "MultilabelResNet18": "proj4_code.multilabel_resnet",
}
BACKBONES = ("resnet18", "efficientnet_lite0")
BATCH_SIZE = 4  # small batches: faster on one CPU and less memory for the 224 x 224 backbones

torch.set_num_threads(int(os.environ.get("GRADER_THREADS", "1")))


def fail(message: str):
    """Fail the test with just this message: no traceback into the hidden test's source."""
    pytest.fail(message, pytrace=False)


def student_class(class_name: str):
    """The submitted model class (student code)."""
    return getattr(importlib.import_module(MODULES[class_name]), class_name)


def load_submitted_model(class_name: str) -> torch.nn.Module:
    """Rebuild the submitted trained_<class_name>_final.pt with the student's class, on the CPU.

    Mirrors dl_utils.load_trained_model for full checkpoints; compact ones would need ImageNet
    weights, which the grader does not have. weights_only=True: a checkpoint cannot run code.
    """
    name = f"trained_{class_name}_final.pt"
    path = MODEL_DIR / name
    if not path.is_file():
        fail(f"{name} is not in the submission: add it to your zip (see zip_submission.py)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        fail(f"{name} cannot be read ({type(err).__name__}: {str(err)[:300]}); save it again with "
             "dl_utils.save_trained_model_weights")
    if not isinstance(checkpoint, dict) or "class_name" not in checkpoint or "state_dict" not in checkpoint:
        fail(f"{name} was not written by dl_utils.save_trained_model_weights (no class_name / state_dict)")
    if checkpoint["class_name"] != class_name:
        fail(f"{name} holds a {checkpoint['class_name']!r}, not a {class_name}")
    if checkpoint.get("format", "full") != "full":
        fail(f"{name} is a {checkpoint.get('format')!r} checkpoint; the grader has no ImageNet weights: "
             "save it with save_trained_model_weights(model, out_dir, compact=False)")
    kwargs = dict(checkpoint.get("model_kwargs") or {})
    if set(kwargs) - {"backbone"} or kwargs.get("backbone", "resnet18") not in BACKBONES:
        fail(f"{name}: unexpected model_kwargs {kwargs}")
    cls = student_class(class_name)
    model = cls(pretrained=False, **kwargs) if "backbone" in kwargs else cls()
    try:
        model.load_state_dict(checkpoint["state_dict"], strict=True)
    except Exception as err:
        fail(f"{name} does not fit your {class_name} class (did the architecture change after "
             f"training?): {str(err)[:600]}")
    return model.eval()


def _class_names() -> List[str]:
    return sorted(entry.name for entry in os.scandir(DATA_DIR / "test") if entry.is_dir())


def classification_set() -> List[Tuple[Path, int]]:
    """[(image path, class index)] of the test split; classes sorted alphabetically."""
    items = []
    for index, name in enumerate(_class_names()):
        for file in sorted((DATA_DIR / "test" / name).iterdir()):
            if file.suffix.lower() in (".jpg", ".jpeg", ".png"):
                items.append((file, index))
    return items


def attribute_set() -> List[Tuple[Path, List[float]]]:
    """[(image path, 7 flags)] from scene_attributes_test.csv."""
    items = []
    with open(DATA_DIR / "scene_attributes_test.csv", newline="") as f:
        for row in csv.reader(f):
            if row:
                items.append((DATA_DIR / "test" / row[0].strip() / row[1].strip(), [float(c) for c in row[2:]]))
    return items


def eval_transform(class_name: str):
    """What each model is evaluated on: the course's evaluation presets, rebuilt here."""
    if class_name in ("SimpleNet", "SimpleNetFinal"):
        size = CONFIG["small_input_size"]
        return transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                   transforms.Normalize([CONFIG["pixel_mean"]], [CONFIG["pixel_std"]])])
    size = CONFIG["backbone_input_size"]
    return transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])  # backbones normalise


def _load(path: Path, transform) -> torch.Tensor:
    with Image.open(path) as img:
        return transform(img.convert("L"))


@functools.lru_cache(maxsize=1)
def _small_images() -> torch.Tensor:
    """Both from-scratch models see the same 64 x 64 normalised test images: decode them once."""
    transform = eval_transform("SimpleNet")
    return torch.stack([_load(path, transform) for path, _ in classification_set()])


def predict(model: torch.nn.Module, class_name: str, paths: List[Path]) -> torch.Tensor:
    """The model's outputs over the images, batch by batch, in eval mode without gradients."""
    outputs = []
    model.eval()
    small = class_name in ("SimpleNet", "SimpleNetFinal")
    transform = eval_transform(class_name)
    images = _small_images() if small else None
    with torch.no_grad():
        for start in range(0, len(paths), BATCH_SIZE):
            if small:
                batch = images[start:start + BATCH_SIZE]
            else:
                batch = torch.stack([_load(p, transform) for p in paths[start:start + BATCH_SIZE]])
            out = model(batch)
            if not isinstance(out, torch.Tensor):
                fail(f"{class_name}.forward returned {type(out).__name__}, not a tensor")
            outputs.append(out.detach().float())
    return torch.cat(outputs)


def evaluate_checkpoint(class_name: str) -> Tuple[float, int]:
    """(accuracy, number of images) of the submitted checkpoint on the test split."""
    model = load_submitted_model(class_name)
    if class_name == "MultilabelResNet18":
        items = attribute_set()
        probs = predict(model, class_name, [p for p, _ in items])
        targets = torch.tensor([flags for _, flags in items])
        if probs.shape != targets.shape:
            fail(f"{class_name} returned shape {tuple(probs.shape)} for {len(items)} images, "
                 f"expected {tuple(targets.shape)}")
        if not torch.isfinite(probs).all() or probs.min() < 0 or probs.max() > 1:
            fail(f"{class_name} must return probabilities in [0, 1] (a sigmoid), got values in "
                 f"[{probs.min().item():.3g}, {probs.max().item():.3g}]")
        return ((probs >= 0.5).float() == targets).float().mean().item(), len(items)
    items = classification_set()
    logits = predict(model, class_name, [p for p, _ in items])
    if logits.shape != (len(items), 15):
        fail(f"{class_name} returned shape {tuple(logits.shape)} for {len(items)} images, expected ({len(items)}, 15)")
    labels = torch.tensor([label for _, label in items])
    return (logits.argmax(dim=1) == labels).float().mean().item(), len(items)


def credit(accuracy: float, threshold: float, floor: float) -> float:
    """Partial credit: 0 at or below the floor, 1 at or above the threshold, linear in between."""
    return min(1.0, max(0.0, (accuracy - floor) / (threshold - floor)))


def grade_accuracy(class_name: str, record_property, points: float) -> None:
    """Record the credit and its explanation; fail unless the threshold is reached."""
    rule: Dict[str, float] = CONFIG["thresholds"][class_name]
    accuracy, count = evaluate_checkpoint(class_name)
    fraction = credit(accuracy, rule["threshold"], rule["floor"])
    what = "element-wise attribute accuracy" if class_name == "MultilabelResNet18" else "accuracy"
    message = (f"{class_name}: test {what} {accuracy:.2%} on {count} images; threshold {rule['threshold']:.0%}, "
               f"floor {rule['floor']:.0%}. credit = clip((accuracy - floor) / (threshold - floor), 0, 1) "
               f"= {fraction:.3f} -> {fraction * points:.2f} / {points:g} points")
    record_property("score_fraction", fraction)
    record_property("grader_output", message)
    if accuracy < rule["threshold"]:
        fail(message)
