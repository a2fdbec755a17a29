"""The Gradescope autograder, end to end, on honest submissions: zero with words, partial credit, the
layouts students make, failure modes, and the intake's bounds.

Gradings are real ones in containers of the session's grading image (conftest.py), two at a time; the
ones whose public tests say nothing asserted here skip that step (conftest.NO_FEEDBACK). The reference's
full marks are test_grade_command.py's and the rehearsal's; what a dishonest submission can do is
test_attacks.py's.
"""
import io
import os
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import NO_FEEDBACK
from submissions import REFERENCE, by_name, check_results, graded, lost, write_zip
from test_honest_variants import trained_checkpoint, variant_code

from proj4_instructor.autograder.root import intake

pytestmark = pytest.mark.slow
STARTER_SUFFIX = "starter"


def results_of(graded_one) -> dict:
    assert graded_one.results is not None, (graded_one.problem, graded_one.log[-3000:])
    return graded_one.results


# -- zero, in words -------------------------------------------------------------------------------------

def test_starter_scores_zero_with_feedback_in_words(starter_grading):
    results = results_of(starter_grading)
    assert graded(results) == 0
    tests = by_name(results)
    assert "NotImplementedError" in tests["compute_accuracy"]["output"]
    assert "not in the submission" in tests["test-split accuracy of the submitted checkpoint [SimpleNet]"]["output"]
    public = [t for t in results["tests"] if t["number"].startswith("3.")]
    assert public and all(t["max_score"] == 0 for t in public)


def test_the_same_submission_gets_the_same_scores_in_any_container(reference_grading, tmp_path, grader,
                                                                   reference_checkpoints):
    """The rehearsal's reference (half a CPU, 768 MB, its own seed) and another grading of it (no CPU
    limit, another seed, public tests skipped): the same points, check by check."""
    again = results_of(grader.one(write_zip(tmp_path / "reference.zip", checkpoints=reference_checkpoints),
                                  env=NO_FEEDBACK))
    first = {t["name"]: t["score"] for t in results_of(reference_grading)["tests"] if not t["number"].startswith("3.")}
    second = {t["name"]: t["score"] for t in again["tests"] if not t["number"].startswith("3.")}
    assert first == second and sum(second.values()) == again["score"]


# -- partial credit -----------------------------------------------------------------------------------------

def _evaluate_here(weights: dict, data_dir: Path, mean: float, std: float) -> float:
    """SimpleNet's test accuracy computed here, independently of the grader (the reference class)."""
    from torchvision import transforms as T

    from proj4_code.image_loader import ImageLoader
    from proj4_code.simple_net import SimpleNet

    model = SimpleNet()
    model.load_state_dict(weights)
    model.eval()
    transform = T.Compose([T.Resize((64, 64)), T.ToTensor(), T.Normalize([mean], [std])])
    loader = torch.utils.data.DataLoader(ImageLoader(str(data_dir), "test", transform), batch_size=100)
    right = total = 0
    with torch.no_grad():
        for x, y in loader:
            right += int((model(x).argmax(1) == y).sum())
            total += len(y)
    return right / total


def weaker_simple_net(reference_checkpoints, config) -> tuple:
    """The reference SimpleNet checkpoint with deterministic noise on its weights until its accuracy lies
    between the floor and the threshold: (bytes, accuracy computed here)."""
    part = next(p for p in config["parts"] if p["class_name"] == "SimpleNet")
    checkpoint = torch.load(io.BytesIO(reference_checkpoints[part["checkpoint"]]), weights_only=True)
    generator = torch.Generator().manual_seed(0)
    for scale in (0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        state = {k: v + scale * torch.randn(v.shape, generator=generator) * v.std() for k, v in
                 checkpoint["state_dict"].items()}
        accuracy = _evaluate_here(state, REFERENCE.parent / "data", config["pixel_mean"], config["pixel_std"])
        if part["floor"] + 0.02 < accuracy < part["threshold"] - 0.02:
            buffer = io.BytesIO()
            torch.save({**checkpoint, "state_dict": state}, buffer)
            return buffer.getvalue(), accuracy, part
    pytest.fail("no noise level put SimpleNet between the floor and the threshold")


@pytest.fixture(scope="module")
def gradings(grader, config, reference_checkpoints, starter, another_final, tmp_path_factory) -> dict:
    """{name: Graded} of this module's submissions, graded together (two at a time)."""
    tmp = tmp_path_factory.mktemp("autograder-tests")
    data, accuracy, part = weaker_simple_net(reference_checkpoints, config)
    overrides = {name: (REFERENCE / name).read_text() for name in ("simple_net.py", "dl_utils.py")}
    checkpoint = another_final
    submissions = {
        "partial": write_zip(tmp / "partial.zip", starter, overrides=overrides, checkpoints={part["checkpoint"]: data}),
        **layouts(tmp, reference_checkpoints, starter),
        "two_copies": write_zip(tmp / "two.zip", prefix="a/",
                                extra={f"b/proj4_code/{f.name}": f.read_bytes() for f in starter.glob("*.py")}),
        "mismatch": write_zip(tmp / "mismatch.zip",
                              checkpoints={**reference_checkpoints, "trained_SimpleNetFinal_final.pt": checkpoint}),
        "failures": failures_submission(tmp, starter),
    }
    out = grader.many(submissions, NO_FEEDBACK, envs={"failures": {"AUTOGRADER_TOTAL_TIMEOUT": "90",
                                                                   "AUTOGRADER_PROBE_TIMEOUT": "15"}})
    out["_partial"] = (accuracy, part)
    return out


def test_partial_credit(gradings):
    """Only the reference simple_net.py and dl_utils.py, a weaker SimpleNet checkpoint: the checks of those
    modules pass, the others fail, and the accuracy earns its fraction of the points."""
    accuracy, part = gradings["_partial"]
    results = results_of(gradings["partial"])
    tests = by_name(results)
    graded(results)
    for name in ("SimpleNet: forward computes the logits", "SimpleNet: a wrong input shape raises",
                 "compute_accuracy", "compute_multilabel_accuracy", "compute_loss with a mean criterion",
                 "compute_loss with BCELoss", "SimpleNet: the course's figure, 56,895 parameters"):
        assert tests[name]["status"] == "passed", (name, tests[name]["output"])
    for name in ("get_optimizer: SGD", "ImageLoader: length and items", "Trainer: resuming from a checkpoint is exact",
                 "generate_confusion_matrix: counts", "MyResNet18: forward on gray and RGB input"):
        assert tests[name]["score"] == 0, name
    fraction = (accuracy - part["floor"]) / (part["threshold"] - part["floor"])
    test = tests["test-split accuracy of the submitted checkpoint [SimpleNet]"]
    assert test["score"] == pytest.approx(round(fraction * 8, 2), abs=0.011), test["output"]
    assert f"{accuracy:.2%}" in test["output"]


# -- honest layouts --------------------------------------------------------------------------------------

HELPER = '''"""My own helper module."""
import torch


def argmax_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    predicted = torch.argmax(logits, dim=1)
    return (predicted == labels).to(torch.float32).mean().item()
'''


def with_helper(dl_utils: str) -> str:
    """The reference dl_utils.py whose compute_accuracy calls a helper module of the student's."""
    body = "    batch_accuracy = (logits.argmax(dim=1) == labels).float().mean().item()\n"
    assert body in dl_utils
    return dl_utils.replace(body, "    from proj4_code.my_metrics import argmax_accuracy\n"
                                  "    batch_accuracy = argmax_accuracy(logits, labels)\n")


def layouts(tmp: Path, reference_checkpoints: dict, starter: Path) -> dict:
    """A project folder with a helper module beside an old backup copy, and loose files: graded as meant."""
    dl_utils = with_helper((REFERENCE / "dl_utils.py").read_text())
    backup = {f"backup/proj4_code/{f.name}": f.read_bytes() for f in starter.glob("*.py")}
    loose = tmp / "loose"
    loose.mkdir()
    for f in REFERENCE.glob("*.py"):
        (loose / f.name).write_bytes(f.read_bytes())
    for name, data in reference_checkpoints.items():
        (loose / name).write_bytes(data)
    return {"project_helper_and_backup": write_zip(tmp / "a.zip", prefix="proj4/", checkpoints=reference_checkpoints,
                                                   overrides={"dl_utils.py": dl_utils, "my_metrics.py": HELPER},
                                                   extra=backup),
            "loose_files": loose}


def test_honest_layouts_keep_full_marks(gradings, max_score):
    for name in ("project_helper_and_backup", "loose_files"):
        assert graded(results_of(gradings[name])) == max_score, (name, lost(results_of(gradings[name])))
    output = results_of(gradings["project_helper_and_backup"])["output"]
    assert "Code graded: proj4/proj4_code/" in output and "backup/proj4_code/ (another proj4_code/" in output
    assert "proj4_code/my_metrics.py" in output
    assert "Code graded: the top of the submission" in results_of(gradings["loose_files"])["output"]


def test_two_equally_placed_copies_are_refused_naming_both(gradings):
    results = results_of(gradings["two_copies"])
    assert graded(results) == 0
    assert "a/proj4_code/" in results["output"] and "b/proj4_code/" in results["output"]
    assert results["tests"][0]["name"] == "Submission"


@pytest.fixture(scope="module")
def another_final(tmp_path_factory) -> bytes:
    """A SimpleNetFinal checkpoint of another architecture: the honest part2 design's (GroupNorm, PReLU, a
    Residual block), trained once per run and cached by test_honest_variants.trained_checkpoint; that
    module grades the design with its own code at full marks (test_full_marks[part2])."""
    work = tmp_path_factory.mktemp("another")
    return trained_checkpoint(variant_code("part2", work / "part2"), work)


def test_a_class_that_is_not_its_checkpoint_loses_the_accuracy(gradings):
    """Another architecture's checkpoint with the reference class: accuracy needs the class you submit."""
    test = by_name(results_of(gradings["mismatch"]))["test-split accuracy of the submitted checkpoint [SimpleNetFinal]"]
    assert test["score"] == 0 and "does not compute what the grader evaluated" in test["output"]


# -- failure modes ------------------------------------------------------------------------------------

FAILURES = {  # module: what it does when imported (appended to the starter's)
    "simple_net.py": "import sys\nsys.stdout.write('x' * 3_000_000)\nraise RuntimeError('boom at import')\n",
    "stats_helper.py": "import os\nos._exit(3)\n",
    "confusion_matrix.py": "while True:\n    pass\n",
}


def failures_submission(tmp: Path, starter: Path) -> Path:
    """The starter with the reference optimizer.py, and at the end of three other modules an import-time
    error with megabytes of output, an os._exit and an endless loop."""
    overrides = {"optimizer.py": (REFERENCE / "optimizer.py").read_text()}
    overrides.update({name: (starter / name).read_text() + "\n" + code for name, code in FAILURES.items()})
    return write_zip(tmp / "failures.zip", starter, overrides=overrides)


def test_failures_in_student_code_cost_only_their_checks(gradings):
    """Each failure costs the checks of its own module: the optimizer's checks (another module) keep
    their 7 points, and results.json is valid."""
    results = results_of(gradings["failures"])
    check_results(results)
    tests = by_name(results)
    assert sum(t["score"] for t in results["tests"] if t["name"].startswith("get_optimizer")) == 7
    assert "boom at import" in tests["SimpleNet: forward computes the logits"]["output"]
    assert "ended the grader's process" in tests["compute_mean_and_std: random images"]["output"]
    assert "more than 15 s" in tests["generate_confusion_matrix: counts"]["output"]


# -- the intake's bounds (intake.py directly) ------------------------------------------------------------

CONFIG = {"student_files": ["simple_net.py", "dl_utils.py"], "checkpoints": ["trained_SimpleNet_final.pt"],
          "max_source_bytes": 1000, "max_checkpoint_bytes": 10_000, "max_submission_bytes": 50_000}


def take(submission: Path, tmp_path: Path) -> intake.Intake:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return intake.take_submission(submission, work, CONFIG)


def test_intake_refuses_zip_slip_absolute_paths_symlinks_and_bad_names(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    with zipfile.ZipFile(sub / "a.zip", "w") as zf:
        zf.writestr("proj4_code/simple_net.py", "x = 1\n")
        zf.writestr("../../evil.py", "x = 2\n")
        zf.writestr("/abs/evil.py", "x = 3\n")
        link = zipfile.ZipInfo("proj4_code/link.py")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    raw = (sub / "a.zip").read_bytes()
    # One member whose name claims UTF-8 (flag 0x800) but holds invalid bytes.
    with zipfile.ZipFile(sub / "b.zip", "w") as zf:
        zf.writestr("proj4_code/dl_utils.py", "y = 1\n")
    data = bytearray((sub / "b.zip").read_bytes())
    name = b"proj4_code/dl_utils.py"
    for at in range(len(data)):
        if data[at:at + len(name)] == name:
            data[at:at + 2] = b"\xff\xfe"
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = data.find(sig)
        flag = at + (6 if sig == b"PK\x03\x04" else 8)
        data[flag:flag + 2] = struct.pack("<H", struct.unpack("<H", data[flag:flag + 2])[0] | 0x800)
    (sub / "b.zip").write_bytes(bytes(data))
    (sub / "link.py").symlink_to("/etc/passwd")
    taken = take(sub, tmp_path)
    refused = "\n".join(taken.refused)
    assert "proj4_code/simple_net.py" in taken.accepted and raw
    assert "zip-slip" in refused and "symbolic link" in refused
    assert "b.zip" in refused or all("dl_utils" not in k for k in taken.accepted)


def test_intake_is_bounded_before_anything_is_read(tmp_path):
    """A zip declaring 300,000 members is refused from its end record; a folder 1,100 levels deep is
    refused without recursion; an oversized file is refused."""
    sub = tmp_path / "sub"
    sub.mkdir()
    with zipfile.ZipFile(sub / "many.zip", "w") as zf:
        zf.writestr("proj4_code/simple_net.py", "x = 1\n")
    data = bytearray((sub / "many.zip").read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = struct.pack("<HH", 0xFFFF, 0xFFFF)  # "65,535 entries": ZIP64 claims more
    zip64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, 300_000, 300_000, 0, 0)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
    (sub / "many.zip").write_bytes(bytes(data[:end]) + zip64 + locator + bytes(data[end:]))
    with pytest.raises(intake.Refused, match="more than 50,000"):
        take(sub, tmp_path)
    (sub / "many.zip").unlink()
    deep = sub
    for _ in range(1100):
        deep = deep / "d"
        os.mkdir(deep)
    (sub / "proj4_code").mkdir()
    (sub / "proj4_code" / "simple_net.py").write_text("x" * 2000)
    (sub / "proj4_code" / "dl_utils.py").write_text("y = 1\n")
    try:
        taken = take(sub, tmp_path)
    finally:  # pytest's own clean-up of old temporary folders recurses, and would fail on this tree
        subprocess.run(["rm", "-rf", str(sub / "d")], check=True)
    assert "proj4_code/dl_utils.py" in taken.accepted
    assert any("more than 24 folders deep" in r for r in taken.refused)
    assert any("simple_net.py" in r and "allowed" in r for r in taken.refused)
