"""`proj4-instructor bench`: the speed and accuracy figures for BENCHMARKS.md, measured on this machine.

    proj4-instructor bench [--out DIR] [--models simple_net,...] [--no-ablation] [--ablation-epochs N]

1. Each model's reference recipe (`proj4 train MODEL`, in its own process so that peak memory is
   its own): test accuracy, epochs, wall seconds, seconds per epoch, peak RSS.
2. Decoding must not dominate (Parts 1-2): first epoch (decodes every JPEG) against later epochs
   (decoded images are kept) against the pure model time (the same number of forward/backward
   passes on tensors already in memory).
3. Parts 3-4: cached backbone features against the uncached loop, one uncached epoch measured in
   the same run and extrapolated to the recipe's epochs.
4. The Part 2 ablation for the report: train / test accuracy as each change is added.
Prints Markdown tables; writes DIR/bench.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Dict, List

import torch

from proj4_lib import parts
from proj4_lib.parts import get_part
from proj4_tools import ablation
from proj4_tools.cli import DefaultsHelp
from proj4_tools.models import build_model, trainer_class
from proj4_tools.train import build_transforms

ABLATION_PART = ablation.RECIPE  # the Part 2 ablation trains with this part's recipe

def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, Python {platform.python_version()}, {date.today()}")


def run_recipe(model: str, out: Path, data_dir: str) -> Dict:
    """`proj4 train MODEL` in a fresh process; returns its metrics."""
    command = [sys.executable, "-m", "proj4_tools.cli", "train", model, "--out", str(out), "--restart",
               "--no-progress", "--data-dir", data_dir]
    wall = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())[model]
    metrics["wall_seconds"] = round(time.perf_counter() - wall, 1)
    return metrics


def pure_model_seconds(model_name: str, n_train: int, n_test: int, batch_size: int) -> float:
    """One epoch's forward/backward/step (the recipe's optimizer) plus one validation pass on in-memory
    random tensors."""
    from proj4_code.optimizer import get_optimizer

    torch.manual_seed(0)
    model = build_model(model_name)
    part = get_part(model_name)
    optimizer = get_optimizer(model, part.recipe.optimizer_config())
    size = part.inp_size
    x, y = torch.randn(batch_size, 1, size, size), torch.randint(0, 15, (batch_size,))
    start = time.perf_counter()
    model.train()
    for _ in range(0, n_train, batch_size):
        loss = model.loss_criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for _ in range(0, n_test, 100):
            model(torch.randn(100, 1, size, size))
    return time.perf_counter() - start


def uncached_epoch_seconds(model_name: str, data_dir: str, backbone: str) -> float:
    """One Trainer epoch (train + validate) that runs the frozen backbone on every batch."""
    import tempfile

    from proj4_code.optimizer import get_optimizer

    part = get_part(model_name)
    recipe = part.recipe
    model = build_model(model_name, backbone)
    train_tf, eval_tf = build_transforms(part, data_dir)
    optimizer = get_optimizer(model, recipe.optimizer_config())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        trainer = trainer_class(model_name)(data_dir, model, optimizer, tmp, train_tf, eval_tf,
                                            batch_size=recipe.batch_size, load_from_disk=False, progress=False,
                                            cache_features=False)
        trainer.train_epoch()
        trainer.validate()
        return time.perf_counter() - start


# -- Part 2 ablation: the notebook's own table (proj4_tools/ablation.py), without a run record ----------------------
def run_ablation(data_dir: str, epochs: int) -> List[Dict]:
    return ablation.run_ablation(data_dir, None, epochs, say=lambda line: None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="proj4-instructor bench", description=__doc__.split("\n")[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("--out", default="bench_output", help="where the runs write (checkpoints, metrics)")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--models", default=",".join(parts.names()), help="comma-separated")
    parser.add_argument("--no-ablation", dest="ablation", action="store_false")
    parser.add_argument("--ablation-epochs", type=int, default=20)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = [m for m in args.models.split(",") if m]
    report: Dict = {"machine": machine(), "models": {}}
    print(f"Machine: {report['machine']}\n")

    print("| model | backbone | test acc | target | epochs | train s | wall s | s/epoch | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in models:
        m = run_recipe(name, out, args.data_dir)
        report["models"][name] = m
        acc_target, sec_target = get_part(name).bench_target
        print(f"| {name} | {m.get('backbone', '-')} | {m['test_accuracy']:.4f} | >= {acc_target} in <= {sec_target} s "
              f"| {m['epochs']} | {m['train_seconds']:.1f} | {m['wall_seconds']:.1f} | {m['seconds_per_epoch']:.2f} "
              f"| {m['peak_rss_mb']} |", flush=True)

    scratch = [n for n in models if not get_part(n).backbone]
    if scratch:
        print("\nDecoding (Parts 1-2): epoch 1 decodes every JPEG; later epochs reuse decoded images.")
        print("| model | epoch 1 s | median later epoch s | pure model s (same passes, tensors in memory) "
              "| later / pure |")
        print("|---|---|---|---|---|")
        for name in scratch:
            m = report["models"][name]
            later = statistics.median(m["epoch_seconds"][1:]) if len(m["epoch_seconds"]) > 1 else float("nan")
            pure = pure_model_seconds(name, 2985, 1500, m["batch_size"])
            m["pure_model_epoch_seconds"] = round(pure, 2)
            print(f"| {name} | {m['epoch_seconds'][0]:.2f} | {later:.2f} | {pure:.2f} | {later / pure:.2f} |",
                  flush=True)

    pretrained = [n for n in models if get_part(n).backbone]
    if pretrained:
        print("\nFeature cache (Parts 3-4): cached = features once + head epochs (measured); "
              "uncached = one measured epoch x epochs.")
        print("| model | cached total s | uncached epoch s | uncached total s (est.) | speed-up |")
        print("|---|---|---|---|---|")
        for name in pretrained:
            m = report["models"][name]
            uncached = uncached_epoch_seconds(name, args.data_dir, m["backbone"])
            total = uncached * m["epochs"]
            m["uncached_epoch_seconds"] = round(uncached, 1)
            print(f"| {name} | {m['train_seconds']:.1f} | {uncached:.1f} | {total:.0f} "
                  f"| {total / m['train_seconds']:.1f}x |", flush=True)

    if args.ablation:
        recipe = get_part(ABLATION_PART).recipe
        print(f"\nPart 2 ablation ({args.ablation_epochs} epochs each, {recipe.optimizer} + {recipe.schedule} "
              f"{recipe.lr:g}, batch {recipe.batch_size}, seed 0; train accuracy is the last epoch's, with "
              "augmentation and dropout on):")
        print("| change | train acc | test acc | seconds |")
        print("|---|---|---|---|")
        report["ablation"] = run_ablation(args.data_dir, args.ablation_epochs)
        for row in report["ablation"]:
            print(f"| {row['change']} | {row['train_accuracy']:.4f} | {row['test_accuracy']:.4f} | {row['seconds']} |")

    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
