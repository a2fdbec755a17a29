"""The runner's own bounds, on its functions directly: removal in-process and within a deadline, the
results.json reserved before a disk fills, the grading's clock, the limits written once."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from proj4_instructor.autograder.root import protocol, runner, sandbox


def tree(root: Path, depth: int, files_per_level: int = 2) -> int:
    """A folder chain `depth` deep with a few files at each level; returns the entries made."""
    made, here = 0, root
    for _ in range(depth):
        here = here / "d"
        here.mkdir(parents=True)
        for i in range(files_per_level):
            (here / f"f{i}").write_bytes(b"x")
        os.symlink("/etc/passwd", here / "link")  # removed as a link, never followed
        made += files_per_level + 2
    return made


def test_removal_is_in_process_iterative_and_follows_no_link(tmp_path, monkeypatch):
    def no_process(*args, **kwargs):
        raise AssertionError("removal started a process")

    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    made = tree(tmp_path / "t", 1500)  # deeper than Python's recursion limit
    done = sandbox.remove(tmp_path / "t")
    assert not (tmp_path / "t").exists() and done.left == 0 and done.removed == made + 1
    assert Path("/etc/passwd").is_file()


def test_removal_stops_at_its_deadline_and_says_what_is_left(tmp_path):
    for i in range(300):
        (tmp_path / "flood").mkdir(exist_ok=True)
        (tmp_path / "flood" / str(i)).write_bytes(b"")
    done = sandbox.remove(tmp_path / "flood", deadline=time.monotonic() - 1)
    assert done.removed == 0 and done.left >= 1
    assert "left" in done.note("its step folder")[0]
    done = sandbox.remove(tmp_path / "flood")
    assert done.left == 0 and not (tmp_path / "flood").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_shared_folders_are_cleaned_of_one_uid_only(tmp_path):
    uid = 250_123
    shared = Path("/tmp") / f"proj4-test-shared-{os.getpid()}"
    shared.mkdir(mode=0o1777)
    os.chmod(shared, 0o1777)
    try:
        mine = shared / "theirs"
        mine.mkdir()
        for i in range(50):
            (mine / str(i)).write_bytes(b"x")
        for path in (mine, *mine.iterdir()):
            os.lchown(path, uid, uid)
        (shared / "someone-elses").write_bytes(b"keep")
        done = sandbox.clean_shared_dirs(uid, time.monotonic() + 30)
        assert not mine.exists() and (shared / "someone-elses").is_file()
        assert done.removed >= 51 and done.left == 0
    finally:
        sandbox.remove(shared)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_results_json_is_written_even_on_a_full_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], check=True)
    try:
        results_path = disk / "results" / "results.json"
        runner.reserve(results_path, 141.0)
        with pytest.raises(OSError):  # the rest of the disk, filled
            with open(disk / "fill", "wb") as f:
                while True:
                    f.write(b"\0" * 65536)
        big = {"score": 1.0, "output": "y" * 400_000, "tests": [{"name": "t", "score": 1.0, "max_score": 1.0,
                                                                "status": "passed", "output": "z" * 300_000}]}
        runner.write_results(results_path, big)
        assert json.loads(results_path.read_text())["score"] == 1.0
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_the_clock_cuts_every_step_to_what_is_left_of_the_deadline():
    clock = runner.Clock(time.monotonic() - 100, deadline=130, reserve=15, cleanup=20)
    assert clock.seconds_for(150) == pytest.approx(15, abs=0.5)
    assert clock.seconds_for(5) == 5
    clock = runner.Clock(time.monotonic() - 200, deadline=130, reserve=15, cleanup=20)
    assert clock.seconds_for(150) == 0


def test_each_limit_is_written_once_with_its_unit_and_enforcer():
    for name, limit in protocol.LIMITS.items():
        assert limit.unit and limit.enforced_by and limit.why, name
    config = protocol.config_limits()
    assert set(config) == set(protocol.CONFIG_LIMITS) <= set(protocol.LIMITS)
    # the deadline leaves Gradescope's timeout a margin for the runner's start and its kill-and-write
    assert protocol.LIMITS["deadline"].value + 30 <= protocol.GRADESCOPE_TIMEOUT_S
    assert protocol.limit({"deadline": 99}, "deadline", env={}) == 99
    assert protocol.limit({"deadline": 99}, "deadline", env={"AUTOGRADER_DEADLINE": "42"}) == 42
    assert protocol.limit({}, "memory_limit_mb", env={"AUTOGRADER_MEMORY_MB": "700"}) == 700
    assert protocol.limit({}, "cleanup", env={"AUTOGRADER_CLEANUP": "1"}) == protocol.LIMITS["cleanup"].value
