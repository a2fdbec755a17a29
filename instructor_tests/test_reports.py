"""`proj4-instructor reports`: each written report's run record against the graded code submission.

A small fixture of two Gradescope exports (code and report) in their export layout: an honest report,
one whose numbers do not match its checkpoint, one made from another student's run, one PDF without a
run record and one report whose author submitted no code. Exactly the two are flagged; the other two
are listed as not checked, never flagged.
"""
import csv
import hashlib
import json
import re

import pytest

from proj4_instructor import course_report, reports
from proj4_instructor.gradescope_export import Submitter, metadata_entry, write_export
from proj4_lib import report, run_record

PEOPLE = {name: Submitter(name.title(), f"90{i}", f"{name}@example.edu")
          for i, name in enumerate(("alice", "bob", "carol", "dave", "erin"))}
PART2 = "trained_SimpleNetFinal_final.pt"


def code_results(accuracy: float) -> dict:
    """results.json as the autograder writes it for the accuracy check of Part 2 (the part compared here)."""
    return {"score": 70.0, "tests": [
        {"name": "test-split accuracy of the submitted checkpoint [SimpleNetFinal]", "number": "2.9", "score": 5.0,
         "max_score": 5.0, "status": "passed", "output": "", "extra_data": {"accuracy": accuracy}}]}


def record_of(checkpoint: bytes, accuracy: float) -> dict:
    record = run_record.empty()
    record["parts"]["simple_net_final"] = {
        "part": 2, "class_name": "SimpleNetFinal", "test_accuracy": accuracy, "quick": False,
        "checkpoint": {"file": PART2, "sha256": hashlib.sha256(checkpoint).hexdigest()}}
    return record


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    checkpoints = {name: f"{name}'s SimpleNetFinal weights".encode() for name in ("alice", "bob", "carol", "dave")}
    measured = {"alice": 0.7133, "bob": 0.55, "carol": 0.61, "dave": 0.70}
    entries, files = {}, {}
    for number, name in enumerate(checkpoints, start=1):
        folder = root / "code_files" / name / "model_output"
        folder.mkdir(parents=True)
        (folder / PART2).write_bytes(checkpoints[name])
        entries[f"submission_{number}"] = metadata_entry([PEOPLE[name]], f"2026-11-0{number}", 70.0,
                                                         code_results(measured[name]))
        files[f"submission_{number}"] = folder.parent
    code = write_export(root / "code_export", entries, files)

    records = {"alice": record_of(checkpoints["alice"], 0.7133),  # honest (the trainer's last epoch)
               "bob": record_of(checkpoints["bob"], 0.72),  # claims 72% for a checkpoint graded at 55%
               "carol": record_of(checkpoints["alice"], 0.7133),  # alice's run
               "erin": record_of(b"erin's own weights", 0.70)}  # no code submission
    entries, files = {}, {}
    for number, name in enumerate(("alice", "bob", "carol", "dave", "erin"), start=11):
        folder = root / "report_files" / name
        folder.mkdir(parents=True)
        if name == "dave":  # a PDF made by another program: no run record in it
            from matplotlib.figure import Figure

            Figure().savefig(folder / "dave_proj4.pdf", format="pdf")
        else:
            report.build_pdf(folder / f"{name}_proj4.pdf", report.pages(records[name], {}), records[name], name)
        entries[f"submission_{number}"] = metadata_entry([PEOPLE[name]], "2026-11-20", 0.0, {})
        files[f"submission_{number}"] = folder
    return code, write_export(root / "report_export", entries, files)


def statuses(out):
    with open(out / "report_checks.csv", newline="") as f:
        return {row["names"]: row for row in csv.DictReader(f)}


def test_exactly_the_two_mismatched_reports_are_flagged(exports, tmp_path, capsys):
    code, report_export = exports
    out = tmp_path / "out"
    assert reports.main([str(code), str(report_export), "--out", str(out)]) == 0
    rows = statuses(out)
    assert {name: row["status"] for name, row in rows.items()} == {
        "Alice": "ok", "Bob": "flagged", "Carol": "flagged", "Dave": "not checked", "Erin": "not checked"}
    assert "72.00%" in rows["Bob"]["why"] and "55.00%" in rows["Bob"]["why"], rows["Bob"]["why"]
    assert "another submitter's run" in rows["Carol"]["why"] and "submission_1 (Alice)" in rows["Carol"]["why"]
    assert "no run record" in rows["Dave"]["why"] and "no code submission" in rows["Erin"]["why"]
    flagged = json.loads((out / course_report.REPORT_FLAGS).read_text())["flags"]
    assert {f["report"] for f in flagged} == {"submission_12", "submission_13"}
    page = (out / "report_checks.html").read_text()
    assert "2 flagged" in page and "not penalties" in page
    assert "1 match their graded submission, 2 flagged for review, 2 not checked" in capsys.readouterr().out


def test_the_flags_go_onto_the_regrade_summary(exports, tmp_path):
    """With --regrade, the regrade's results are the measured accuracies and its summary.html gets the section;
    a later regrade's summary keeps it (write_summary reads report_flags.json)."""
    from proj4_instructor.gradescope_export import Export

    code, report_export = exports
    regrade = tmp_path / "regrade"
    (regrade / "results").mkdir(parents=True)
    submissions = Export(code).submissions
    for submission in submissions:  # the regrade measured bob's checkpoint like Gradescope did, alice's at 0.60
        accuracy = (0.60 if submission.submitters[0].name == "Alice"
                    else submission.results["tests"][0]["extra_data"]["accuracy"])
        (regrade / "results" / f"{submission.id}.json").write_text(json.dumps(code_results(accuracy)))
    rows = [course_report.Row(s, json.loads((regrade / "results" / f"{s.id}.json").read_text())) for s in submissions]
    course_report.write_summary(rows, [], regrade, 100.0, 1.0, 1)
    assert reports.main([str(code), str(report_export), "--regrade", str(regrade)]) == 0
    summary = (regrade / "summary.html").read_text()
    assert summary.count("Report checks (flags for review, not penalties)") == 1
    assert "71.33%" in summary and "60.00%" in summary, "alice's claim against the regrade's measurement"
    assert {name: row["status"] for name, row in statuses(regrade).items()}["Alice"] == "flagged"
    course_report.write_summary(rows, [], regrade, 100.0, 1.0, 1)  # the regrade runs again
    assert "Report checks (flags for review" in (regrade / "summary.html").read_text()


def test_the_record_travels_in_the_pdf(tmp_path):
    record = record_of(b"weights", 0.5)
    pdf = report.build_pdf(tmp_path / "r.pdf", report.pages(record, {}), record, "gburdell3")
    embedded = report.read_embedded(pdf)
    assert embedded["record"] == record and embedded["username"] == "gburdell3"
    assert embedded["rubric"] == [item.key for item in report.rubric.ITEMS]


def test_the_release_writes_the_outline_and_the_template(tmp_path):
    from proj4_instructor import release
    from proj4_lib import rubric

    outline, template = release.write_report_outline(tmp_path)
    rows = [line.split("|")[1:-1] for line in outline.read_text().splitlines() if re.match(r"\| \d+ \|", line)]
    assert [(int(q), title.strip(), int(page), int(points)) for q, title, page, points, _ in rows] == \
        [(k, item.title, k, item.points) for k, item in enumerate(rubric.ITEMS, start=1)]
    assert f"({rubric.total_points()} in all" in outline.read_text() and rubric.total_points() == 30
    assert len(re.findall(rb"/Type /Page\b", template.read_bytes())) == len(rubric.ITEMS)
