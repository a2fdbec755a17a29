"""`proj4-instructor grade` as a TA runs it: in a container by default, with no engine a clear way out,
and `--unsafe-local` only with a warning that names what the student's code can read."""
import json

import pytest
from submissions import check_results, write_zip

from proj4_instructor import base_images, containers, grade

pytestmark = pytest.mark.slow


def test_without_an_engine_the_command_says_how_to_install_one(release_zip, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither podman nor docker
    sub = write_zip(tmp_path / "s.zip")
    assert grade.main([str(sub), "--autograder", str(release_zip)]) == 2
    err = capsys.readouterr().err
    assert "no working container engine" in err and "apt-get install podman" in err and "--unsafe-local" in err


def test_an_unknown_base_image_needs_its_python(release_zip, tmp_path, engine, capsys):
    sub = write_zip(tmp_path / "s.zip")
    assert grade.main([str(sub), "--base-image", "example.org/unknown:1"]) == 2
    assert "pass --python" in capsys.readouterr().err


# The reference through `grade` in a container (full marks, leaderboard, measurements, the TA-only --out):
# test_regrade.py::test_a_grade_beside_a_regrade_gives_its_own_correct_result, the same command beside a regrade.


def test_unsafe_local_grades_here_and_says_what_the_code_can_read(release_zip, starter, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUTOGRADER_PUBLIC_TIMEOUT", "0")
    sub = write_zip(tmp_path / "starter.zip", starter)
    out = tmp_path / "out"
    assert grade.main([str(sub), "--autograder", str(release_zip), "--unsafe-local", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "--unsafe-local" in err and "no container and no sandbox" in err
    assert "the reference solution" in err and "home folder" in err and "network" in err
    results = json.loads((out / "results.json").read_text())
    check_results(results)
    assert results["score"] == 0
    assert "no sandbox" in json.loads((out / "measurements.json").read_text())["sandbox"]


def test_a_runner_that_cannot_start_still_gives_results(release_zip, starter, tmp_path, monkeypatch):
    """run_autograder's own fallback: a Python that cannot start still writes an error results.json."""
    from proj4_instructor import grading

    monkeypatch.setenv("AUTOGRADER_PYTHON", "/nonexistent/python")
    source = grading.unpack_autograder(release_zip, tmp_path / "source")
    one = grading.LocalGrader(source, {"AUTOGRADER_PYTHON": "/nonexistent/python"}).grade(
        write_zip(tmp_path / "s.zip", starter), tmp_path / "out")
    assert one.results["tests"][0]["name"] == "Autograder error" and "exit code" in one.results["tests"][0]["output"]


def test_a_runner_crash_is_an_autograder_error_without_the_graders_paths(release_zip, starter, tmp_path, max_score):
    from proj4_instructor import grading

    source = grading.unpack_autograder(release_zip, tmp_path / "source")
    (source / "grader" / "config.json").write_text("{ not json")
    one = grading.LocalGrader(source).grade(write_zip(tmp_path / "s.zip", starter), tmp_path / "out")
    assert [t["name"] for t in one.results["tests"]] == ["Autograder error"]
    assert "not a grade" in one.results["output"]
    assert str(tmp_path) not in json.dumps(one.results) and "Traceback" not in json.dumps(one.results)


def test_a_grading_past_its_time_costs_its_result_only(grader, starter, tmp_path):
    """The container's own wall clock (a grading whose limits were raised past it, code that loops):
    no results, the container removed."""
    sub = write_zip(tmp_path / "hang.zip", starter, overrides={
        "simple_net.py": "while True:\n    pass\n" + (starter / "simple_net.py").read_text()})
    before = set(grader.engine.run("ps", "--all", "--format", "{{.Names}}").stdout.split())
    endless = {f"AUTOGRADER_{name}": "3600" for name in ("DEADLINE", "TOTAL_TIMEOUT", "PROBE_TIMEOUT")}
    one = grader.one(sub, env=endless, limits=containers.ContainerLimits(cpus=None, memory_mb=None, timeout_s=20))
    assert one.timed_out and one.results is None and "did not finish in 20 s" in one.problem
    after = set(grader.engine.run("ps", "--all", "--format", "{{.Names}}").stdout.split())
    assert not [name for name in after - before if name.startswith("proj4-grade-")]


def test_each_known_base_image_has_its_python():
    from proj4_instructor import grading

    assert grading.BASE_PYTHONS[containers.GRADESCOPE_BASE] == "3.10"
    assert grading.BASE_PYTHONS[base_images.DEBIAN_BASE] == base_images.DEBIAN_PYTHON
