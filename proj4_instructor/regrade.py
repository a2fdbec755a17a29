"""`proj4-instructor regrade EXPORT`: regrade a whole Gradescope "Export Submissions" here, in parallel.

    proj4-instructor regrade assignment_123_export.zip --jobs 2 --out regrade/

Every submission is graded in a fresh container of the autograder's image (grading.py, as `grade`
does), `--jobs N` containers at once, with a progress bar and an ETA. Only that submission's files
go into its container: nothing of the export, the roster or the other submissions. Writes to --out
(readable by you only: mode 0700, files 0600, for it holds students' records):
    results/<submission>.json   each results.json, kept (a second run skips what is there: resumable;
                                --force regrades everything); logs/ the gradings' logs
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
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Dict, List, Optional

from tqdm.auto import tqdm

from proj4_instructor import course_report, grading
from proj4_instructor.autograder.root import intake
from proj4_instructor.course_report import Row
from proj4_instructor.gradescope_export import Export, ExportError, Submission
from proj4_tools.cli import DefaultsHelp


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
    def __init__(self, export: Export, grader, out: Path, config: dict, jobs: int):
        self.export, self.grader, self.out, self.config, self.jobs = export, grader, out, config, jobs
        for folder in ("results", "logs", "fingerprints"):
            (out / folder).mkdir(mode=0o700, parents=True, exist_ok=True)

    def done(self, submission: Submission) -> bool:
        return (self.out / "results" / f"{submission.id}.json").is_file()

    def grade_one(self, submission: Submission) -> None:
        files = Path(tempfile.mkdtemp(prefix=f"proj4-{submission.id}-"))
        try:
            error = ""
            try:
                self.export.extract(submission, files / "files")
                graded = self.grader.grade(files / "files", files / "out")
                results, error = graded.results, graded.problem
                for name, kept in (("run_autograder.log", f"{submission.id}.log"),
                                   ("measurements.json", f"{submission.id}.measurements.json")):
                    if (files / "out" / name).is_file():
                        shutil.copy2(files / "out" / name, self.out / "logs" / kept)
            except Exception as err:  # noqa: BLE001 - one submission's failure is its own row
                results, error = None, f"{type(err).__name__}: {err}"
            write_private(self.out / "fingerprints" / f"{submission.id}.json",
                          json.dumps(fingerprint(files / "files", self.config)))
            if results is not None:
                write_private(self.out / "results" / f"{submission.id}.json", json.dumps(results, indent=1))
                (self.out / "results" / f"{submission.id}.error").unlink(missing_ok=True)
            else:
                write_private(self.out / "results" / f"{submission.id}.error", error or "not graded")
        finally:
            shutil.rmtree(files, ignore_errors=True)

    def run(self, force: bool, progress: bool = True) -> int:
        todo = [s for s in self.export.submissions if force or not self.done(s)]
        bar = tqdm(total=len(todo), unit="submission", desc="regrading", disable=not progress)
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
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


def write_private(path: Path, text: str) -> None:
    """A file only its owner reads (students' records), written whole."""
    partial = path.with_name(path.name + ".partial")
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(partial, path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor regrade", description=__doc__.splitlines()[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("export", type=Path, help="Gradescope's Export Submissions: the zip, or it unpacked")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: regrade-<export name>)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (one container each)")
    parser.add_argument("--force", action="store_true", help="regrade submissions that already have results")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one grading may take in all")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    grading.add_arguments(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        print("proj4-instructor regrade: --jobs must be at least 1", file=sys.stderr)
        return 2
    os.umask(0o077)  # everything written below is the TA's alone
    try:
        export = Export(args.export)
    except ExportError as err:
        print(f"proj4-instructor regrade: {err}", file=sys.stderr)
        return 2
    out = args.out or Path(f"regrade-{args.export.name.split('.')[0]}")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    with tempfile.TemporaryDirectory(prefix="proj4-regrade-") as tmp:
        try:
            grader = grading.open_grader(args, Path(tmp), timeout=args.timeout)
        except grading.SETUP_ERRORS as err:
            print(f"proj4-instructor regrade: {err}", file=sys.stderr)
            return 2
        source = grading.unpack_autograder(grader.zip_path, Path(tmp) / "source")
        config = json.loads((source / "grader" / "config.json").read_text())
        known = [{f.name: f.read_text() for f in (source / folder).glob("*.py")}  # nobody's evidence
                 for folder in ("starter/proj4_code", "grader/trusted_code/proj4_code")]
        max_score = json.loads((source / "grader" / "manifest.json").read_text())["max_score"]
        start = time.monotonic()
        regrade = Regrade(export, grader, out, config, args.jobs)
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
