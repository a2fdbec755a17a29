"""`proj4 train MODEL`: train one part's model with its recipe (provided; proj4_tools: it imports your code).

`train_model(TrainConfig(model="simple_net"))` builds the model, transforms, optimizer, schedule and
trainer the part's recipe names (proj4_lib/parts.py), trains, and writes to `out`:
    trained_<ClassName>_final.pt   the file you submit (dl_utils.save_trained_model_weights)
    <model>_loss.png, <model>_accuracy.png
    metrics.json                   {model name: {model, epochs, test_accuracy, train_seconds, seed, ...}}
    run_record.json                what the report shows of the part (proj4_lib/run_record.py): the
                                   same entry as the notebook's cells write, confusion matrix and
                                   misclassified images or attribute table included
    checkpoints/<model>/checkpoint.pt  (resume: run the same command again)
`evaluation_set` and `accuracy_function` are how a part is measured (the public accuracy tests use them).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Tuple

import torch
from torch.utils.data import Dataset

from proj4_code import data_transforms
from proj4_code.dl_utils import compute_accuracy, compute_multilabel_accuracy, save_trained_model_weights
from proj4_code.image_loader import ImageLoader, MultiLabelImageLoader
from proj4_code.optimizer import get_optimizer
from proj4_code.stats_helper import compute_mean_and_std
from proj4_lib import run_record
from proj4_lib.files import ATTRIBUTES, default_attribute_csv, progress_bars
from proj4_lib.parts import Part, get_part
from proj4_lib.trainer import scheduler_factory
from proj4_lib.utils import DEFAULT_SEED, reset_seed
from proj4_tools.models import build_model, trainer_class


@dataclass
class TrainConfig:
    model: str  # a part's name: one of proj4_lib.parts.names()
    epochs: Optional[int] = None  # None: the recipe's
    batch_size: Optional[int] = None  # None: the recipe's
    lr: Optional[float] = None  # None: the recipe's
    device: str = "auto"  # auto | cuda | mps | cpu
    out: str = "model_output"  # where checkpoints, plots and metrics.json go
    data_dir: str = "data"  # as installed by `proj4 data install`
    seed: int = DEFAULT_SEED  # seeds model init, batch order and augmentation
    backbone: Optional[str] = None  # backbone parts: resnet18 | efficientnet_lite0; None: backbones.default_backbone()
    restart: bool = False  # ignore an existing checkpoint instead of resuming from it
    progress: bool = True  # tqdm bars


def normalization_stats(part: Part, data_dir: str, progress: bool = True) -> Tuple[float, ...]:
    """(mean, std) of the dataset where the recipe normalises, else () (progress: a bar while it reads)."""
    if not part.recipe.normalize:
        return ()
    with progress_bars(progress):
        return tuple(compute_mean_and_std(str(data_dir)))


def build_transforms(part: Part, data_dir: str, progress: bool = True,
                     stats: Optional[Tuple[float, ...]] = None) -> Tuple[Callable, Callable]:
    """(train transforms, evaluation transforms): the presets the part's recipe names, with the
    dataset's mean and std where the recipe normalises (`stats`, or computed here)."""
    size = (part.inp_size, part.inp_size)
    stats = normalization_stats(part, data_dir, progress) if stats is None else stats
    train, evaluation = (getattr(data_transforms, name)(size, *stats) for name in part.recipe.transforms)
    return train, evaluation


def evaluation_set(part: Part, data_dir: str, split: str = "test") -> Dataset:
    """A split as the part's model is measured on it: its task's dataset, the recipe's evaluation transforms."""
    _, transform = build_transforms(part, data_dir)
    if part.task == "multi":
        return MultiLabelImageLoader(str(data_dir), default_attribute_csv(str(data_dir), split), split, transform)
    return ImageLoader(str(data_dir), split, transform)


def accuracy_function(part: Part) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """How the part's accuracy is measured: element-wise over the attributes for a multi-label task."""
    return compute_multilabel_accuracy if part.task == "multi" else compute_accuracy


def _update_metrics(path: Path, name: str, metrics: dict) -> None:
    everything = json.loads(path.read_text()) if path.is_file() else {}
    everything[name] = metrics
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(everything, indent=2) + "\n")
    os.replace(tmp, path)


def train_model(config: TrainConfig) -> dict:
    """Train one model with its recipe; returns its metrics (also written to out/metrics.json)."""
    part = get_part(config.model)
    recipe = part.recipe
    epochs = config.epochs or recipe.epochs
    batch_size = config.batch_size or recipe.batch_size
    lr = config.lr or recipe.lr
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    reset_seed(config.seed)
    model = build_model(config.model, config.backbone)
    stats = normalization_stats(part, config.data_dir, config.progress)
    train_tf, eval_tf = build_transforms(part, config.data_dir, config.progress, stats)
    optimizer = get_optimizer(model, recipe.optimizer_config(lr))
    start = time.perf_counter()
    trainer = trainer_class(config.model)(
        config.data_dir, model, optimizer, out / "checkpoints" / config.model, train_tf, eval_tf,
        batch_size=batch_size, load_from_disk=not config.restart, device=config.device,
        cache_features=recipe.cache_features, seed=config.seed, progress=config.progress,
        scheduler_factory=scheduler_factory(recipe.schedule, lr, epochs),
    )
    setup_seconds = time.perf_counter() - start
    trainer.run_training_loop(epochs)
    train_seconds = time.perf_counter() - start

    attributes = per_attribute_accuracy(*trainer.validation_outputs()) if part.multilabel else None
    weights = save_trained_model_weights(trainer.model.cpu(), out)
    trainer.plot_loss_history(str(out / f"{config.model}_loss.png"))
    trainer.plot_accuracy(str(out / f"{config.model}_accuracy.png"))
    seconds = trainer.history["epoch_seconds"]
    metrics = {
        "model": config.model,
        "class_name": part.class_name,
        "epochs": trainer.epoch,
        "test_accuracy": trainer.validation_accuracy_history[-1],
        "train_accuracy": trainer.train_accuracy_history[-1],
        "train_seconds": round(train_seconds, 2),
        "setup_seconds": round(setup_seconds, 2),  # data statistics, backbone features
        "seconds_per_epoch": round(sum(seconds) / max(len(seconds), 1), 2),
        "epoch_seconds": [round(s, 2) for s in seconds],
        "peak_rss_mb": peak_rss_mb(),
        "seed": config.seed,
        "batch_size": batch_size,
        "lr": lr,
        "device": str(trainer.device),
        "peak_gpu_mb": peak_gpu_mb(trainer.device),
        "pixel_mean_std": list(stats) or None,  # what the evaluation transforms normalise with
        "checkpoint": str(weights),
        "config": dataclasses.asdict(config),
    }
    if part.backbone:
        metrics["backbone"] = model.backbone_name
    if attributes is not None:
        metrics["per_attribute_accuracy"] = attributes
    _update_metrics(out / "metrics.json", config.model, metrics)
    hparams = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": recipe.weight_decay,
               "inp_size": [part.inp_size, part.inp_size], "seed": config.seed}
    try:
        record_run(out, part, trainer, hparams, (train_tf, eval_tf), weights, config.data_dir)
    except run_record.RecordError as err:  # the trained model and metrics are there: say it, do not fail
        print(f"warning: not recorded for the report: {err}", file=sys.stderr)
    print(f"{part.class_name}: test accuracy {metrics['test_accuracy']:.4f} after {trainer.epoch} epochs "
          f"({train_seconds:.1f} s); saved {weights}")
    return metrics


def peak_gpu_mb(device) -> Optional[float]:
    """Peak memory torch allocated on a CUDA device during this process, in MB (None elsewhere)."""
    if torch.device(device).type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def record_run(out: Path, part: Part, trainer, hparams: dict, transforms, weights: Path, data_dir: str) -> None:
    """The part's complete entry in out/run_record.json, as the notebook's cells write it: the training, the
    checkpoint's SHA-256, and its analysis (confusion matrix and misclassified images, or the attribute table),
    from the outputs the trainer already has (no second pass over the images)."""
    import numpy as np

    run_record.record_training(out, part.name, trainer, hparams, "proj4 train", transforms)
    run_record.record_checkpoint(out, weights)
    outputs, targets = trainer.validation_outputs()
    if part.multilabel:
        yes = targets.float().reshape(-1, len(ATTRIBUTES)).mean(dim=0).tolist()
        run_record.record_attributes(out, part.name, per_attribute_accuracy(outputs, targets),
                                     dict(zip(ATTRIBUTES, yes)))
        return
    from proj4_tools.notebook_helpers import most_confused_pair

    test_set = ImageLoader(str(data_dir), "test")  # the trainer's test set, in the same order, without decoding
    labels = sorted(test_set.class_dict, key=test_set.class_dict.get)
    truth, predicted = targets.numpy(), outputs.argmax(dim=1).numpy()
    counts = np.zeros((len(labels), len(labels)))
    np.add.at(counts, (truth, predicted), 1)
    confusion = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    run_record.record_confusion(out, part.name, confusion, labels)
    t, p = most_confused_pair(confusion)
    wrong = np.flatnonzero((truth == t) & (predicted == p))
    examples = [test_set.dataset[i][0] for i in wrong[:run_record.MISCLASSIFIED]] if t != p else []
    run_record.record_misclassified(out, part.name, labels[t], labels[p], len(wrong) if t != p else 0, examples)


def peak_rss_mb() -> Optional[float]:
    """Peak resident memory of this process so far, in MB (None on Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 2**20 if sys.platform == "darwin" else peak / 1024, 1)  # bytes on macOS, KiB on Linux


def per_attribute_accuracy(probs: torch.Tensor, targets: torch.Tensor) -> dict:
    """{attribute: test accuracy} from (N, 7) probabilities and (N, 7) 0/1 targets."""
    from proj4_code.confusion_matrix import generate_accuracy_table  # Part 4's code: only a multi-label part needs it

    table = generate_accuracy_table(targets.numpy(), (probs >= 0.5).long().numpy(), len(ATTRIBUTES))
    return {name: round(float(acc), 4) for name, acc in zip(ATTRIBUTES, table)}
