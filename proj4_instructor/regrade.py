"""`proj4-instructor regrade EXPORT`: regrade a whole Gradescope "Export Submissions" here, in parallel.

    proj4-instructor regrade assignment_123_export.zip --jobs 2 --out regrade/

Every submission is graded with the autograder's own runner and sandbox (graders.py), `--jobs N`
workers at once, each with its own sandbox user, with a progress bar and an ETA. Writes to --out:
    results/<submission>.json   each results.json, kept (a second run skips what is there: resumable;
                                --force regrades everything)
    grades.csv                  one row per submission: submitters' names, sids, emails, ids, the score
                                Gradescope recorded, the new one, one column per check
    changed_grades.csv          every submission whose grade changes: review before publishing
    flags.csv                   identical checkpoints or code across submitters, near-identical code
    summary.html                the page to open first: changes, failures, flags, histograms, pass rates
A submission that crashes, hangs (--timeout) or cannot be read costs only its own row.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Dict, List, Optional

from tqdm.auto import tqdm

from proj4_instructor import course_report
from proj4_instructor.autograder import intake
from proj4_instructor.autograder_build import BuildError
from proj4_instructor.course_report import Row
from proj4_instructor.gradescope_export import Export, ExportError, Submission
from proj4_instructor.grade import load_source
from proj4_instructor.graders import Grader, GradingSetupError, GradingTimeout, prepare_workers
from proj4_instructor.release import REPO_ROOT
from proj4_lib.cli import DefaultsHelp


def fingerprint(files: Path, config: dict) -> dict:
    """What the flags compare: the code and checkpoints the autograder's intake picks from `files`."""
    with tempfile.TemporaryDirectory(prefix="proj4-fingerprint-") as tmp:
        try:
            taken = intake.take_submission(files, Path(tmp), config)
        except intake.Refused:
            return {"code": {}, "checkpoints": {}}
        code, checkpoints = {}, {}
        for target in taken.accepted:
            path = Path(tmp) / target
            if target.startswith("proj4_code/"):
                code[target[len("proj4_code/"):]] = path.read_text(encoding="utf-8", errors="replace")
            else:
                checkpoints[path.name] = course_report.sha256(path.read_bytes())
        return {"code": code, "checkpoints": checkpoints}


class Regrade:
    def __init__(self, export: Export, grader: Grader, out: Path, config: dict, timeout: float):
        self.export, self.grader, self.out, self.config, self.timeout = export, grader, out, config, timeout
        for folder in ("results", "logs", "fingerprints"):
            (out / folder).mkdir(parents=True, exist_ok=True)
        self.free = list(range(len(grader.users)))
        self.lock = threading.Lock()

    def done(self, submission: Submission) -> bool:
        return (self.out / "results" / f"{submission.id}.json").is_file()

    def grade_one(self, submission: Submission) -> None:
        with self.lock:
            worker = self.free.pop()
        files = Path(tempfile.mkdtemp(prefix=f"proj4-{submission.id}-"))
        try:
            error = ""
            try:
                self.export.extract(submission, files)
                results = self.grader.grade(files, worker, submission.id, log_to=self.out / "logs" /
                                            f"{submission.id}.log", timeout=self.timeout)
            except GradingTimeout as err:
                results, error = None, str(err)
            except Exception as err:  # noqa: BLE001 - one submission's failure is its own row
                results, error = None, f"{type(err).__name__}: {err}"
            (self.out / "fingerprints" / f"{submission.id}.json").write_text(json.dumps(fingerprint(files, self.config)))
            if results is not None:
                (self.out / "results" / f"{submission.id}.json").write_text(json.dumps(results, indent=1))
                (self.out / "results" / f"{submission.id}.error").unlink(missing_ok=True)
            else:
                (self.out / "results" / f"{submission.id}.error").write_text(error)
        finally:
            shutil.rmtree(files, ignore_errors=True)
            with self.lock:
                self.free.append(worker)

    def run(self, force: bool, progress: bool = True) -> int:
        todo = [s for s in self.export.submissions if force or not self.done(s)]
        bar = tqdm(total=len(todo), unit="submission", desc="regrading", disable=not progress)
        with ThreadPoolExecutor(max_workers=len(self.grader.users)) as pool:
            for future in as_completed([pool.submit(self.grade_one, s) for s in todo]):
                future.result()
                bar.update()
        bar.close()
        return len(todo)

    def rows(self) -> List[Row]:
        rows = []
        for submission in self.export.submissions:
            result_file = self.out / "results" / f"{submission.id}.json"
            error_file = self.out / "results" / f"{submission.id}.error"
            results = json.loads(result_file.read_text()) if result_file.is_file() else None
            error = error_file.read_text() if error_file.is_file() and results is None else ""
            prints_file = self.out / "fingerprints" / f"{submission.id}.json"
            prints = json.loads(prints_file.read_text()) if prints_file.is_file() else {"code": {}, "checkpoints": {}}
            rows.append(Row(submission, results, error or ("" if results else "not graded"), prints["code"],
                            prints["checkpoints"]))
        return rows


def write_report(rows: List[Row], out: Path, known: List[Dict[str, str]], max_score: float, seconds: float,
                 jobs: int) -> List[dict]:
    course_report.write_grades_csv(rows, out / "grades.csv")
    course_report.write_changes_csv(rows, out / "changed_grades.csv")
    found = course_report.flags(rows, *known)
    course_report.write_flags_csv(found, out / "flags.csv")
    course_report.write_summary(rows, found, out, max_score, seconds, jobs)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor regrade", description=__doc__.splitlines()[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("export", type=Path, help="Gradescope's Export Submissions: the zip, or it unpacked")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: regrade-<export name>)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (one sandbox user each)")
    parser.add_argument("--autograder", type=Path, default=None,
                        help="a zip from `proj4-instructor release autograder` (default: build from this repository)")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data", help="installed dataset (for the build)")
    parser.add_argument("--force", action="store_true", help="regrade submissions that already have results")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one grading may take in all")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per grading")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="not root: run student code as yourself, with NO isolation (only for code you trust)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Optional[List[str]] = None, source: Optional[Path] = None) -> int:
    """`source`: an autograder folder already laid out (tests), instead of --autograder or a build."""
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        print("proj4-instructor regrade: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        export = Export(args.export)
        users = prepare_workers(args.jobs, allow_unsandboxed=args.no_sandbox, say=lambda m: print(m, file=sys.stderr))
    except (ExportError, GradingSetupError) as err:
        print(f"proj4-instructor regrade: {err}", file=sys.stderr)
        return 2
    out = args.out or Path(f"regrade-{args.export.name.split('.')[0]}")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="proj4-source-") as tmp:
        try:
            source = source or load_source(args.autograder, args.data_dir.resolve(), Path(tmp) / "source")
        except BuildError as err:
            print(f"proj4-instructor regrade: {err}", file=sys.stderr)
            return 1
        config = json.loads((source / "grader" / "config.json").read_text())
        known = [{f.name: f.read_text() for f in (source / folder).glob("*.py")}  # nobody's evidence
                 for folder in ("starter/proj4_code", "grader/trusted_code/proj4_code")]
        max_score = json.loads((source / "grader" / "manifest.json").read_text())["max_score"]
        start = time.monotonic()
        with Grader(source, users, env={"AUTOGRADER_THREADS": str(args.threads)}) as grader:
            regrade = Regrade(export, grader, out, config, args.timeout)
            graded = regrade.run(args.force, progress=not args.no_progress)
        seconds = time.monotonic() - start
    rows = regrade.rows()
    found = write_report(rows, out, known, max_score, seconds, args.jobs)
    changes = course_report.changed_grades(rows)
    print(f"graded {graded} of {len(rows)} submissions in {seconds:.0f} s ({len(rows) - graded} already graded); "
          f"{len(changes)} grades change; {len(found)} flags; open {out / 'summary.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
