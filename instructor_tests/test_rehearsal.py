"""The rehearsal's checks (fast), and the rehearsal itself (slow: PROJ4_REHEARSAL=1, as root).

The full rehearsal builds a Debian root, runs setup.sh in it and grades three submissions: about
6-7 minutes with a cached root (see BENCHMARKS.md), so it runs only when asked (CI does).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proj4_instructor import debian_root, gradescope_schema, rehearse

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
    assert debian_root.apt_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("# deb http://old.example/debian bookworm main\n"
                                           "deb [arch=amd64] http://one.example/debian bookworm main\n")
    assert debian_root.apt_mirror(tmp_path) == "http://one.example/debian"


def test_no_debian_mirror_is_an_error(tmp_path):
    (tmp_path / "sources.list").write_text("deb https://packages.example/apt stable main\n")
    with pytest.raises(debian_root.RehearsalError, match="pass --mirror"):
        debian_root.apt_mirror(tmp_path)


def test_pip_settings_become_variables_and_read_only_binds(tmp_path):
    index, wheels, cert = tmp_path / "pypi" / "simple", tmp_path / "wheels", tmp_path / "ca.crt"
    index.mkdir(parents=True)
    wheels.mkdir()
    cert.write_text("x")
    env, binds = debian_root.pip_environment({"extra-index-url": f"file://{index} https://example.org/simple",
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


def graded(score, max_score=2.0):
    results = {"score": score, "tests": [{"name": "t", "score": score, "max_score": max_score}]}
    return rehearse.Graded("x", results, "", [], 1.0, None, None, None)


def test_full_marks_and_zero_are_checked():
    assert rehearse.check_results(graded(2.0), expect_full=True) == []
    assert rehearse.check_results(graded(1.0), expect_full=True) == ["x: score 1.0 of 2, full marks expected"]
    assert rehearse.check_results(graded(0.0), expect_full=False) == []
    assert rehearse.check_results(graded(1.0), expect_full=False) == ["x: score 1.0 of 2, 0 expected"]


def test_gnu_time_report_is_read():
    text = "\tMaximum resident set size (kbytes): 812345\n\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.3\n"
    assert rehearse.gnu_time_field(text, "Maximum resident set size (kbytes)") == 812345


@pytest.mark.rehearsal
@pytest.mark.skipif(os.environ.get("PROJ4_REHEARSAL") != "1", reason="the full rehearsal (~7 min, root): "
                    "PROJ4_REHEARSAL=1 python -m pytest instructor_tests/test_rehearsal.py -m rehearsal")
def test_rehearsal_in_a_clean_debian_root():
    assert os.geteuid() == 0, "the rehearsal needs root"
    assert rehearse.main([]) == 0


def test_host_system_ids_are_reserved_in_the_root(tmp_path):
    host, root = tmp_path / "host", tmp_path / "root" / "etc"
    host.mkdir()
    root.mkdir(parents=True)
    (host / "passwd").write_text("root:x:0:0::/root:/bin/bash\nproj4grader:x:999:995::/h:/bin/false\n")
    (host / "group").write_text("root:x:0:\nproj4grader:x:995:\n")
    (root / "passwd").write_text("root:x:0:0::/root:/bin/bash\n")
    (root / "group").write_text("root:x:0:\n")
    debian_root.reserve_host_ids(root.parent, host)
    assert debian_root.ids_in(root / "passwd") == {0, 999}
    assert debian_root.ids_in(root / "group") == {0, 995}


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


def test_memory_goal_is_checked_per_process():
    graded = rehearse.Graded("reference", {}, "", [], 1.0, None, None, None, (600.0, 700.0, 640.0))
    assert rehearse.check_memory(graded, 650) == [
        "reference: the answers process peaked at 700 MB, over the 650 MB goal"]
    assert rehearse.check_memory(rehearse.Graded("x", {}, "", [], 1.0, None, None, None), 650) == [
        "x: the runner printed no per-step peak"]
