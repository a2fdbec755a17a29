"""The reference training recipes behind `proj4 train MODEL` (provided).

One function does it all: `train_model(TrainConfig(model="simple_net"))` builds the model,
transforms, optimizer and Trainer from the model's recipe, trains, and writes to `out`:
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
from proj4_code.utils import DEFAULT_SEED, reset_seed

MODELS = ("simple_net", "simple_net_final", "my_resnet", "multilabel_resnet")


@dataclass(frozen=True)
class Recipe:
    """What a model trains with by default (chosen to pass the course thresholds on a 2-core CPU)."""

    class_name: str
    inp_size: int  # images are resized to inp_size x inp_size
    epochs: int
    batch_size: int
    lr: float  # peak learning rate of the one-cycle schedule
    weight_decay: float
    augment: bool  # random flips/shifts/jitter for training (Part 2)
    normalize: bool  # Normalize with the dataset's mean/std (the pretrained backbones normalise themselves)
    pretrained_backbone: bool = False  # Parts 3-4: frozen backbone, head trained on cached features


RECIPES = {
    # Adam + one-cycle on normalised 64 x 64 input; ~0.55 test accuracy in about a minute of CPU.
    "simple_net": Recipe("SimpleNet", 64, epochs=15, batch_size=32, lr=3e-3, weight_decay=1e-4,
                         augment=False, normalize=True),
    # The same schedule plus augmentation, batch norm and dropout; ~0.70 in a few minutes.
    "simple_net_final": Recipe("SimpleNetFinal", 64, epochs=20, batch_size=64, lr=3e-3, weight_decay=1e-4,
                               augment=True, normalize=True),
    # Only the head trains, on features the frozen backbone computes once.
    "my_resnet": Recipe("MyResNet18", 224, epochs=30, batch_size=64, lr=3e-3, weight_decay=1e-4,
                        augment=False, normalize=False, pretrained_backbone=True),
    "multilabel_resnet": Recipe("MultilabelResNet18", 224, epochs=30, batch_size=64, lr=3e-3, weight_decay=1e-4,
                                augment=False, normalize=False, pretrained_backbone=True),
}


@dataclass
class TrainConfig:
    model: str  # one of MODELS
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
    if name == "simple_net":
        from proj4_code.simple_net import SimpleNet
        return SimpleNet()
    if name == "simple_net_final":
        from proj4_code.simple_net_final import SimpleNetFinal
        return SimpleNetFinal()
    from proj4_code.backbones import default_backbone
    backbone = backbone or default_backbone()
    if name == "my_resnet":
        from proj4_code.my_resnet import MyResNet18
        return MyResNet18(pretrained=pretrained, backbone=backbone)
    if name == "multilabel_resnet":
        from proj4_code.multilabel_resnet import MultilabelResNet18
        return MultilabelResNet18(pretrained=pretrained, backbone=backbone)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def one_cycle(lr: float, epochs: int):
    """For the Trainer's lr_scheduler: a one-cycle schedule peaking at `lr` over `epochs` epochs."""
    def make(optimizer, steps_per_epoch: int):
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    return make


def build_transforms(recipe: Recipe, data_dir: str):
    """(train transforms, evaluation transforms) for a recipe."""
    size = (recipe.inp_size, recipe.inp_size)
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

    if config.model not in RECIPES:
        raise ValueError(f"unknown model {config.model!r}; choose one of {', '.join(MODELS)}")
    recipe = RECIPES[config.model]
    epochs = config.epochs or recipe.epochs
    batch_size = config.batch_size or recipe.batch_size
    lr = config.lr or recipe.lr
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    reset_seed(config.seed)
    model = build_model(config.model, config.backbone)
    train_tf, eval_tf = build_transforms(recipe, config.data_dir)
    optimizer = get_optimizer(model, {"optimizer_type": "adam", "lr": lr, "weight_decay": recipe.weight_decay})
    trainer_cls = MultiLabelTrainer if config.model == "multilabel_resnet" else Trainer
    start = time.perf_counter()
    trainer = trainer_cls(
        config.data_dir, model, optimizer, out / "checkpoints" / config.model, train_tf, eval_tf,
        batch_size=batch_size, load_from_disk=not config.restart, device=config.device,
        cache_features=recipe.pretrained_backbone, seed=config.seed, progress=config.progress,
        lr_scheduler=one_cycle(lr, epochs),
    )
    # A resumed one-cycle schedule keeps its saved length; a different one would crash mid-epoch.
    planned_steps = epochs * len(trainer.train_loader)
    if trainer.epoch and trainer.lr_scheduler.total_steps != planned_steps:
        raise ValueError(f"{trainer.checkpoint_path} continues a one-cycle schedule of "
                         f"{trainer.lr_scheduler.total_steps} steps, but --epochs {epochs} and --batch-size "
                         f"{batch_size} make {planned_steps}: resume with the earlier values, or pass --restart")
    setup_seconds = time.perf_counter() - start
    trainer.run_training_loop(epochs)
    train_seconds = time.perf_counter() - start

    attributes = per_attribute_accuracy(*trainer.validation_outputs()) if config.model == "multilabel_resnet" else None
    weights = save_trained_model_weights(trainer.model.cpu(), out)
    trainer.plot_loss_history(str(out / f"{config.model}_loss.png"))
    trainer.plot_accuracy(str(out / f"{config.model}_accuracy.png"))
    metrics = {
        "model": config.model,
        "class_name": recipe.class_name,
        "epochs": trainer.epoch,
        "test_accuracy": trainer.validation_accuracy_history[-1],
        "train_accuracy": trainer.train_accuracy_history[-1],
        "train_seconds": round(train_seconds, 2),
        "setup_seconds": round(setup_seconds, 2),  # data statistics, backbone features
        "seconds_per_epoch": round(sum(trainer.epoch_seconds) / max(len(trainer.epoch_seconds), 1), 2),
        "epoch_seconds": [round(s, 2) for s in trainer.epoch_seconds],
        "peak_rss_mb": peak_rss_mb(),
        "seed": config.seed,
        "batch_size": batch_size,
        "lr": lr,
        "device": str(trainer.device),
        "checkpoint": str(weights),
        "config": dataclasses.asdict(config),
    }
    if recipe.pretrained_backbone:
        metrics["backbone"] = model.backbone_name
    if attributes is not None:
        metrics["per_attribute_accuracy"] = attributes
    _update_metrics(out / "metrics.json", config.model, metrics)
    print(f"{recipe.class_name}: test accuracy {metrics['test_accuracy']:.4f} after {trainer.epoch} epochs "
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
    from proj4_code.image_loader import ATTRIBUTES

    table = generate_accuracy_table(targets.numpy(), (probs >= 0.5).long().numpy(), len(ATTRIBUTES))
    return {name: round(float(acc), 4) for name, acc in zip(ATTRIBUTES, table)}
