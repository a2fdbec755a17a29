"""Regrade throughput: submissions per hour with --jobs 1 and --jobs 2, and the peak memory per grading.

    sudo python -m proj4_instructor.bench_regrade --autograder ZIP [--copies 4] [--jobs 1 2] [regrade options]

Builds a Gradescope export of realistic submissions from this repository (the reference with the
checkpoints of model_output/, the starter, a half-done solution), `--copies` of each, then regrades
it in containers (as `proj4-instructor regrade` does, with the grading options given after the
known ones, e.g. `--base-image ... --cpus 0`) with each --jobs value into a fresh folder and prints a
table for BENCHMARKS.md. Run it on an idle machine: the figures are wall-clock.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

from proj4_instructor import gradescope_export, regrade
from proj4_instructor.gradescope_export import Submitter
from proj4_instructor.release import REPO_ROOT
from proj4_lib.parts import PARTS

HALF_DONE = ("simple_net.py", "dl_utils.py", "image_loader.py", "data_transforms.py", "optimizer.py")


def submission_zip(path: Path, code: Dict[str, bytes], checkpoints: Dict[str, bytes]) -> Path:
    """What zip_submission.py writes: proj4_code/*.py and model_output/*.pt."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(code.items()):
            zf.writestr(f"proj4_code/{name}", data)
        for name, data in sorted(checkpoints.items()):
            zf.writestr(f"model_output/{name}", data)
    return path


def make_export(dest: Path, starter: Path, copies: int) -> Path:
    reference = {f.name: f.read_bytes() for f in (REPO_ROOT / "proj4_code").glob("*.py")}
    stubs = {f.name: f.read_bytes() for f in starter.glob("*.py")}
    checkpoints = {p.checkpoint: (REPO_ROOT / "model_output" / p.checkpoint).read_bytes() for p in PARTS}
    kinds = {
        "reference": (reference, checkpoints),
        "starter": (stubs, {}),
        "half": ({**stubs, **{n: reference[n] for n in HALF_DONE}},
                 {k: v for k, v in checkpoints.items() if "SimpleNet_" in k}),
    }
    files, entries = {}, {}
    number = 100
    for copy in range(copies):
        for kind, (code, models) in kinds.items():
            number += 1
            key = f"submission_{number}"
            folder = dest / "files" / key
            folder.mkdir(parents=True)
            submission_zip(folder / f"{kind}.zip", code, models)
            files[key] = folder
            people = [Submitter(f"{kind.title()} Student{copy}", f"9{number}", f"s{number}@example.edu")]
            entries[key] = gradescope_export.metadata_entry(people, "2026-12-01 10:00:00 -0500", 0.0, {})
    return gradescope_export.write_export(dest / "export", entries, files)


def peaks(logs: Path) -> List[float]:
    """The largest process of each grading (MB), from the runner's measurements.json of each."""
    return [json.loads(p.read_text()).get("peak_rss_mb", 0.0) for p in logs.glob("*.measurements.json")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of each kind of submission")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--autograder", type=Path, required=True, help="the autograder zip to regrade with")
    args, grading_options = parser.parse_known_args(argv)
    with tempfile.TemporaryDirectory(prefix="proj4-bench-regrade-", dir="/var/tmp") as tmp:
        tmp = Path(tmp)
        with zipfile.ZipFile(args.autograder) as zf:
            zf.extractall(tmp / "source", [n for n in zf.namelist() if n.startswith("starter/")])
        export = make_export(tmp / "made", tmp / "source" / "starter" / "proj4_code", args.copies)
        n = sum(1 for p in export.glob("submission_*") if p.is_dir())  # not submission_metadata.yml
        rows = []
        for jobs in args.jobs:
            out = tmp / f"jobs{jobs}"
            start = time.monotonic()
            assert regrade.main([str(export), "--out", str(out), "--jobs", str(jobs), "--no-progress",
                                 "--autograder", str(args.autograder), *grading_options]) == 0
            seconds = time.monotonic() - start
            scores = [json.loads(p.read_text())["score"] for p in sorted((out / "results").glob("*.json"))]
            found = peaks(out / "logs")
            largest = f"{max(found):.0f} MB" if found else "?"
            rows.append(f"| {jobs} | {n} | {seconds:.0f} s | {n / seconds * 3600:.0f} | {largest} | "
                        f"{sorted(set(scores))} |")
    print(f"machine: {os.cpu_count()} cores, {platform.python_version()}, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {args.copies} x (reference, starter, half done)")
    print("| --jobs | submissions | wall time | submissions per hour | largest process of a grading | scores |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
