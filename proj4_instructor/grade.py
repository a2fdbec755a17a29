"""`proj4-instructor grade SUBMISSION.zip [--results PATH]`: grade a submission here with the autograder's runner.

Lays out a temporary folder like Gradescope's /autograder (source/, submission/, results/), builds
the autograder into it from this repository (or unpacks a built one with --autograder), runs its
run_autograder with AUTOGRADER_ROOT pointing there, and prints a table of the results: the same
runner, checks and scoring as on Gradescope (and its sandbox user when run as root). Unlike
Gradescope it does not run setup.sh: nothing is installed, the tests run with this Python
environment (not the image's Python and CPU-only torch), without the container's memory and CPU
limits; the data comes from --data-dir. `proj4-instructor rehearse` grades the real way.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

from proj4_instructor.autograder_build import BuildError, build_autograder_source
from proj4_instructor.release import REPO_ROOT


def run_in_mimic(source: Path, submission: Path, root: Path, env: Optional[Dict[str, str]] = None) -> dict:
    """Run the autograder in `source` on `submission` (zip or folder) under `root`; returns results.json.

    `root` becomes the /autograder stand-in: source/ is copied there (the runner rewrites work/),
    the submission goes to submission/ as Gradescope puts it there.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    if not (root / "source").exists():
        shutil.copytree(source, root / "source", symlinks=True)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    if (root / "submission").exists():
        shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    submission = Path(submission)
    if submission.is_dir():
        shutil.copytree(submission, root / "submission", symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(submission, root / "submission" / submission.name)
    run_env = {**os.environ, "AUTOGRADER_ROOT": str(root.resolve()), "AUTOGRADER_PYTHON": sys.executable,
               **(env or {})}
    log = root / "run_autograder.log"
    with open(log, "wb") as out:
        subprocess.run(["bash", str(root / "run_autograder")], env=run_env, stdout=out, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, check=False)
    return json.loads((root / "results" / "results.json").read_text())


def unpack_autograder(zip_path: Path, root: Path) -> Path:
    """A built autograder zip -> root/source (what Gradescope does before setup.sh)."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    return root / "source"


def summary_table(results: dict) -> str:
    rows = [(t.get("name", "?"), f"{t.get('score', 0):g}/{t.get('max_score', 0):g}", t.get("status", ""))
            for t in results.get("tests", [])]
    width = max([len(r[0]) for r in rows] + [4])
    lines = [f"{'test':<{width}}  {'score':>9}  status", "-" * (width + 19)]
    lines += [f"{name:<{width}}  {points:>9}  {status}" for name, points, status in rows]
    total = sum(t.get("max_score", 0) for t in results.get("tests", []))
    lines += ["-" * (width + 19), f"{'total':<{width}}  {results.get('score', 0):g}/{total:g}"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4 grade", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("submission", type=Path, help="the submission zip (or a folder of loose files)")
    parser.add_argument("--results", type=Path, default=None, help="also write results.json here")
    parser.add_argument("--autograder", type=Path, default=None,
                        help="a zip from `proj4 release autograder` (default: build one from this repository)")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data",
                        help="installed dataset (mean/std and the test split)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the tests (1 as on Gradescope's half vCPU; more threads are "
                             "slower when other work shares the cores)")
    parser.add_argument("--keep", type=Path, default=None, help="grade in this folder and keep it (for debugging)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.submission.exists():
        print(f"proj4 grade: {args.submission} does not exist", file=sys.stderr)
        return 2
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        print(f"proj4 grade: --keep {args.keep} is not empty", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="proj4-grade-") as tmp:
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would keep the sandbox user out of root/work
        root = args.keep or Path(tmp) / "autograder"
        root.mkdir(parents=True, exist_ok=True)
        try:
            if args.autograder:
                source = unpack_autograder(args.autograder, root)
            else:
                source = build_autograder_source(root / "source", data_dir=args.data_dir.resolve())
        except BuildError as err:
            print(f"proj4 grade: {err}", file=sys.stderr)
            return 1
        results = run_in_mimic(source, args.submission.resolve(), root, env={"AUTOGRADER_THREADS": str(args.threads)})
        if args.results:
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(results.get("output", ""))
    print()
    print(summary_table(results))
    return 1 if any(t.get("name") == "Autograder error" for t in results.get("tests", [])) else 0


if __name__ == "__main__":
    sys.exit(main())
