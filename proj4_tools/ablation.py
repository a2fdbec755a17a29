"""Part 2's ablation table (provided; proj4_tools: it imports your code): what each change does, from your own models.

The course asks for one row per change, each added on top of the rows above it:

    SimpleNet (baseline)       your SimpleNet, images resized only
    + jitter (augmentation)    training images through your get_fundamental_augmentation_transforms
    + normalization            your get_all_transforms / get_fundamental_normalization_transforms
    + dropout                  your SimpleNet with a Dropout(0.5) before each Linear layer
    + deeper network           your SimpleNetFinal with its batch norm layers taken out (a convolution
                               that batch norm followed gets its bias back)
    + batch norm               your SimpleNetFinal as it is

run_ablation trains the six one after the other with the same number of epochs, seed 0 for each and
one recipe for all, Part 2's (optimizer, learning rate, batch size, one-cycle schedule), so that each
row differs from the one above by its change alone. It records each row in the run record as it
finishes, so the report's table fills up row by row. No checkpoint of the six is kept: they exist
only for the table. `proj4-instructor bench` runs the same table for BENCHMARKS.md.
"""
from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from torch import nn

from proj4_lib import parts, run_record
from proj4_lib.utils import reset_seed

# (change, part whose model it trains, transforms: "resize" | "augment" | "normalize", model edit or None, what it is)
ROWS: Tuple[Tuple[str, str, str, Optional[str], str], ...] = (
    ("SimpleNet (baseline)", "simple_net", "resize", None, "your SimpleNet, images resized only"),
    ("+ jitter (augmentation)", "simple_net", "augment", None, "+ your augmentation of the training images"),
    ("+ normalization", "simple_net", "normalize", None, "+ normalised with the dataset's mean and std"),
    ("+ dropout", "simple_net", "normalize", "dropout", "+ Dropout(0.5) before each Linear layer of your SimpleNet"),
    ("+ deeper network", "simple_net_final", "normalize", "no_batch_norm",
     "your SimpleNetFinal with its batch norm layers taken out (and conv biases back)"),
    ("+ batch norm", "simple_net_final", "normalize", None, "your SimpleNetFinal as it is"),
)
DROPOUT = 0.5
RECIPE = "simple_net_final"  # every row trains with this part's recipe: one change per row, nothing else


def with_dropout(model: nn.Module, p: float = DROPOUT) -> nn.Module:
    """A copy of `model` with nn.Dropout(p) before each nn.Linear (the Linear keeps its weights)."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.Linear):
                setattr(module, name, nn.Sequential(nn.Dropout(p), child))
    return model


def without_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of `model` with every batch norm layer replaced by nn.Identity; a convolution right before one that
    had no bias (batch norm's shift made it useless) gets a zero-initialised bias, as a network without batch
    norm would have."""
    import torch

    model = copy.deepcopy(model)
    for module in list(model.modules()):
        before = None
        for name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                if isinstance(before, nn.modules.conv._ConvNd) and before.bias is None:
                    before.bias = nn.Parameter(torch.zeros(before.out_channels))
                setattr(module, name, nn.Identity())
            before = child
    return model


EDITS: Dict[str, Callable[[nn.Module], nn.Module]] = {"dropout": with_dropout, "no_batch_norm": without_batch_norm}


def transforms_for(kind: str, inp_size, stats: Tuple[float, float]):
    """(training, test) transforms of a row, from your data_transforms."""
    from proj4_code import data_transforms as t

    if kind == "resize":
        plain = t.get_fundamental_transforms(inp_size)
        return plain, plain
    if kind == "augment":
        return t.get_fundamental_augmentation_transforms(inp_size), t.get_fundamental_transforms(inp_size)
    return t.get_all_transforms(inp_size, *stats), t.get_fundamental_normalization_transforms(inp_size, *stats)


def estimate_seconds(record: dict, epochs: int) -> Tuple[float, str]:
    """(seconds, where the figure comes from) for the whole table: from your Part 1 and Part 2 trainings' epochs
    in the run record where they are there, else from the reference's 2-core CPU figures in proj4_lib/parts.py."""
    total, measured = 0.0, []
    for _, name, _, _, _ in ROWS:  # (the rows train with Part 2's recipe: Part 1's epochs are an approximation)
        part = parts.get_part(name)
        seconds = (record.get("parts", {}).get(name) or {}).get("history", {}).get("epoch_seconds") or []
        if seconds:
            later = seconds[1:] or seconds
            total += seconds[0] + (epochs - 1) * sum(later) / len(later)
            measured.append(part.class_name)
        else:
            total += epochs * part.cpu_minutes * 60 / part.recipe.epochs
    source = ("your own Part 1 and Part 2 epochs on this machine" if len(set(measured)) == 2 else
              "the reference's epochs on a 2-core CPU (a GPU is faster)")
    return total, source


def run_ablation(data_dir, out_dir=None, epochs: int = 10, device: str = "auto", quick: bool = False,
                 say=print) -> List[dict]:
    """Train the rows of ROWS for `epochs` epochs each, recording each in out_dir's run record (None: no record);
    returns the rows."""
    from proj4_code.optimizer import get_optimizer
    from proj4_code.stats_helper import compute_mean_and_std
    from proj4_lib.trainer import scheduler_factory
    from proj4_tools.models import build_model, trainer_class

    if out_dir is not None:
        seconds, source = estimate_seconds(run_record.read(run_record.path_in(out_dir)), epochs)
        say(f"The ablation trains {len(ROWS)} models for {epochs} epochs each: about {max(1, round(seconds / 60))} "
            f"min (estimated from {source}). Each row is recorded as it finishes.")
        run_record.start_ablation(out_dir, epochs, quick)
    recipe = parts.get_part(RECIPE).recipe
    stats = compute_mean_and_std(str(data_dir))
    rows = []
    for number, (change, name, kind, edit, _) in enumerate(ROWS, start=1):
        part = parts.get_part(name)
        reset_seed(0)
        model = build_model(name)
        model = EDITS[edit](model) if edit else model
        train_tf, test_tf = transforms_for(kind, (part.inp_size, part.inp_size), stats)
        optimizer = get_optimizer(model, recipe.optimizer_config())
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="proj4-ablation-") as scratch:
            trainer = trainer_class(name)(
                str(data_dir), model, optimizer, Path(scratch), train_tf, test_tf, batch_size=recipe.batch_size,
                load_from_disk=False, device=device, seed=0, progress=False,
                scheduler_factory=scheduler_factory(recipe.schedule, recipe.lr, epochs))
            _train_quietly(trainer, epochs)
        row = {"change": change, "model": part.class_name, "epochs": epochs,
               "parameters": run_record.parameter_counts(model)["trainable"],
               "train_accuracy": trainer.train_accuracy_history[-1],
               "test_accuracy": trainer.validation_accuracy_history[-1],
               "seconds": round(time.perf_counter() - start, 1)}
        if out_dir is not None:
            run_record.record_ablation_row(out_dir, row)
        rows.append(row)
        say(f"{number}/{len(ROWS)} {change:<24} train accuracy {row['train_accuracy']:.2%}, test accuracy "
            f"{row['test_accuracy']:.2%} ({row['seconds']:.0f} s)")
    return rows


def _train_quietly(trainer, epochs: int) -> None:
    """The Trainer's loop without its line per epoch (one line per row is enough here)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        trainer.run_training_loop(epochs)
