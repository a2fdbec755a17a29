"""`proj4-instructor grade SUBMISSION`: grade one submission here, as Gradescope would, in a fresh container.

The autograder zip (--autograder, or one built from this repository) is set up once on a base image
the way Gradescope sets it up (containers.py: setup.sh run unchanged; the image is reused while the
zip is the same), then the submission is graded in a new container of it with no network and
Gradescope's default limits (0.5 CPU, 768 MB; --cpus, --memory-mb): nothing of this machine is
inside but the submission. Needs Podman or Docker (as root, or a user the engine lets run
containers); without one the command says how to install one. `--unsafe-local` grades on this
machine with no isolation, for code you trust. Many submissions: `proj4-instructor regrade`.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from proj4_instructor import grading
from proj4_tools.cli import DefaultsHelp


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
    parser = argparse.ArgumentParser(prog="proj4-instructor grade", description=__doc__.splitlines()[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("submission", type=Path, help="the submission zip (or a folder of loose files)")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep results.json, measurements.json and the grading's log here (mode 0700)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the grading may take in all")
    grading.add_arguments(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.submission.exists():
        print(f"proj4-instructor grade: {args.submission} does not exist", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="proj4-grade-") as tmp:
        try:
            grader = grading.open_grader(args, Path(tmp), timeout=args.timeout)
        except grading.SETUP_ERRORS as err:
            print(f"proj4-instructor grade: {err}", file=sys.stderr)
            return 2
        out = args.out or Path(tmp) / "out"
        graded = grader.grade(args.submission.resolve(), out)
    if graded.results is None:
        print(f"proj4-instructor grade: {graded.problem}; the end of its log:\n{graded.log[-3000:]}", file=sys.stderr)
        return 1
    print(graded.results.get("output", ""))
    print()
    print(summary_table(graded.results))
    if graded.measurements:
        print(f"\ngraded in {graded.wall_s:.0f} s; peak memory {graded.measurements.get('peak_rss_mb', 0):.0f} MB "
              f"per process, {graded.measurements.get('cgroup_peak_mb') or 0:.0f} MB for the container"
              + (f"; kept in {args.out}" if args.out else ""))
    return 1 if any(t.get("name") == "Autograder error" for t in graded.results.get("tests", [])) else 0


if __name__ == "__main__":
    sys.exit(main())
