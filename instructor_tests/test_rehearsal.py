"""The rehearsal's checks (fast), and the rehearsal itself: Gradescope's default container (slow).

The rehearsal grades its four submissions in containers of the session's grading image (conftest.py)
at half a CPU and 768 MB, two at a time; its reference and starter gradings are the ones the other
grading tests read (`rehearsal` fixture), so the suite grades them once.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proj4_instructor import base_images, containers, gradescope_schema, rehearse

VALID = {
    "score": 3.0, "execution_time": 12.5, "output": "ok", "visibility": "visible", "stdout_visibility": "hidden",
    "tests": [{"name": "a", "number": "1.1", "score": 3.0, "max_score": 3.0, "status": "passed",
               "visibility": "after_published", "output": ""}],
}


def test_valid_results_have_no_problems():
    assert gradescope_schema.problems(VALID) == []


@pytest.mark.parametrize("change, message", [
    ({"visibility": "public"}, "results.visibility: 'public' is not one of"),
    ({"score": "3"}, "results.score: '3' is not of type"),
    ({"scoer": 1}, "unknown key 'scoer'"),
    ({"tests": [{"name": "a", "max_score": 1, "status": "ok"}]}, "tests[0].status: 'ok' is not one of"),
    ({"tests": [{"name": "a", "max_score": True}]}, "tests[0].max_score: True is not of type"),
])
def test_invalid_results_are_named(change, message):
    assert any(message in p for p in gradescope_schema.problems({**VALID, **change}))


def test_a_test_without_any_score_is_a_problem():
    results = {"tests": [{"name": "a", "max_score": 1}]}
    assert gradescope_schema.problems(results) == ["tests[0]: no score, and results.json has no top-level score"]


def test_apt_mirror_reads_deb822_and_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n")
    assert base_images.apt_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("# deb http://old.example/debian bookworm main\n"
                                           "deb [arch=amd64] http://one.example/debian bookworm main\n")
    assert base_images.apt_mirror(tmp_path) == "http://one.example/debian"


def test_no_debian_mirror_falls_back_to_debians_own(tmp_path):
    (tmp_path / "sources.list").write_text("deb https://packages.example/apt stable main\n")
    assert base_images.apt_mirror(tmp_path) == "http://deb.debian.org/debian"


def test_pip_settings_become_variables_and_read_only_binds(tmp_path):
    index, wheels, cert = tmp_path / "pypi" / "simple", tmp_path / "wheels", tmp_path / "ca.crt"
    index.mkdir(parents=True)
    wheels.mkdir()
    cert.write_text("x")
    env, binds = base_images.pip_build_settings({"extra-index-url": f"file://{index} https://example.org/simple",
                                           "find-links": str(wheels), "cert": str(cert), "timeout": "60"})
    inside_cert = Path("/run/host-pip") / cert.relative_to("/")
    assert env == {"PIP_EXTRA_INDEX_URL": f"file://{index} https://example.org/simple", "PIP_FIND_LINKS": str(wheels),
                   "PIP_CERT": str(inside_cert), "PIP_TIMEOUT": "60"}
    assert dict(binds) == {index.parent: index.parent, wheels: wheels, cert: inside_cert}


def test_the_spy_reports_one_parseable_line(tmp_path):
    module = tmp_path / "spied.py"
    module.write_text("VALUE = 1\n" + rehearse.SPY_CODE)
    done = subprocess.run([sys.executable, "-c", "import spied, spied"], cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    reports = rehearse.spy_reports(done.stdout)
    assert len(reports) == 1 and reports[0]["uid"] == os.getuid()
    assert set(reports[0]) == {"uid", "euid", "readable", "refused", "folders"}


def report(**change):
    return {"uid": 1000, "euid": 1000, "readable": {}, "refused": 3,
            "folders": {"/autograder/source": "PermissionError", "/autograder/results": "PermissionError"}, **change}


def test_a_confined_spy_is_no_breach():
    assert rehearse.sandbox_breaches([report(readable={"/autograder/work/proj4_code/x.py": "aa"})], {"bb": "x"}) == []


@pytest.mark.parametrize("spy, breach", [
    (report(uid=0), "student code ran as root"),
    (report(folders={"/autograder/source": "listed 3 entries"}), "listed /autograder/source"),
    (report(readable={"/autograder/results/results.json": "aa"}), "read /autograder/results/results.json"),
    (report(readable={"/autograder/work/t.py": "bb"}), "a copy of the source's grader/expected.json"),
])
def test_breaches_are_named(spy, breach):
    assert any(breach in b for b in rehearse.sandbox_breaches([spy], {"bb": "grader/expected.json"}))


def test_a_spy_that_never_ran_fails_the_proof():
    assert rehearse.sandbox_breaches([], {}) == [
        "the spy never ran: no PROJ4-SPY line in the log, no report in /tmp/proj4-spy"]


def rehearsed(score=0.0, max_score=2.0, steps=()):
    results = {"score": score, "tests": [{"name": "t", "score": score, "max_score": max_score}]}
    measurements = {"steps": [{"step": name, "peak_rss_mb": peak} for name, peak in steps]}
    return rehearse.Rehearsed("x", containers.Graded(results, measurements, "", 1.0), [])


def test_full_marks_and_zero_are_checked():
    assert rehearse.check_results(rehearsed(2.0), expect_full=True) == []
    assert rehearse.check_results(rehearsed(1.0), expect_full=True) == ["x: score 1.0 of 2, full marks expected"]
    assert rehearse.check_results(rehearsed(0.0), expect_full=False) == []
    assert rehearse.check_results(rehearsed(1.0), expect_full=False) == ["x: score 1.0 of 2, 0 expected"]


def test_memory_goal_is_checked_per_process_from_the_measurements():
    steps = (("trusted (run 1)", 600.0), ("answers (run 1)", 640.0), ("answers (run 2)", 700.0),
             ("public tests (group 1)", 500.0))
    assert rehearsed(steps=steps).step_peaks() == {"trusted": 600.0, "answers": 700.0, "public tests": 500.0}
    assert rehearse.check_memory(rehearsed(steps=steps), 650) == [
        "x: the answers process peaked at 700 MB, over the 650 MB goal"]
    assert rehearse.check_memory(rehearsed(), 650) == ["x: the runner wrote no measurements"]


@pytest.mark.slow
def test_rehearsal_in_gradescopes_default_container(rehearsal):
    """Reference 141 (full marks), starter 0, the spy unprivileged and blind to the grader's files, the
    submission at the rules' limits graded; every process under 650 MB at 768 MB and half a CPU."""
    rows, problems = rehearsal
    assert problems == [], problems
    by = {r.name: r for r in rows}
    assert by["reference"].results["score"] == by["reference"].max_score > 0
    assert by["starter"].results["score"] == 0
    assert by["spy"].spies and all(report["uid"] >= containers.SANDBOX_UIDS[0] for report in by["spy"].spies)
    for r in rows:
        assert r.graded.measurements["seconds"] < r.graded.measurements["deadline_s"]
        assert 0 < max(r.step_peaks().values()) < rehearse.PEAK_GOAL_MB
        cgroup = r.graded.measurements["cgroup_peak_mb"]
        assert cgroup is None or cgroup <= rehearse.GRADESCOPE_MEMORY_MB
    print(rehearse.summary(rows, 0.0, rehearse.machine_description(0.5, 768)))


def test_the_rehearse_command_without_an_engine_says_how_to_install_one(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert rehearse.main(["--work-dir", str(tmp_path)]) == 1
    assert "install Podman or Docker" in capsys.readouterr().err


def test_the_torchvision_stand_in_is_patched_as_documented(tmp_path):
    """On a tiny wheel laid out as torchvision 0.28.0's: _C.so goes, both register_fake decorators are
    guarded by _has_ops(), the version becomes 0.28.0+standin, and RECORD lists every file's hash."""
    import base64
    import hashlib
    import zipfile

    from proj4_instructor import torch_standin

    meta = ("import torch\nimport torch.library\n\n# Ensure that torch.ops.torchvision is visible\n"
            "import torchvision.extension  # noqa: F401\n\n\n@torch.library.register_fake(\"torchvision::nms\")\n"
            "def meta_nms(dets, scores, iou_threshold):\n    return dets\n\n\n"
            "@torch.library.register_fake(\"torchvision::qnms\")\ndef meta_qnms(dets, scores, iou_threshold):\n"
            "    return dets\n")
    wheel = tmp_path / "torchvision-0.28.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    info = "torchvision-0.28.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("torchvision/_C.so", b"\x7fELF")
        zf.writestr("torchvision/_meta_registrations.py", meta)
        zf.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: torchvision\nVersion: 0.28.0\n")
        zf.writestr(f"{info}/RECORD", "")
    out = torch_standin.patch_torchvision(wheel, tmp_path / "out")
    assert out.name == "torchvision-0.28.0+standin-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        patched = zf.read("torchvision/_meta_registrations.py").decode()
        metadata = zf.read("torchvision-0.28.0+standin.dist-info/METADATA").decode()
        record = zf.read("torchvision-0.28.0+standin.dist-info/RECORD").decode().splitlines()
        data = {n: zf.read(n) for n in names}
    assert "torchvision/_C.so" not in names
    assert "@torch.library.register_fake(" not in patched and patched.count("@_register_fake_if_ops(") == 2
    assert "if torchvision.extension._has_ops():" in patched
    compile(patched, "_meta_registrations.py", "exec")
    assert "Version: 0.28.0+standin" in metadata
    for line in record[:-1]:
        name, digest, size = line.split(",")
        expected = base64.urlsafe_b64encode(hashlib.sha256(data[name]).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}" and int(size) == len(data[name])
