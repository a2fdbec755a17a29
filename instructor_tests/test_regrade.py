"""`proj4-instructor regrade` on a realistic Gradescope export, built here from real gradings.

The export (Gradescope's layout: submission_metadata.yml and submission_<id>/ folders) holds 12
submissions: the reference, the starter, two partial solutions, three realistic bugs, a copied
pair (a student's own implementation, and a copy of it with renamed names and new comments), a
group of two, code that crashes its process and code that hangs. Its recorded scores and results come from grading
them with an earlier version of the autograder, whose only difference is SimpleNet's threshold
(0.60 instead of the registry's): so the regrade must list exactly the submissions whose SimpleNet
accuracy credit moves, keep every other check's score, and flag the copied pair.
"""
import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from proj4_instructor import gradescope_export, regrade
from proj4_instructor.gradescope_export import Submitter
from submissions import REFERENCE, check_results, write_zip

pytestmark = pytest.mark.slow
OLD_THRESHOLD = 0.60


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


TIMEOUTS = {"AUTOGRADER_TOTAL_TIMEOUT": "100", "AUTOGRADER_PUBLIC_TIMEOUT": "30", "AUTOGRADER_PROBE_TIMEOUT": "20"}


def files_of(zip_path: Path, dest: Path) -> Path:
    """What Gradescope keeps of an uploaded zip: its files, unpacked."""
    dest.mkdir(parents=True)
    subprocess.run(["unzip", "-q", str(zip_path), "-d", str(dest)], check=True)
    return dest


@pytest.fixture(scope="module")
def export(grading_source, reference_checkpoints, tmp_path_factory):
    """(export folder, the recorded results per submission): graded by the 'earlier' autograder."""
    tmp = tmp_path_factory.mktemp("export")
    starter = grading_source / "starter" / "proj4_code"
    mine = lambda n: own(reference_checkpoints, n)  # noqa: E731
    simple = lambda n: {k: v for k, v in mine(n).items() if "SimpleNet_" in k}  # noqa: E731
    copied_checkpoints = mine(8)
    original = heidi()
    copied = {name: renamed(text) for name, text in original.items()}
    plan = {  # id: (submitters, zip or folder maker)
        "101": (["Ada Lovelace"], lambda p: write_zip(p, checkpoints=mine(1))),
        "102": (["Bob Stub"], lambda p: write_zip(p, starter)),
        "103": (["Carol Part"], lambda p: write_zip(p, starter, overrides={
            n: (REFERENCE / n).read_text() for n in ("simple_net.py", "dl_utils.py", "image_loader.py")},
            checkpoints=simple(3))),
        "104": (["Dan Half"], lambda p: write_zip(p, starter, overrides={
            n: (REFERENCE / n).read_text() for n in ("data_transforms.py", "optimizer.py", "stats_helper.py")})),
        "105": (["Eve Sum"], lambda p: write_zip(p, checkpoints=mine(5), overrides=mutate(
            "dl_utils.py", "(logits.argmax(dim=1) == labels).float().mean().item()",
            "(logits.argmax(dim=1) == labels).float().sum().item()"))),
        "106": (["Frank Thaw"], lambda p: write_zip(p, checkpoints=mine(6), overrides=mutate(
            "my_resnet.py", "param.requires_grad = False", "param.requires_grad = True"))),
        "107": (["Grace Decay"], lambda p: write_zip(p, checkpoints=mine(7), overrides=mutate(
            "optimizer.py", "torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)", "torch.optim.Adam(params, lr=lr)"))),
        "108": (["Heidi Orig"], lambda p: write_zip(p, checkpoints=copied_checkpoints, overrides=original)),
        "109": (["Ivan Copy"], lambda p: write_zip(p, checkpoints=copied_checkpoints, overrides=copied)),
        "110": (["Judy Group", "Mallory Group"], lambda p: write_zip(p, checkpoints=simple(10))),
        "111": (["Oscar Crash"], lambda p: write_zip(p, starter, overrides={
            "optimizer.py": (REFERENCE / "optimizer.py").read_text(),
            "simple_net.py": "import ctypes\nctypes.string_at(0)\n" + (starter / "simple_net.py").read_text()})),
        "112": (["Peggy Hang"], lambda p: write_zip(p, starter, overrides={
            "stats_helper.py": (REFERENCE / "stats_helper.py").read_text(),
            "simple_net.py": "while True:\n    pass\n" + (starter / "simple_net.py").read_text()})),
    }
    files, entries = {}, {}
    for number, (names, make) in plan.items():
        key = f"submission_{number}"
        files[key] = files_of(make(tmp / f"{number}.zip"), tmp / "files" / key)
        people = [Submitter(n, f"9{number}{i}", f"{n.split()[0].lower()}@example.edu") for i, n in enumerate(names)]
        entries[key] = gradescope_export.metadata_entry(people, f"2026-11-2{number[-1]} 10:00:00 -0500", 0.0, {})
    folder = gradescope_export.write_export(tmp / "assignment_4_export", entries, files)
    earlier = tmp / "earlier_autograder"
    shutil.copytree(grading_source, earlier, symlinks=True)
    config = json.loads((earlier / "grader" / "config.json").read_text())
    for part in config["parts"]:
        if part["class_name"] == "SimpleNet":
            part["threshold"], part["floor"] = OLD_THRESHOLD, OLD_THRESHOLD - 0.15
    (earlier / "grader" / "config.json").write_text(json.dumps(config))
    graded = tmp / "earlier_run"
    saved = {k: os.environ.get(k) for k in TIMEOUTS}
    os.environ.update(TIMEOUTS)
    try:
        assert regrade.main([str(folder), "--out", str(graded), "--jobs", "2", "--no-progress"], source=earlier) == 0
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    for key in entries:
        results = json.loads((graded / "results" / f"{key}.json").read_text())
        entries[key][":score"], entries[key][":results"] = results["score"], results
        entries[key][":history"][0][":score"] = results["score"]
    return gradescope_export.write_export(tmp / "assignment_4_export", entries, {}), entries


def rows(path: Path) -> list:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_regrade_of_an_export(export, grading_source, tmp_path, monkeypatch):
    folder, recorded = export
    for key, value in TIMEOUTS.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "regrade"
    assert regrade.main([str(folder), "--out", str(out), "--jobs", "2", "--no-progress"], source=grading_source) == 0
    grades = {row["submission_id"]: row for row in rows(out / "grades.csv")}
    assert sorted(grades) == sorted(recorded)
    for key, row in grades.items():
        results = json.loads((out / "results" / f"{key}.json").read_text())
        check_results(results)
        assert float(row["new_score"]) == results["score"]
        assert float(row["gradescope_score"]) == recorded[key][":score"]
    # Groups: both submitters on the row.
    assert grades["submission_110"]["names"] == "Judy Group; Mallory Group"
    assert grades["submission_110"]["sids"] == "91100; 91101"
    # Two workers give what the earlier run gave, check by check, but for SimpleNet's accuracy.
    simple = "test-split accuracy of the submitted checkpoint [SimpleNet]"
    for key, row in grades.items():
        before = {t["name"]: t["score"] for t in recorded[key][":results"]["tests"]}
        for name, value in row.items():
            if name in before and name != simple:
                assert float(value) == before[name], (key, name)
    # The changed grades: exactly those whose SimpleNet credit moved with the threshold.
    moved = {key for key, row in grades.items()
             if abs(float(row[simple]) - next(t["score"] for t in recorded[key][":results"]["tests"]
                                              if t["name"] == simple)) > 0.005}
    assert moved and {r["submission_id"] for r in rows(out / "changed_grades.csv")} == moved
    assert {key for key, row in grades.items() if row["changed"] == "yes"} == moved
    # Realistic outcomes.
    scores = {key: float(row["new_score"]) for key, row in grades.items()}
    assert scores["submission_101"] == 141 and scores["submission_102"] == 0
    assert float(grades["submission_105"]["compute_accuracy"]) == 0
    assert float(grades["submission_106"]["MyResNet18 (resnet18): the frozen backbone stays frozen"]) == 0
    assert float(grades["submission_107"]["get_optimizer: Adam"]) == 0
    assert float(grades["submission_111"]["get_optimizer: SGD"]) == 1  # a crash costs only its own module
    assert float(grades["submission_112"]["compute_mean_and_std: random images"]) == 2  # so does a hang
    # Flags: the copied pair (identical checkpoints, near-identical code), and nobody else's own work.
    flags = rows(out / "flags.csv")
    pair = [f for f in flags if {f["a"], f["b"]} == {"submission_108", "submission_109"}]
    assert {f["kind"] for f in pair} >= {"identical checkpoint", "near-identical code"}, flags
    assert any("confusion_matrix.py" in f["evidence"] and "optimizer.py" in f["evidence"]
               for f in pair if f["kind"] == "near-identical code")
    assert flags == pair, flags  # code that is the starter's or the reference's is nobody's evidence
    page = (out / "summary.html").read_text()
    for text in ("Grades that change", "Flags for review", "Pass rate per check", "data:image/png;base64,",
                 "submission_109"):
        assert text in page
    # A second run is a no-op: nothing regraded, the same CSV.
    before = (out / "grades.csv").read_text()
    assert regrade.main([str(folder), "--out", str(out), "--jobs", "2", "--no-progress"], source=grading_source) == 0
    assert (out / "grades.csv").read_text() == before


def test_a_grading_past_its_time_costs_its_row_only(grading_source, sandbox_users, tmp_path):
    from proj4_instructor import graders

    starter = grading_source / "starter" / "proj4_code"
    sub = write_zip(tmp_path / "hang.zip", starter, overrides={
        "simple_net.py": "while True:\n    pass\n" + (starter / "simple_net.py").read_text()})
    with graders.Grader(grading_source, sandbox_users) as grader:
        with pytest.raises(graders.GradingTimeout):
            grader.grade(sub, worker=1, timeout=20)
    assert graders.sandbox.processes_of(__import__("pwd").getpwnam(sandbox_users[1]).pw_uid) == []
