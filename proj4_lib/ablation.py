"""Part 2's ablation table (provided; application layer): what each change does, from your own models.

The course asks for one row per change, each added on top of the rows above it:

    SimpleNet (baseline)       your SimpleNet, images resized only
    + jitter (augmentation)    training images through your get_fundamental_augmentation_transforms
    + normalization            your get_all_transforms / get_fundamental_normalization_transforms
    + dropout                  your SimpleNet with a Dropout(0.5) before each Linear layer
    + deeper network           your SimpleNetFinal with its batch norm layers taken out (nn.Identity)
    + batch norm               your SimpleNetFinal as it is

run_ablation trains the six one after the other with the same number of epochs, seed 0 for each,
the part's recipe (optimizer, learning rate, batch size, one-cycle schedule) for each model, and
records each row in the run record as it finishes, so the report's table fills up row by row. No
checkpoint of the six is kept: they exist only for the table.
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
     "your SimpleNetFinal with its batch norm layers taken out"),
    ("+ batch norm", "simple_net_final", "normalize", None, "your SimpleNetFinal as it is"),
)
DROPOUT = 0.5


def with_dropout(model: nn.Module, p: float = DROPOUT) -> nn.Module:
    """A copy of `model` with nn.Dropout(p) before each nn.Linear (the Linear keeps its weights)."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.Linear):
                setattr(module, name, nn.Sequential(nn.Dropout(p), child))
    return model


def without_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of `model` with every batch norm layer replaced by nn.Identity (the convolutions keep their bias
    setting)."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, name, nn.Identity())
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
    for _, name, _, _, _ in ROWS:
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


def run_ablation(data_dir, out_dir, epochs: int = 10, device: str = "auto", quick: bool = False) -> List[dict]:
    """Train the rows of ROWS for `epochs` epochs each and record each row; returns the rows."""
    from proj4_code.optimizer import get_optimizer
    from proj4_code.stats_helper import compute_mean_and_std
    from proj4_lib.models import build_model, trainer_class
    from proj4_lib.trainer import one_cycle

    seconds, source = estimate_seconds(run_record.read(run_record.path_in(out_dir)), epochs)
    print(f"The ablation trains {len(ROWS)} models for {epochs} epochs each: about {max(1, round(seconds / 60))} "
          f"min (estimated from {source}). Each row is recorded as it finishes.", flush=True)
    run_record.start_ablation(out_dir, epochs, quick)
    stats = compute_mean_and_std(str(data_dir))
    rows = []
    for number, (change, name, kind, edit, _) in enumerate(ROWS, start=1):
        part = parts.get_part(name)
        reset_seed(0)
        model = build_model(name)
        model = EDITS[edit](model) if edit else model
        train_tf, test_tf = transforms_for(kind, (part.inp_size, part.inp_size), stats)
        optimizer = get_optimizer(model, part.recipe.optimizer_config())
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="proj4-ablation-") as scratch:
            trainer = trainer_class(name)(
                str(data_dir), model, optimizer, Path(scratch), train_tf, test_tf, batch_size=part.recipe.batch_size,
                load_from_disk=False, device=device, seed=0, progress=False,
                scheduler_factory=one_cycle(part.recipe.lr, epochs))
            _train_quietly(trainer, epochs)
        row = {"change": change, "model": part.class_name, "epochs": epochs,
               "parameters": run_record.parameter_counts(model)["trainable"],
               "train_accuracy": trainer.train_accuracy_history[-1], "test_accuracy": trainer.validation_accuracy_history[-1],
               "seconds": round(time.perf_counter() - start, 1)}
        run_record.record_ablation_row(out_dir, row)
        rows.append(row)
        print(f"{number}/{len(ROWS)} {change:<24} train accuracy {row['train_accuracy']:.2%}, test accuracy "
              f"{row['test_accuracy']:.2%} ({row['seconds']:.0f} s)", flush=True)
    return rows


def _train_quietly(trainer, epochs: int) -> None:
    """The Trainer's loop without its line per epoch (one line per row is enough here)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        trainer.run_training_loop(epochs)
