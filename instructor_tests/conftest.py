"""Fixtures of the grading tests: one autograder built for the session, sandbox users, the reference.

The autograder is the real one (autograder_build: the real checks, the reference solution, the
decoded test split) with one small public test file, so that each grading's feedback step takes
seconds. Student code runs as unprivileged sandbox users, created here as `proj4-instructor grade`
creates them; the folders above the interpreter are made passable for other users (pyenv lives in
/root) for the session and restored after. Without root these tests skip: CI runs as root.
"""
import os
import queue
import stat
import sys
import threading
from pathlib import Path
from typing import Dict, Optional

import pytest

from proj4_instructor import autograder_build, graders
from proj4_lib.parts import PARTS

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
MODEL_DIR = Path(os.environ.get("PROJ4_MODEL_DIR", REPO_ROOT / "model_output"))
STATS = (0.4555, 0.2532)  # the dataset's mean / std (skips dataset_stats, which reads every image)
WORKERS = 2
PUBLIC = '''\
import torch

from proj4_code.simple_net import SimpleNet  # at import time: a broken simple_net.py fails collection


def test_simple_net_shape():
    assert SimpleNet()(torch.rand(2, 1, 64, 64)).shape == (2, 15)


def test_provided_helper():
    from proj4_lib.utils import reset_seed
    reset_seed(0)
'''


def missing(what: str):
    """Skip locally, fail in CI (as proj4_unit_tests/conftest.py does)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def passable_python():
    """Let other users through the folders above this interpreter for the session (restored after)."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (CI runs as root)")
    changed = []
    for parent in Path(os.path.realpath(sys.executable)).parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            changed.append((parent, stat.S_IMODE(mode)))
            os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
    yield
    for parent, mode in changed:
        os.chmod(parent, mode)


@pytest.fixture(scope="session")
def sandbox_users(passable_python):
    """The sandbox user of each test worker (created if missing, checked)."""
    return graders.prepare_workers(WORKERS, say=lambda message: None)


@pytest.fixture(scope="session")
def grading_source(tmp_path_factory) -> Path:
    """The real autograder, built once, with the small public test file."""
    if not (DATA_DIR / "test").is_dir():
        missing(f"the dataset ({DATA_DIR})")
    tmp = tmp_path_factory.mktemp("autograder")
    (tmp / "public").mkdir()
    (tmp / "public" / "test_public.py").write_text(PUBLIC)
    return autograder_build.build_autograder_source(tmp / "source", stats=STATS, public_tests=tmp / "public",
                                                    data_dir=DATA_DIR, log=lambda message: None)


@pytest.fixture(scope="session")
def reference_checkpoints() -> dict:
    """{file name: bytes} of the four trained reference checkpoints (`proj4 train all`)."""
    absent = [p.checkpoint for p in PARTS if not (MODEL_DIR / p.checkpoint).is_file()]
    if absent:
        missing(f"checkpoints {absent} (make them with `proj4 train all`)")
    return {p.checkpoint: (MODEL_DIR / p.checkpoint).read_bytes() for p in PARTS}


@pytest.fixture(scope="session")
def grader(grading_source, sandbox_users):
    """graders.Grader over the session's autograder, with short limits."""
    env = {"AUTOGRADER_TOTAL_TIMEOUT": "120", "AUTOGRADER_PUBLIC_TIMEOUT": "60", "AUTOGRADER_TEST_TIMEOUT": "30"}
    with graders.Grader(grading_source, sandbox_users, env=env) as grader:
        yield grader


@pytest.fixture(scope="session")
def grade_zips(grader):
    """grade_zips(submissions: {name: zip}, env=None) -> {name: results.json dict}: the session's autograder
    grades the zips two at a time, one per sandbox worker (each worker takes the next zip when it is done);
    `env` adds to the gradings' environment (AUTOGRADER_SEED, limits, ...)."""
    from proj4_instructor import graders

    def grade(submissions: Dict[str, Path], env: Optional[Dict[str, str]] = None) -> Dict[str, dict]:
        own = graders.Grader(grader.source, grader.users, env={**grader.env, **env}) if env else None
        who = own or grader
        todo, results, errors = queue.Queue(), {}, []
        for name in sorted(submissions):
            todo.put(name)

        def work(worker: int) -> None:
            while True:
                try:
                    name = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[name] = who.grade(Path(submissions[name]), worker, name)
                except BaseException as err:  # noqa: BLE001 - reported below, with the submission's name
                    errors.append(f"{name}: {type(err).__name__}: {err}")

        threads = [threading.Thread(target=work, args=(k,)) for k in range(min(len(who.users), len(submissions)))]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            if own is not None:
                own.close()
        assert not errors, errors
        return results

    return grade
