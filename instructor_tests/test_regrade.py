"""`proj4-instructor regrade` on a realistic Gradescope export, in containers, two at a time.

The export (Gradescope's layout: submission_metadata.yml and submission_<id>/ folders) holds six
submissions whose checks do not overlap, so that each asserts something of its own: a partial
solution; three realistic bugs in three modules; a copied pair (a student's own implementation, and a
copy of it with renamed names and new comments); a group of two whose code crashes its process in one
module and hangs in another; and the starter with a spy that, during the regrade, reads every other
process's command line and environment through /proc and every path they name. While the regrade
runs, the TA grades the reference with `proj4-instructor grade`: two TA commands at once.

The first run meets an export that holds Gradescope's totals only (no per-check results). Then the
export's recorded results become those of an earlier autograder whose only difference is SimpleNet's
threshold (0.60 instead of the registry's): derived from this regrade's results, each SimpleNet credit
recomputed from its accuracy (extra_data) with the old threshold. The regrade runs again: it grades
nothing, and lists as changed exactly the submissions whose SimpleNet credit moves.
"""
import csv
import html
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from submissions import REFERENCE, check_results, grader_internals, lost, write_zip

from proj4_instructor import base_images, course_report, gradescope_export, regrade
from proj4_instructor.autograder.root import scoring
from proj4_instructor.containers import Graded
from proj4_instructor.gradescope_export import Submitter

ATTACKS = Path(__file__).resolve().parent / "attacks"
OLD_THRESHOLD = 0.60
SIMPLE = "test-split accuracy of the submitted checkpoint [SimpleNet]"
# The runner's limits in every container of the regrade and of the `grade` beside it (regrade passes the
# AUTOGRADER_* limits of its environment on): no public tests (nothing here reads them), a hang costs 20 s.
LIMITS = {"AUTOGRADER_TOTAL_TIMEOUT": "150", "AUTOGRADER_PUBLIC_TIMEOUT": "0", "AUTOGRADER_PROBE_TIMEOUT": "20"}


def mutate(name: str, old: str, new: str) -> dict:
    text = (REFERENCE / name).read_text()
    assert old in text, (name, old)
    return {name: text.replace(old, new, 1)}


HEIDI = {  # her own way of writing three solution blocks (correct, and unlike the reference)
    "confusion_matrix.py": [
        ("""    np.add.at(confusion_matrix, (np.asarray(targets, dtype=int), np.asarray(preds, dtype=int)), 1)
    if normalize:
        row_sums = confusion_matrix.sum(axis=1, keepdims=True)
        confusion_matrix = np.divide(confusion_matrix, row_sums, out=np.zeros_like(confusion_matrix),
                                     where=row_sums > 0)
""", """    for true_label, predicted_label in zip(np.asarray(targets).tolist(), np.asarray(preds).tolist()):
        confusion_matrix[int(true_label), int(predicted_label)] += 1.0
    if normalize:
        for row_index in range(num_classes):
            total_in_row = confusion_matrix[row_index].sum()
            if total_in_row > 0:
                confusion_matrix[row_index] = confusion_matrix[row_index] / total_in_row
"""),
        ("""    accuracy_table = (np.asarray(preds).reshape(-1, num_attributes)
                      == np.asarray(targets).reshape(-1, num_attributes)).mean(axis=0)
""", """    predicted = np.asarray(preds).reshape(-1, num_attributes)
    truth = np.asarray(targets).reshape(-1, num_attributes)
    for column in range(num_attributes):
        accuracy_table[column] = float(np.mean(predicted[:, column] == truth[:, column]))
""")],
    "optimizer.py": [
        ("""    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer_type == "sgd":
        optimizer = torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=config.get("momentum", 0.0))
    else:
        optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
""", """    trainable_parameters = list(filter(lambda parameter: parameter.requires_grad, model.parameters()))
    builders = {
        "sgd": lambda: torch.optim.SGD(trainable_parameters, lr=lr, momentum=config.get("momentum", 0.0),
                                       weight_decay=weight_decay),
        "adam": lambda: torch.optim.Adam(trainable_parameters, lr=lr, weight_decay=weight_decay),
    }
    optimizer = builders[optimizer_type]()
""")],
}


def heidi() -> dict:
    out = {}
    for name, changes in HEIDI.items():
        text = (REFERENCE / name).read_text()
        for old, new in changes:
            assert old in text, (name, old[:60])
            text = text.replace(old, new)
        out[name] = text
    return out


def renamed(text: str) -> str:
    """A copy dressed up: new comments and renamed names, the same code."""
    for old, new in (("true_label", "t"), ("predicted_label", "p"), ("row_index", "r"), ("total_in_row", "s"),
                     ("trainable_parameters", "ps"), ("builders", "table"), ("column", "j")):
        text = text.replace(old, new)
    return "# All my own work.\n" + text.replace("    if normalize:\n", "    # rows sum to one\n    if normalize:\n")


def own(checkpoints: dict, seed: int) -> dict:
    """The checkpoints as a student who trained them would have them: the same accuracy, other bytes."""
    out = {}
    for name, data in checkpoints.items():
        checkpoint = torch.load(io.BytesIO(data), weights_only=True)
        key = next(k for k in checkpoint["state_dict"] if k.startswith("fc_layers") and k.endswith("bias"))
        checkpoint["state_dict"][key] = checkpoint["state_dict"][key] + 1e-7 * (seed + 1)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        out[name] = buffer.getvalue()
    return out


def files_of(zip_path: Path, dest: Path) -> Path:
    """What Gradescope keeps of an uploaded zip: its files, unpacked."""
    dest.mkdir(parents=True)
    subprocess.run(["unzip", "-q", str(zip_path), "-d", str(dest)], check=True)
    return dest


def rows_of(text: str) -> list:
    return list(csv.DictReader(io.StringIO(text)))


def rows(path: Path) -> list:
    return rows_of(path.read_text(encoding="utf-8"))


def old_credit(test: dict) -> float:
    """The points the earlier autograder (SimpleNet's threshold OLD_THRESHOLD, its floor 0.15 below) gave a
    SimpleNet accuracy check."""
    accuracy = (test.get("extra_data") or {}).get("accuracy")
    if accuracy is None:
        return test["score"]
    return round(scoring.credit(accuracy, OLD_THRESHOLD, OLD_THRESHOLD - 0.15) * test["max_score"], 2)


def recorded_by_the_earlier_autograder(results: dict) -> dict:
    """`results` as the earlier autograder would have written them: only SimpleNet's accuracy credit differs."""
    tests = [dict(t, score=old_credit(t)) if t["name"] == SIMPLE else dict(t) for t in results["tests"]]
    return {**results, "tests": tests, "score": round(sum(t["score"] for t in tests), 2)}


def regrade_args(export: Path, out: Path, image_zip: Path, engine, standin_wheels: Path) -> list:
    """The command line a TA on a machine without a registry runs (the session's image is reused: the same
    zip, base image and build settings)."""
    return [str(export), "--out", str(out), "--jobs", "2", "--no-progress", *grading_args(image_zip, engine,
                                                                                          standin_wheels)]


def grading_args(image_zip: Path, engine, standin_wheels: Path) -> list:
    return ["--autograder", str(image_zip), "--engine", engine.name, "--base-image", base_images.DEBIAN_BASE,
            "--host-pip", "--torch-wheels", str(standin_wheels), "--cpus", "0", "--memory-mb", "1536"]


class ContainerCount:
    """The most grading containers (proj4-grade-*) the engine ran at once, sampled every 2 s."""

    def __init__(self, engine):
        self.engine, self.most, self.stop = engine, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(2):
            names = self.engine.run("ps", "--format", "{{.Names}}", check=False).stdout.split()
            self.most = max(self.most, sum(1 for n in names if n.startswith("proj4-grade-")))

    def close(self):
        self.stop.set()
        self.thread.join()


@pytest.fixture(scope="module")
def regraded(grading_source, config, reference_checkpoints, engine, grading_image, image_zip, standin_wheels,
             tmp_path_factory):
    """The export, the regrade's first run (Gradescope's totals only in the metadata), and the `grade`
    command run beside it."""
    tmp = tmp_path_factory.mktemp("regrade")
    starter = grading_source / "starter" / "proj4_code"

    def mine(n):
        return own(reference_checkpoints, n)

    def simple(n):
        return {k: v for k, v in mine(n).items() if "SimpleNet_" in k}

    copied_checkpoints = mine(8)
    original = heidi()
    copied = {name: renamed(text) for name, text in original.items()}
    export, out = tmp / "assignment_4_export", tmp / "regrade"
    ids = [f"submission_{n}" for n in range(101, 107)]
    spy_guesses = sorted({str(export), str(export / gradescope_export.METADATA), str(out), str(out / "results"),
                          str(tmp), *(str(out / "results" / f"{i}.json") for i in ids), str(tmp / "grade-out")})
    plan = {  # id: (submitters, zip maker)
        "101": (["Carol Part"], lambda p: write_zip(p, starter, overrides={
            n: (REFERENCE / n).read_text() for n in ("simple_net.py", "dl_utils.py", "image_loader.py",
                                                      "data_transforms.py", "optimizer.py", "stats_helper.py")},
            checkpoints=simple(1))),
        "102": (["Bob Stub"], lambda p: write_zip(p, starter, overrides={
            "image_loader.py": (starter / "image_loader.py").read_text() + (ATTACKS / "proc_spy.py").read_text()
            .replace("__GUESSES__", repr(spy_guesses)).replace("__SECONDS__", "10")})),
        "103": (["Eve Bugs"], lambda p: write_zip(p, checkpoints=mine(3), overrides={
            **mutate("dl_utils.py", "(logits.argmax(dim=1) == labels).float().mean().item()",
                     "(logits.argmax(dim=1) == labels).float().sum().item()"),
            **mutate("my_resnet.py", "param.requires_grad = False", "param.requires_grad = True"),
            **mutate("optimizer.py", "torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)",
                     "torch.optim.Adam(params, lr=lr)")})),
        "104": (["Heidi Orig"], lambda p: write_zip(p, checkpoints=copied_checkpoints, overrides=original)),
        "105": (["Ivan Copy"], lambda p: write_zip(p, checkpoints=copied_checkpoints, overrides=copied)),
        "106": (["Oscar Crash", "Peggy Hang"], lambda p: write_zip(p, starter, overrides={
            "optimizer.py": (REFERENCE / "optimizer.py").read_text(),
            "stats_helper.py": (REFERENCE / "stats_helper.py").read_text(),
            "simple_net.py": "import ctypes\nctypes.string_at(0)\n" + (starter / "simple_net.py").read_text(),
            # at its end: a module's first statement may have to be `from __future__ import ...`
            "confusion_matrix.py": (starter / "confusion_matrix.py").read_text() + "\nwhile True:\n    pass\n"})),
    }
    files, entries, people = {}, {}, {}
    for number, (names, make) in plan.items():
        key = f"submission_{number}"
        files[key] = files_of(make(tmp / f"{number}.zip"), tmp / "files" / key)
        people[key] = [Submitter(n, f"9{number}{i}", f"{n.split()[0].lower()}@example.edu")
                       for i, n in enumerate(names)]
        # what Gradescope's export holds when it has no per-check results: the total only
        entries[key] = gradescope_export.metadata_entry(people[key], f"2026-11-2{number[-1]} 10:00:00 -0500", 0.0, {})
    gradescope_export.write_export(export, entries, files)

    saved = {k: os.environ.get(k) for k in LIMITS}
    os.environ.update(LIMITS)
    count = ContainerCount(engine)
    try:
        grade_out = tmp / "grade-out"
        ta = subprocess.Popen([sys.executable, "-m", "proj4_instructor.cli", "grade",
                               str(write_zip(tmp / "reference.zip", checkpoints=reference_checkpoints)),
                               "--out", str(grade_out), *grading_args(image_zip, engine, standin_wheels)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        start = time.monotonic()
        code = regrade.main(regrade_args(export, out, image_zip, engine, standin_wheels))
        seconds = time.monotonic() - start
        said, _ = ta.communicate(timeout=900)
    finally:
        count.close()
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert code == 0
    print(f"\nregrade of {len(ids)} submissions with --jobs 2 (and `grade` beside it): {seconds:.0f} s")
    return {"export": export, "out": out, "entries": entries, "people": people, "spy_guesses": spy_guesses,
            "grade": (ta.returncode, said, grade_out), "containers": count.most, "seconds": seconds,
            "first": {name: (out / name).read_text() for name in ("grades.csv", "changed_grades.csv", "summary.html")}}


@pytest.mark.slow
def test_regrade_of_an_export(regraded, config, max_score, engine, image_zip, standin_wheels, capsys):
    export, out, entries = regraded["export"], regraded["out"], regraded["entries"]
    first = {row["submission_id"]: row for row in rows_of(regraded["first"]["grades.csv"])}
    assert sorted(first) == sorted(entries)
    results = {key: json.loads((out / "results" / f"{key}.json").read_text()) for key in entries}
    for key, row in first.items():
        check_results(results[key])
        assert grader_internals(results[key]) == [], (key, grader_internals(results[key])[:3])
        assert float(row["new_score"]) == results[key]["score"] and float(row["gradescope_score"]) == 0.0
    # Every container had the limits of the regrade's environment (AUTOGRADER_*): the TA's overrides reach it.
    for path in [*(out / "logs").glob("*.measurements.json"), regraded["grade"][2] / "measurements.json"]:
        steps = json.loads(path.read_text())["steps"]
        assert max(s["given_s"] for s in steps if s["step"].startswith("answers")) <= \
            float(LIMITS["AUTOGRADER_TOTAL_TIMEOUT"]), path
        assert all(s.get("outcome", "").startswith("not run") for s in steps if s["step"].startswith("public")), path
    # Groups: both submitters on the row.
    assert first["submission_106"]["names"] == "Oscar Crash; Peggy Hang"
    assert first["submission_106"]["sids"] == "91060; 91061"
    # Realistic outcomes.
    assert results["submission_102"]["score"] == 0
    assert float(first["submission_103"]["compute_accuracy"]) == 0
    assert float(first["submission_103"]["MyResNet18 (resnet18): the frozen backbone stays frozen"]) == 0
    assert float(first["submission_103"]["get_optimizer: Adam"]) == 0
    assert float(first["submission_106"]["get_optimizer: SGD"]) == 1  # a crash costs only its own module
    assert float(first["submission_106"]["compute_mean_and_std: random images"]) == 2  # so does a hang
    hang = next(t for t in results["submission_106"]["tests"] if t["name"] == "generate_confusion_matrix: counts")
    assert f"more than {LIMITS['AUTOGRADER_PROBE_TIMEOUT']} s" in hang["output"], hang["output"]
    assert "SIGSEGV" in json.dumps(results["submission_106"])
    assert 0 < results["submission_101"]["score"] < max_score
    # The export had Gradescope's totals only: a changed grade says so instead of listing every check.
    changed_first = rows_of(regraded["first"]["changed_grades.csv"])
    assert changed_first and all(r["checks_that_differ"] == course_report.ONLY_TOTAL for r in changed_first)
    assert html.escape(course_report.ONLY_TOTAL) in regraded["first"]["summary.html"]
    # Flags: the copied pair (identical checkpoints, near-identical code), and nobody else's own work.
    flags = rows(out / "flags.csv")
    pair = [f for f in flags if {f["a"], f["b"]} == {"submission_104", "submission_105"}]
    assert {f["kind"] for f in pair} >= {"identical checkpoint", "near-identical code"}, flags
    assert any("confusion_matrix.py" in f["evidence"] and "optimizer.py" in f["evidence"]
               for f in pair if f["kind"] == "near-identical code")
    assert flags == pair, flags  # code that is the starter's or the reference's is nobody's evidence

    # The earlier autograder's results go into the export; the regrade runs again and grades nothing.
    assert next(p for p in config["parts"] if p["class_name"] == "SimpleNet")["threshold"] < OLD_THRESHOLD
    recorded = {}
    for key, entry in entries.items():
        recorded[key] = recorded_by_the_earlier_autograder(results[key])
        entry[":score"], entry[":results"] = recorded[key]["score"], recorded[key]
        entry[":history"][0][":score"] = recorded[key]["score"]
    gradescope_export.write_export(export, entries, {})
    capsys.readouterr()
    assert regrade.main(regrade_args(export, out, image_zip, engine, standin_wheels)) == 0
    assert f"graded 0 of {len(entries)} submissions" in capsys.readouterr().out
    grades = {row["submission_id"]: row for row in rows(out / "grades.csv")}
    for key, row in grades.items():
        assert float(row["gradescope_score"]) == recorded[key]["score"]
        assert {k: v for k, v in row.items() if k not in ("gradescope_score", "changed")} == \
            {k: v for k, v in first[key].items() if k not in ("gradescope_score", "changed")}, key  # not regraded
    # The changed grades: exactly those whose SimpleNet credit moved with the threshold.
    before = {key: next(t["score"] for t in recorded[key]["tests"] if t["name"] == SIMPLE) for key in grades}
    moved = {key for key, row in grades.items() if abs(float(row[SIMPLE]) - before[key]) > 0.005}
    assert moved == {"submission_101", "submission_103", "submission_104", "submission_105"}, moved
    changed = rows(out / "changed_grades.csv")
    assert {r["submission_id"] for r in changed} == moved
    assert {key for key, row in grades.items() if row["changed"] == "yes"} == moved
    assert all(r["checks_that_differ"].startswith(f"{SIMPLE}: ") and ";" not in r["checks_that_differ"]
               for r in changed), changed
    page = (out / "summary.html").read_text()
    for text in ("Grades that change", "Flags for review", "Pass rate per check", "data:image/png;base64,",
                 "submission_105", html.escape(SIMPLE)):
        assert text in page
    assert html.escape(course_report.ONLY_TOTAL) not in page
    # The most common failure messages keep the error's own words, not only the line announcing them.
    loader = re.search(r"<tr><td>ImageLoader: length and items</td>(.*?)</tr>", page).group(1)
    assert "RuntimeError: PROC-SPY saw" in loader, loader
    assert not re.search(r"probe:(<br>|</td>)", page)


@pytest.mark.slow
def test_the_regrade_output_is_the_tas_alone(regraded):
    """The output folder and everything in it: 0700 folders, 0600 files (students' names, SIDs, grades)."""
    out = regraded["out"]
    paths = [out, *out.rglob("*")]
    assert len(paths) > 3 * len(regraded["entries"])
    for path in paths:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


@pytest.mark.slow
def test_a_submission_sees_no_process_and_reads_nothing_outside_its_container(regraded):
    """During the regrade (two containers at once, and `grade` beside them), the spy read every process
    command line and environment /proc showed it, and tried every path they named plus the real paths of
    the export, the roster, the output folder and every results/<id>.json: it saw only its own grading's
    processes, no other user's environment, read nothing of this machine; nothing of the roster (names,
    emails) reached any grading."""
    out = regraded["out"]
    log = (out / "logs" / "submission_102.log").read_text()
    report = json.loads(log.split("PROC-SPY ", 1)[1].splitlines()[0])
    assert report["uid"] != 0 and report["environments"] == 0, report
    commands = [command for _, command in report["processes"]]
    assert any("proj4_autograder.runner" in c for c in commands), commands  # its own grading's runner
    host = ("regrade", "podman", "docker", "conmon", "pytest instructor_tests", "proj4_instructor", str(out),
            str(regraded["export"]))
    for command in commands:
        assert not any(mark in command for mark in host), command
    assert len(commands) < 20, commands
    assert report["paths"] >= len(regraded["spy_guesses"])
    for path in report["read"]:
        assert not path.startswith(tuple(regraded["spy_guesses"])), path
        assert "submission_metadata" not in path and "/results/submission_" not in path, path
    roster = [v for people in regraded["people"].values() for p in people for v in (p.name, p.email)]
    for result_file in (out / "results").glob("*.json"):
        text = result_file.read_text()
        assert not [v for v in roster if v in text], result_file


@pytest.mark.slow
def test_a_grade_beside_a_regrade_gives_its_own_correct_result(regraded, max_score):
    """`proj4-instructor grade` started while the regrade ran (three containers at once), as a TA grades on a
    machine with no registry (the Debian base, this machine's pip mirrors, the torch stand-in; the session's
    image reused: same zip, base and build settings): the reference's full marks, the leaderboard, results
    and measurements kept in --out, readable by the TA only; the regrade's own results unharmed
    (test_regrade_of_an_export)."""
    code, said, grade_out = regraded["grade"]
    assert code == 0, said[-3000:]
    assert regraded["containers"] >= 3, regraded["containers"]
    results = json.loads((grade_out / "results.json").read_text())
    check_results(results)
    assert results["score"] == max_score, lost(results)
    assert "Code graded: proj4_code/" in results["output"]
    board = {e["name"]: e["value"] for e in results["leaderboard"]}
    assert sorted(board) == ["Part 2 SimpleNetFinal test accuracy (%)", "Part 3 MyResNet18 test accuracy (%)",
                             "Part 4 MultilabelResNet18 test accuracy (%)"]
    assert board["Part 2 SimpleNetFinal test accuracy (%)"] > 55
    measurements = json.loads((grade_out / "measurements.json").read_text())
    assert measurements["seconds"] < measurements["deadline_s"] and measurements["steps"]
    assert "uid" in measurements["sandbox"] and "no account" in measurements["sandbox"]
    for path in (grade_out, *grade_out.iterdir()):
        assert path.stat().st_mode & 0o077 == 0, path
    assert "total" in said
    logs = [said] + [p.read_text() for p in (regraded["out"] / "logs").glob("*.log")]
    assert not [text for text in logs if "cannot import the grading packages" in text]


# -- the regrade's bookkeeping, without containers ------------------------------------------------------------

CONFIG = {"student_files": ["simple_net.py", "dl_utils.py"], "checkpoints": ["trained_SimpleNet_final.pt"],
          "max_source_bytes": 10_000, "max_checkpoint_bytes": 10_000, "max_submission_bytes": 50_000}


class StubGrader:
    """Gives each submission what a grading gave: results, or none (the container's clock ran out)."""

    def __init__(self, outcomes):
        self.outcomes = outcomes

    def grade(self, files: Path, out: Path, env=None) -> Graded:
        text = (files / "proj4_code" / "dl_utils.py").read_text()
        return self.outcomes[text]


def test_a_grading_past_its_time_costs_its_row_only(tmp_path):
    """One submission's grading gives no results (its container ran past --timeout): its row says why, the
    summary lists it under the submissions that did not grade, the other's row is whole, and a changed
    grade against an export with totals only says that only the total is known."""
    tests = [{"name": "compute_accuracy", "number": "1.1", "score": 0.0, "max_score": 2.0, "status": "failed",
              "visibility": "visible", "output": "Your code raised an error in the grader's dl_utils probe:\n"
                                                 "NotImplementedError: compute_accuracy is not written yet"},
             {"name": "get_optimizer: SGD", "number": "1.2", "score": 1.0, "max_score": 1.0, "status": "passed",
              "visibility": "visible", "output": ""}]
    graded = Graded({"score": 1.0, "tests": tests, "output": ""}, {}, "", 3.0)
    hung = Graded(None, {}, "", 20.0, True, "the grading did not finish in 20 s")
    files, entries = {}, {}
    for number, text in (("1", "x = 1\n"), ("2", "while True:\n    pass\n")):
        folder = tmp_path / "files" / f"submission_{number}" / "proj4_code"
        folder.mkdir(parents=True)
        (folder / "dl_utils.py").write_text(text)
        files[f"submission_{number}"] = folder.parent
        entries[f"submission_{number}"] = gradescope_export.metadata_entry(
            [Submitter(f"Student {number}", number, f"s{number}@example.edu")], "2026-11-20 10:00:00 -0500", 0.0, {})
    export = gradescope_export.Export(gradescope_export.write_export(tmp_path / "export", entries, files))
    out = tmp_path / "out"
    run = regrade.Regrade(export, StubGrader({"x = 1\n": graded, "while True:\n    pass\n": hung}), out, CONFIG, 1)
    assert run.run(force=False, progress=False) == 2
    found = regrade.write_report(run.rows(), out, [], 3.0, 1.0, 1)
    assert found == []
    grades = {row["submission_id"]: row for row in rows(out / "grades.csv")}
    assert grades["submission_1"]["new_score"] == "1.0" and grades["submission_1"]["error"] == ""
    assert grades["submission_2"]["new_score"] == "" and "did not finish in 20 s" in grades["submission_2"]["error"]
    assert [r["submission_id"] for r in rows(out / "changed_grades.csv")] == ["submission_1"]
    assert rows(out / "changed_grades.csv")[0]["checks_that_differ"] == course_report.ONLY_TOTAL
    page = (out / "summary.html").read_text()
    assert "submission_2 (Student 2): the grading did not finish in 20 s" in page
    assert "NotImplementedError: compute_accuracy is not written yet" in page  # the error's own words
    assert course_report.normalise_message(tests[0]["output"]).startswith(
        "Your code raised an error in the grader's dl_utils probe: NotImplementedError")
    assert run.run(force=False, progress=False) == 1  # resumable: only the one without results again
