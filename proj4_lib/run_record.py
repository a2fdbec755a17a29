"""The run record: one JSON file beside your trained models that every training run and analysis adds to.

`model_output/run_record.json` (on Colab in your project folder on Drive, so it survives a runtime
reset) holds, per part, what the report shows (proj4_lib/report.py, `proj4 report`): the recipe and
hyper-parameters, the loss and accuracy of every epoch, the final accuracies, the parameter counts
and layers, the transforms, the device, the time and the library versions, the SHA-256 of the
checkpoint you saved, and the analyses after training (the confusion matrix, small copies of the most
confused pair's misclassified images, the attribute accuracy table), and Part 2's ablation table.
Its "runs" list keeps one line per training and per saved checkpoint, oldest first.

The notebook's cells and `proj4 train` write it; you never need to edit it. Every write replaces the
file atomically (a crash leaves the old or the new file, never half of one) and keeps the version
before it as run_record.json.bak. A file that is not a readable run record is never overwritten:
reading it raises RecordError naming the file and the backup.

Base layer: nothing here imports your code. A part's entry is reset when that part is trained again
(its analyses and checkpoint described the model before), so the record always describes the last
training of each part.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Sequence, Union

from proj4_lib import parts

NAME = "run_record.json"
FORMAT = "proj4 run record"
VERSION = 1
THUMBNAIL = 160  # pixels on the longer side of a stored misclassified image (about 5 KB each as JPEG)
MISCLASSIFIED = 3  # images of the most confused pair kept in the record

PathLike = Union[str, Path]


class RecordError(ValueError):
    """The record file cannot be used; the message names it and says what to do."""


def path_in(out_dir: PathLike) -> Path:
    """The record of an output folder: out_dir/run_record.json."""
    return Path(out_dir) / NAME


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def empty() -> dict:
    return {"format": FORMAT, "version": VERSION, "created": now(), "updated": None, "parts": {},
            "ablation": {"rows": []}, "runs": []}


def read(path: PathLike) -> dict:
    """The record at `path` (an empty one if there is no file); RecordError if the file is not one."""
    path = Path(path)
    if not path.exists():
        return empty()
    backup = path.with_name(path.name + ".bak")
    keep = (f"It is left as it is. Move it away, or replace it with {backup.name} (the version before the last "
            "change) if that one reads, then run this again." if backup.is_file() else
            "It is left as it is. Move it away (a new record then starts: retrain the parts it held), then run "
            "this again.")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(f"{path} cannot be read as a run record ({type(err).__name__}: {err}). {keep}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise RecordError(f"{path} is not a proj4 run record (no \"format\": \"{FORMAT}\"). {keep}")
    if not isinstance(record.get("version"), int) or record["version"] > VERSION:
        raise RecordError(f"{path} is a run record of version {record.get('version')!r}, newer than this proj4 "
                          f"reads ({VERSION}): update the project (pip install -e .). {keep}")
    for key, default in (("parts", {}), ("ablation", {"rows": []}), ("runs", [])):
        record.setdefault(key, default)
    return record


def _finite(value):
    """JSON has no NaN or infinity (a diverged loss): they are stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write(path: PathLike, record: dict) -> Path:
    """Replace the file atomically, keeping the one before as <name>.bak."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(record), indent=1, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's file is private: give the record the mode any new file gets
        if path.is_file():
            os.replace(path, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def update(path: PathLike, change: Callable[[dict], None]) -> dict:
    """Read the record, apply `change` to it, write it back; returns the new record."""
    record = read(path)
    change(record)
    record["updated"] = now()
    write(path, record)
    return record


def _part_entry(record: dict, name: str) -> dict:
    part = parts.get_part(name)
    return record["parts"].setdefault(part.name, {"part": part.number, "class_name": part.class_name})


# -- what the training cells and `proj4 train` record ------------------------------------------------------------
def versions() -> Dict[str, str]:
    import torch
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "platform": platform.platform(terse=True)}


def device_name(device) -> str:
    import torch

    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def parameter_counts(model) -> Dict[str, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "frozen": sum(p.numel() for p in model.parameters()) - trainable}


def layer_text(module) -> str:
    """A layer in a few words: "Conv2d(1, 16, k=3, s=1, p=1, bias=False)", "Linear(500, 100)", "Dropout(p=0.5)"."""
    import re

    text = module.extra_repr()
    text = re.sub(r"\((\d+), \1\)", r"\1", text)  # (3, 3) -> 3
    for default in (", stride=1", ", padding=0", ", dilation=1", ", ceil_mode=False", ", eps=1e-05", ", momentum=0.1",
                    ", affine=True", ", track_running_stats=True", ", bias=True", "inplace=False"):
        text = text.replace(default, "")  # the defaults say nothing
    for long, short in (("kernel_size=", "k="), ("stride=", "s="), ("padding=", "p="), ("in_features=", ""),
                        ("out_features=", "")):
        text = text.replace(long, short)
    return f"{type(module).__name__}({text.strip(', ')})"


def layers(model, limit: int = 40) -> List[str]:
    """The model's layers, one line each ("conv_layers.0: Conv2d(1, 16, k=5, s=1)  [260 parameters]"), without the
    frozen backbone's."""
    from torch import nn

    lines = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None or not name or isinstance(module, nn.modules.loss._Loss):
            continue
        if all(not p.requires_grad for p in module.parameters(recurse=False)) and name.startswith("conv_layers.") \
                and getattr(model, "backbone_name", None):
            continue  # a pretrained backbone's hundreds of layers say nothing the backbone's name does not
        count = sum(p.numel() for p in module.parameters(recurse=False))
        lines.append(f"{name}: {layer_text(module)}" + (f"  [{count:,}]" if count else ""))
    return lines if len(lines) <= limit else lines[:limit - 1] + [f"... and {len(lines) - limit + 1} more layers"]


def record_training(out_dir: PathLike, name: str, trainer, hparams: dict, source: str,
                    transforms: Sequence = (), quick: bool = False) -> dict:
    """Record the training a Trainer has just finished (replacing the part's earlier entry).

    hparams: the values it was trained with (epochs, batch_size, lr, weight_decay, inp_size, ...); the
    part's optimizer and schedule come from its recipe. transforms: (training, test) transforms.
    source: "notebook" or "proj4 train". Returns the part's new entry.
    """
    part = parts.get_part(name)
    history = {key: [float(v) for v in values] for key, values in trainer.history.items()}
    model = trainer.model
    entry = {
        "part": part.number, "class_name": part.class_name, "source": source, "finished": now(),
        "quick": bool(quick), "epochs": int(trainer.epoch),
        "hparams": {**{k: list(v) if isinstance(v, tuple) else v for k, v in hparams.items() if k != "resume"},
                    "optimizer": part.recipe.optimizer, "schedule": part.recipe.schedule},
        "history": history,
        "train_accuracy": history["train_accuracy"][-1] if history.get("train_accuracy") else None,
        "test_accuracy": history["validation_accuracy"][-1] if history.get("validation_accuracy") else None,
        "train_seconds": round(sum(history.get("epoch_seconds", [])), 2),
        "device": device_name(trainer.device), "versions": versions(),
        "parameters": parameter_counts(model), "architecture": layers(model),
        "backbone": getattr(model, "backbone_name", None),
        "transforms": {"train": str(transforms[0]), "test": str(transforms[1])} if transforms else None,
        "checkpoint": None, "confusion": None, "misclassified": None, "attributes": None,
    }

    def change(record):
        record["parts"][part.name] = entry
        record["runs"].append({"time": entry["finished"], "event": "trained", "part": part.name, "source": source,
                               "epochs": entry["epochs"], "test_accuracy": entry["test_accuracy"], "quick": quick})

    update(path_in(out_dir), change)
    return entry


def record_checkpoint(out_dir: PathLike, checkpoint: PathLike) -> dict:
    """Record the SHA-256 of a trained_<Model>_final.pt just saved (in out_dir). Returns what was recorded."""
    from proj4_lib.checkpoints import sha256_of_file

    checkpoint = Path(checkpoint)
    part = next((p for p in parts.PARTS if p.checkpoint == checkpoint.name), None)
    if part is None:
        raise ValueError(f"{checkpoint.name} is not a part's checkpoint (trained_<Model>_final.pt)")
    saved = {"file": checkpoint.name, "sha256": sha256_of_file(checkpoint), "bytes": checkpoint.stat().st_size,
             "saved": now()}

    def change(record):
        entry = _part_entry(record, part.name)
        saved["test_accuracy"] = entry.get("test_accuracy")  # of the training the saved model comes from
        entry["checkpoint"] = saved
        record["runs"].append({"time": saved["saved"], "event": "saved", "part": part.name, "sha256": saved["sha256"]})

    update(path_in(out_dir), change)
    return saved


# -- what the analyses after training record ---------------------------------------------------------------------
def record_confusion(out_dir: PathLike, name: str, matrix, labels: Sequence[str]) -> None:
    """A (C, C) confusion matrix (rows: true class) over the test set, with the class names in index order."""
    rows = [[round(float(v), 4) for v in row] for row in matrix]
    update(path_in(out_dir), lambda record: _part_entry(record, name).update(
        confusion={"labels": list(labels), "matrix": rows}))


def thumbnail(path: PathLike, size: int = THUMBNAIL) -> str:
    """A small grayscale JPEG of the image, base64-encoded: the report needs no data folder."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("L")
        small.thumbnail((size, size))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def record_misclassified(out_dir: PathLike, name: str, true_label: str, predicted_label: str, count: int,
                         paths: Iterable[PathLike]) -> None:
    """The most confused pair (true, predicted), how many test images it holds, and small copies of a few
    (count 0: nothing is misclassified)."""
    images = [{"name": Path(p).name, "jpeg_base64": thumbnail(p)} for p in list(paths)[:MISCLASSIFIED]]
    update(path_in(out_dir), lambda record: _part_entry(record, name).update(misclassified={
        "true": true_label, "predicted": predicted_label, "count": int(count), "images": images}))


def record_attributes(out_dir: PathLike, name: str, accuracy: Dict[str, float], yes_rate: Dict[str, float]) -> None:
    """Per-attribute test accuracy, and the fraction of test images for which each attribute is "yes"."""
    update(path_in(out_dir), lambda record: _part_entry(record, name).update(attributes={
        "accuracy": {k: round(float(v), 4) for k, v in accuracy.items()},
        "yes_rate": {k: round(float(v), 4) for k, v in yes_rate.items()}}))


def start_ablation(out_dir: PathLike, epochs: int, quick: bool = False) -> None:
    """A new ablation table (the rows of an earlier one are dropped)."""
    update(path_in(out_dir), lambda record: record.update(ablation={
        "started": now(), "epochs": int(epochs), "quick": bool(quick), "rows": []}))


def record_ablation_row(out_dir: PathLike, row: dict) -> None:
    """One row of the ablation table: change, model, train_accuracy, test_accuracy, seconds, parameters."""
    update(path_in(out_dir), lambda record: record["ablation"]["rows"].append(dict(row)))
