"""`proj4-instructor grade SUBMISSION.zip`: grade one submission here with the autograder's runner.

Builds the autograder from this repository (or unpacks a built one with --autograder), lays out a
folder like Gradescope's /autograder and runs its run_autograder there: the same runner, checks,
scoring and sandbox as on Gradescope. As root, student code runs as the sandbox user proj4grader
(created if missing, as setup.sh does; the user must be able to run this Python: checked first).
Not as root, only with --no-sandbox, which isolates nothing. Unlike Gradescope it does not run
setup.sh: it uses this Python environment, not the image's CPU-only torch, and no container limits;
`proj4-instructor rehearse` grades that way. Many submissions: `proj4-instructor regrade`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from proj4_instructor.autograder_build import BuildError, build_autograder_source
from proj4_instructor.graders import Grader, GradingSetupError, prepare_workers, unpack_autograder
from proj4_instructor.release import REPO_ROOT
from proj4_lib.cli import DefaultsHelp


def summary_table(results: dict) -> str:
    rows = [(t.get("name", "?"), f"{t.get('score', 0):g}/{t.get('max_score', 0):g}", t.get("status", ""))
            for t in results.get("tests", [])]
    width = max([len(r[0]) for r in rows] + [4])
    lines = [f"{'test':<{width}}  {'score':>9}  status", "-" * (width + 19)]
    lines += [f"{name:<{width}}  {points:>9}  {status}" for name, points, status in rows]
    total = sum(t.get("max_score", 0) for t in results.get("tests", []))
    lines += ["-" * (width + 19), f"{'total':<{width}}  {results.get('score', 0):g}/{total:g}"]
    return "\n".join(lines)


def load_source(autograder: Optional[Path], data_dir: Path, into: Path) -> Path:
    """The autograder to grade with: unpacked from a zip, or built from this repository."""
    if autograder:
        return unpack_autograder(autograder, into)
    return build_autograder_source(into, data_dir=data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor grade", description=__doc__.splitlines()[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("submission", type=Path, help="the submission zip (or a folder of loose files)")
    parser.add_argument("--results", type=Path, default=None, help="also write results.json here")
    parser.add_argument("--autograder", type=Path, default=None,
                        help="a zip from `proj4-instructor release autograder` (default: build one from this repository)")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data",
                        help="installed dataset (mean/std and the test split)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the tests (1 as on Gradescope's half vCPU; more threads are "
                             "slower when other work shares the cores)")
    parser.add_argument("--keep", type=Path, default=None, help="grade in this folder and keep it (for debugging)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="not root: run student code as yourself, with NO isolation (only for code you trust)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.submission.exists():
        print(f"proj4-instructor grade: {args.submission} does not exist", file=sys.stderr)
        return 2
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        print(f"proj4-instructor grade: --keep {args.keep} is not empty", file=sys.stderr)
        return 2
    try:
        users = prepare_workers(1, allow_unsandboxed=args.no_sandbox, say=lambda m: print(m, file=sys.stderr))
    except GradingSetupError as err:
        print(f"proj4-instructor grade: {err}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="proj4-source-") as tmp:
        try:
            source = load_source(args.autograder, args.data_dir.resolve(), Path(tmp) / "source")
        except BuildError as err:
            print(f"proj4-instructor grade: {err}", file=sys.stderr)
            return 1
        with Grader(source, users, env={"AUTOGRADER_THREADS": str(args.threads)}, keep=args.keep) as grader:
            results = grader.grade(args.submission.resolve())
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(results.get("output", ""))
    print()
    print(summary_table(results))
    return 1 if any(t.get("name") == "Autograder error" for t in results.get("tests", [])) else 0


if __name__ == "__main__":
    sys.exit(main())
