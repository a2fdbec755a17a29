"""`proj4 train MODEL`: train one part's model with its recipe (provided).

`train_model(TrainConfig(model="simple_net"))` builds the model, transforms, optimizer and Trainer
from the part's recipe (proj4_lib/parts.py), trains, and writes to `out`:
    trained_<ClassName>_final.pt   the file you submit (dl_utils.save_trained_model_weights)
    <model>_loss.png, <model>_accuracy.png
    metrics.json                   {model name: {model, epochs, test_accuracy, train_seconds, seed, ...}}
    checkpoints/<model>/checkpoint.pt  (resume: run the same command again)
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from proj4_code import data_transforms
from proj4_lib.parts import Part, get_part
from proj4_lib.utils import DEFAULT_SEED, reset_seed


@dataclass
class TrainConfig:
    model: str  # a part's name: one of proj4_lib.parts.NAMES
    epochs: Optional[int] = None  # None: the recipe's
    batch_size: Optional[int] = None  # None: the recipe's
    lr: Optional[float] = None  # None: the recipe's
    device: str = "auto"  # auto | cuda | mps | cpu
    out: str = "model_output"  # where checkpoints, plots and metrics.json go
    data_dir: str = "data"  # as installed by `proj4 data install`
    seed: int = DEFAULT_SEED  # seeds model init, batch order and augmentation
    backbone: Optional[str] = None  # Parts 3-4: resnet18 | efficientnet_lite0; None: backbones.default_backbone()
    restart: bool = False  # ignore an existing checkpoint instead of resuming from it
    progress: bool = True  # tqdm bars


def build_model(name: str, backbone: Optional[str] = None, pretrained: bool = True) -> torch.nn.Module:
    """A fresh model of the part `name`; Parts 3-4 get `backbone` (default: backbones.default_backbone())."""
    part = get_part(name)
    if not part.recipe.cache_features:
        return part.model_class()()
    from proj4_lib.backbones import default_backbone

    return part.model_class()(pretrained=pretrained, backbone=backbone or default_backbone())


def one_cycle(lr: float, epochs: int):
    """For the Trainer's lr_scheduler: a one-cycle schedule peaking at `lr` over `epochs` epochs."""
    def make(optimizer, steps_per_epoch: int):
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    return make


def build_transforms(part: Part, data_dir: str):
    """(train transforms, evaluation transforms) of a part."""
    recipe, size = part.recipe, (part.inp_size, part.inp_size)
    if not recipe.normalize:
        return data_transforms.get_fundamental_transforms(size), data_transforms.get_fundamental_transforms(size)
    from proj4_code.stats_helper import compute_mean_and_std

    mean, std = compute_mean_and_std(data_dir)
    evaluation = data_transforms.get_fundamental_normalization_transforms(size, mean, std)
    train = data_transforms.get_all_transforms(size, mean, std) if recipe.augment else evaluation
    return train, evaluation


def _update_metrics(path: Path, name: str, metrics: dict) -> None:
    everything = json.loads(path.read_text()) if path.is_file() else {}
    everything[name] = metrics
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(everything, indent=2) + "\n")
    os.replace(tmp, path)


def train_model(config: TrainConfig) -> dict:
    """Train one model with its recipe; returns its metrics (also written to out/metrics.json)."""
    from proj4_code.dl_utils import save_trained_model_weights
    from proj4_code.optimizer import get_optimizer
    from proj4_code.runner import MultiLabelTrainer, Trainer

    part = get_part(config.model)
    recipe = part.recipe
    epochs = config.epochs or recipe.epochs
    batch_size = config.batch_size or recipe.batch_size
    lr = config.lr or recipe.lr
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    reset_seed(config.seed)
    model = build_model(config.model, config.backbone)
    train_tf, eval_tf = build_transforms(part, config.data_dir)
    optimizer = get_optimizer(model, {"optimizer_type": "adam", "lr": lr, "weight_decay": recipe.weight_decay})
    trainer_cls = MultiLabelTrainer if part.multilabel else Trainer
    start = time.perf_counter()
    trainer = trainer_cls(
        config.data_dir, model, optimizer, out / "checkpoints" / config.model, train_tf, eval_tf,
        batch_size=batch_size, load_from_disk=not config.restart, device=config.device,
        cache_features=recipe.cache_features, seed=config.seed, progress=config.progress,
        scheduler_factory=one_cycle(lr, epochs),
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
        "checkpoint": str(weights),
        "config": dataclasses.asdict(config),
    }
    if recipe.cache_features:
        metrics["backbone"] = model.backbone_name
    if attributes is not None:
        metrics["per_attribute_accuracy"] = attributes
    _update_metrics(out / "metrics.json", config.model, metrics)
    print(f"{part.class_name}: test accuracy {metrics['test_accuracy']:.4f} after {trainer.epoch} epochs "
          f"({train_seconds:.1f} s); saved {weights}")
    return metrics


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
    from proj4_code.confusion_matrix import generate_accuracy_table
    from proj4_lib.files import ATTRIBUTES

    table = generate_accuracy_table(targets.numpy(), (probs >= 0.5).long().numpy(), len(ATTRIBUTES))
    return {name: round(float(acc), 4) for name, acc in zip(ATTRIBUTES, table)}
