"""`proj4-instructor grade` on a fresh machine: the sandbox user it needs is created, a Python the
user cannot run stops it with what to change, and without root it grades only when told there is
no sandbox."""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from proj4_instructor import autograder_build, grade, graders
from submissions import REPO_ROOT, graded, lost, write_zip

pytestmark = pytest.mark.slow


@pytest.fixture
def max_score_of():
    return lambda source: json.loads((Path(source) / "grader" / "manifest.json").read_text())["max_score"]


@pytest.fixture
def fresh_user_base(monkeypatch):
    """A sandbox user name no machine has yet; deleted again after the test."""
    base = f"p4f{uuid.uuid4().hex[:8]}"
    assert not graders.user_exists(base)
    monkeypatch.setattr(graders, "SANDBOX_USER", base)
    yield base
    subprocess.run(["userdel", base], capture_output=True)


def test_grade_creates_the_sandbox_user_it_needs(fresh_user_base, passable_python, grading_source, max_score_of,
                                                 reference_checkpoints, tmp_path, capsys):
    autograder = tmp_path / "autograder.zip"
    autograder_build.zip_folder(grading_source, autograder)
    sub = write_zip(tmp_path / "reference.zip", checkpoints=reference_checkpoints)
    out = tmp_path / "results.json"
    assert grade.main([str(sub), "--autograder", str(autograder), "--results", str(out)]) == 0
    assert f"created the sandbox user {fresh_user_base!r}" in capsys.readouterr().err
    assert graders.user_exists(fresh_user_base)
    results = json.loads(out.read_text())
    assert graded(results) == max_score_of(grading_source), lost(results)


@pytest.fixture
def private_folder():
    """A folder other users cannot enter (mkdtemp makes it 0700), under one they can."""
    folder = Path(tempfile.mkdtemp(prefix="proj4-private-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_python_the_sandbox_user_cannot_run_stops_grading(passable_python, sandbox_users, private_folder, tmp_path):
    private = private_folder
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(private / "venv")],
                   check=True)
    python = private / "venv" / "bin" / "python"
    with pytest.raises(graders.GradingSetupError) as err:
        graders.check_python(sandbox_users[0], str(python))
    assert str(private) in str(err.value) and "chmod o+x" in str(err.value)
    done = subprocess.run([str(python), "-m", "proj4_instructor.cli", "grade", str(tmp_path / "missing.zip")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 2 and "missing.zip does not exist" in done.stderr
    (tmp_path / "sub.zip").write_bytes(b"")
    done = subprocess.run([str(python), "-m", "proj4_instructor.cli", "grade", str(tmp_path / "sub.zip")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 2 and "cannot run the grading Python" in done.stderr and str(private) in done.stderr


def test_without_root_grading_needs_an_explicit_no_sandbox(passable_python, private_folder):
    nobody = pwd.getpwnam("nobody")
    os.chmod(private_folder, 0o755)
    (private_folder / "sub.zip").write_bytes(b"")
    done = subprocess.run([sys.executable, "-m", "proj4_instructor.cli", "grade", str(private_folder / "sub.zip")],
                          capture_output=True, text=True, user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[],
                          cwd="/", env={"PATH": os.defpath, "PYTHONPATH": str(REPO_ROOT), "HOME": str(private_folder)})
    assert done.returncode == 2
    assert "--no-sandbox" in done.stderr and "NO isolation" in done.stderr
