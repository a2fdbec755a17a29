"""`proj4-instructor reports CODE_EXPORT REPORT_EXPORT`: do the written reports' numbers come from the graded models?

    proj4-instructor reports code_export.zip report_export.zip [--regrade regrade-dir/] [--out DIR]

The two arguments are Gradescope's "Export Submissions" of the code assignment and of the report
assignment (zips, or the folders they unpack to; gradescope_export.py). Each report PDF made by
`proj4 report` carries the student's run record (proj4_lib/report.py, read_embedded). The report is
matched to the code submission of the same submitter (SID, else email; the latest if several), and
for every part the record holds:
  - the SHA-256 of the checkpoint the record says was saved is compared with the SHA-256 of
    model_output/trained_<Model>_final.pt in the code submission (a regrade's fingerprints/<id>.json
    when --regrade has them); a checkpoint that is another submitter's graded one is named;
  - the test accuracy the report shows is compared with the accuracy the autograder measured on the
    submitted checkpoint (results.json's accuracy tests carry extra_data.accuracy: a regrade's
    results/<id>.json with --regrade, else the results Gradescope recorded in the code export);
    they differ when they are more than TOLERANCE apart;
  - a record made in quick mode (PROJ4_QUICK=1) is noted.
Each mismatch is a flag for review, never a penalty: a student who retrained after writing the report
is flagged too. A report with no run record (made from the slides, or by another tool), or with no code
submission of its submitter, is listed as not checked.

Writes to --out (default: the --regrade folder, else reports-<report export name>/):
    report_checks.csv   one row per report: submitters, the code submission, ok / flagged / not checked, why
    report_flags.json   the flags; the regrade's summary.html shows them (course_report.REPORT_FLAGS)
and adds the "Report checks" section to summary.html there (a page of its own when there is none).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Tuple

from proj4_instructor import course_report
from proj4_instructor.gradescope_export import Export, ExportError, Submission
from proj4_lib import parts
from proj4_lib.report import read_embedded
from proj4_tools.cli import DefaultsHelp

# How far a report's test accuracy may be from the grader's measurement of the submitted checkpoint. The trainer's last
# test accuracy and a grader-style evaluation of the same weights (the autograder's decoded test split) agreed to 4
# decimals for the reference's Parts 1-3 here; 2 points leave room for a GPU's arithmetic and flag only real gaps.
TOLERANCE = 0.02
ACCURACY_TEST = re.compile(r"accuracy of the submitted checkpoint \[(\w+)\]")


@dataclass
class Check:
    """One report: who, which code submission it was compared with, and what was found."""

    report: Submission
    code: Optional[Submission] = None
    status: str = "ok"  # ok | flagged | not checked
    findings: List[dict] = field(default_factory=list)  # {"kind", "part", "evidence", "other"}
    reason: str = ""  # why it was not checked

    @property
    def people(self) -> str:
        return "; ".join(p.name for p in self.report.submitters)


def people(submission: Submission) -> set:
    return {(p.sid or p.email.lower() or p.name) for p in submission.submitters}


def measured_accuracies(results: dict) -> Dict[str, float]:
    """{class name: test accuracy} the autograder measured, from a results.json."""
    found = {}
    for test in (results or {}).get("tests", []):
        match = ACCURACY_TEST.search(str(test.get("name", "")))
        value = (test.get("extra_data") or {}).get("accuracy")
        if match and isinstance(value, (int, float)):
            found[match.group(1)] = float(value)
    return found


def _sha256(stream) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def checkpoint_hashes(export: Export, submission: Submission) -> Dict[str, str]:
    """{checkpoint file name: SHA-256} of the parts' checkpoints in a code submission (any folder depth), read in
    place: nothing is extracted."""
    names = {part.checkpoint for part in parts.PARTS}
    found = {}
    if export.zip is None:
        folder = export.top / submission.id
        for path in sorted(folder.rglob("*.pt")) if folder.is_dir() else []:
            if path.name in names and not path.is_symlink():
                with open(path, "rb") as f:
                    found[path.name] = _sha256(f)
        return found
    prefix = f"{export.top}/{submission.id}/" if str(export.top) != "." else f"{submission.id}/"
    for info in export.zip.infolist():
        name = PurePosixPath(info.filename).name
        if info.filename.startswith(prefix) and name in names and not info.is_dir():
            with export.zip.open(info) as f:
                found[name] = _sha256(f)
    return found


def report_pdf(export: Export, submission: Submission, scratch: Path) -> Optional[Path]:
    """The submission's PDF, as a file in `scratch`: submission_<id>/ holding one (the first by name), or
    submission_<id>.pdf beside the metadata (how Gradescope lays out a PDF assignment's export is not written down
    in GRADESCOPE.md: both are taken)."""
    if export.zip is None:
        folder = export.top / submission.id
        candidates = sorted(folder.rglob("*.pdf")) if folder.is_dir() else []
        candidates += [p for p in [export.top / f"{submission.id}.pdf"] if p.is_file()]
        return candidates[0] if candidates else None
    top = "" if str(export.top) == "." else f"{export.top}/"
    members = sorted(n for n in export.zip.namelist() if n.lower().endswith(".pdf") and
                     (n.startswith(f"{top}{submission.id}/") or n == f"{top}{submission.id}.pdf"))
    if not members:
        return None
    target = scratch / f"{submission.id}.pdf"
    with export.zip.open(members[0]) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)
    return target


Owners = Dict[str, List[Tuple[str, str, frozenset]]]  # sha256 -> [(code submission id, names, people)]


def compare(record: dict, checkpoints: Dict[str, str], measured: Dict[str, float], owners: Owners,
            me: set) -> List[dict]:
    """The findings for one report: its record against its submitter's graded checkpoints and accuracies.
    owners: who submitted each checkpoint, over the whole code export; me: the report's people (people())."""
    findings = []
    if any(entry.get("quick") for entry in record.get("parts", {}).values()):
        findings.append({"kind": "quick-mode run", "part": "", "other": "",
                         "evidence": "the run record comes from PROJ4_QUICK=1 (a smoke test on a few images)"})
    for name, entry in sorted(record.get("parts", {}).items()):
        try:
            part = parts.get_part(name)
        except ValueError:
            continue
        saved = (entry.get("checkpoint") or {}).get("sha256")
        graded = checkpoints.get(part.checkpoint)
        if saved and graded and saved != graded:
            others = [(sid, who) for sid, who, them in owners.get(saved, []) if not them & me]
            if others:
                findings.append({"kind": "another submitter's run", "part": part.class_name, "other": others[0][0],
                                 "evidence": f"the report's {part.checkpoint} (SHA-256 {saved[:16]}...) is the one "
                                             f"graded in {others[0][0]} ({others[0][1]})"})
            else:
                findings.append({"kind": "checkpoint differs", "part": part.class_name, "other": "",
                                 "evidence": f"the report's run saved {part.checkpoint} with SHA-256 {saved[:16]}..., "
                                             f"the graded one is {graded[:16]}..."})
        claimed, truth = entry.get("test_accuracy"), measured.get(part.class_name)
        if isinstance(claimed, (int, float)) and truth is not None and abs(claimed - truth) > TOLERANCE:
            findings.append({"kind": "accuracy differs", "part": part.class_name, "other": "",
                             "evidence": f"the report shows {claimed:.2%} test accuracy, the autograder measured "
                                         f"{truth:.2%} on the submitted {part.checkpoint}"})
    return findings


def check_reports(code: Export, reports: Export, regrade: Optional[Path] = None) -> List[Check]:
    """One Check per report submission, in the report export's order."""
    hashes, results = {}, {}
    for submission in code.submissions:
        prints = regrade / "fingerprints" / f"{submission.id}.json" if regrade else None
        hashes[submission.id] = (json.loads(prints.read_text())["checkpoints"] if prints and prints.is_file()
                                 else checkpoint_hashes(code, submission))
        regraded = regrade / "results" / f"{submission.id}.json" if regrade else None
        results[submission.id] = (json.loads(regraded.read_text()) if regraded and regraded.is_file()
                                  else submission.results)
    owners: Owners = {}
    for submission in code.submissions:
        for digest in hashes[submission.id].values():
            owners.setdefault(digest, []).append((submission.id, "; ".join(p.name for p in submission.submitters),
                                                  frozenset(people(submission))))
    checks = []
    with tempfile.TemporaryDirectory(prefix="proj4-reports-") as tmp:
        for submission in reports.submissions:
            check = Check(submission)
            checks.append(check)
            mine = [c for c in code.submissions if people(c) & people(submission)]
            pdf = report_pdf(reports, submission, Path(tmp))
            embedded = read_embedded(pdf) if pdf else None
            if not mine:
                check.status, check.reason = "not checked", "no code submission by this submitter"
            elif pdf is None:
                check.status, check.reason = "not checked", "no PDF in the submission"
            elif not embedded or not isinstance(embedded.get("record"), dict):
                check.status, check.reason = "not checked", ("no run record in the PDF (not made by `proj4 report`, "
                                                             "or re-saved by another program)")
            if check.status == "not checked":
                continue
            check.code = max(mine, key=lambda c: c.created_at)
            check.findings = compare(embedded["record"], hashes[check.code.id],
                                     measured_accuracies(results[check.code.id]), owners, people(submission))
            check.status = "flagged" if check.findings else "ok"
    return checks


def flags(checks: List[Check]) -> List[dict]:
    """The flags for course_report's summary: one per finding, naming the report and the code submission."""
    return [{"kind": f["kind"], "report": c.report.id, "code": c.code.id if c.code else "", "submitters": c.people,
             "part": f["part"], "other": f["other"], "evidence": f["evidence"]}
            for c in checks for f in c.findings]


def write_checks_csv(checks: List[Check], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["report_submission", "names", "sids", "emails", "code_submission", "status", "why"])
        for c in checks:
            s = c.report
            writer.writerow([s.id, c.people, "; ".join(p.sid for p in s.submitters),
                             "; ".join(p.email for p in s.submitters), c.code.id if c.code else "", c.status,
                             c.reason or "; ".join(f"{f['kind']}: {f['evidence']}" for f in c.findings)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor reports", description=__doc__.splitlines()[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("code_export", type=Path, help="Export Submissions of the code assignment (zip or folder)")
    parser.add_argument("report_export", type=Path, help="Export Submissions of the report assignment (zip or folder)")
    parser.add_argument("--regrade", type=Path, default=None,
                        help="a `proj4-instructor regrade` folder of the code export: its results and checkpoint "
                             "hashes are used, and its summary.html gets the report checks")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the --regrade folder, else reports-<report export name>)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code, reports = Export(args.code_export), Export(args.report_export)
    except ExportError as err:
        print(f"proj4-instructor reports: {err}", file=sys.stderr)
        return 2
    out = args.out or args.regrade or Path(f"reports-{args.report_export.name.split('.')[0]}")
    out.mkdir(parents=True, exist_ok=True)
    checks = check_reports(code, reports, args.regrade)
    found = flags(checks)
    write_checks_csv(checks, out / "report_checks.csv")
    (out / course_report.REPORT_FLAGS).write_text(json.dumps({"checks": len(checks), "flags": found,
                                                              "not_checked": [[c.report.id, c.people, c.reason]
                                                                              for c in checks if c.reason]}, indent=1))
    page = course_report.add_report_checks(out)
    counts = {status: sum(c.status == status for c in checks) for status in ("ok", "flagged", "not checked")}
    print(f"{len(checks)} reports: {counts['ok']} match their graded submission, {counts['flagged']} flagged for "
          f"review, {counts['not checked']} not checked; open {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
