"""Fixtures of the grading tests: the release's autograder, its grading image, and gradings in containers.

Every grading here is what `proj4-instructor grade` does: a fresh container of an image set up from
the autograder zip by setup.sh, on a Debian bookworm base built with debootstrap (no registry is
reachable here; Gradescope's Ubuntu image could not be pulled), with the CPU-only torch stand-in
(proj4_instructor/torch_standin.py). The zip is the one the main job wrote (release/autograder.zip,
`bash scripts/build`), retargeted to the image's Python 3.11, as long as it was built from the files
of this checkout (its manifest's `inputs` digest); otherwise one is built here (minutes).

Gradings run two at a time (this machine has 2 cores). They need root, Podman (or Docker) and
debootstrap: without them these tests skip locally and fail in CI. PROJ4_ENGINE picks the engine.
"""
import json
import os
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Optional

import pytest

from proj4_instructor import autograder_build, base_images, containers, torch_standin
from proj4_lib.parts import PARTS

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
MODEL_DIR = Path(os.environ.get("PROJ4_MODEL_DIR", REPO_ROOT / "model_output"))
RELEASE_ZIP = REPO_ROOT / "release" / "autograder.zip"
CACHE = Path(os.environ.get("PROJ4_CACHE", "/var/cache/proj4-rehearsal"))
WORKERS = 2
# Limits for gradings whose public tests say nothing the test asserts (feedback only, 0 points): the
# public step is not run, so a grading takes its checks' time only.
NO_FEEDBACK = {"AUTOGRADER_PUBLIC_TIMEOUT": "0"}
FAST = containers.ContainerLimits(cpus=None, memory_mb=1536, timeout_s=900)


def missing(what: str):
    """Skip locally, fail in CI (as proj4_unit_tests/conftest.py does)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing")
    pytest.skip(f"{what} is missing")


def manifest_of(zip_path: Path) -> dict:
    with zipfile.ZipFile(zip_path) as zf:
        return json.loads(zf.read("grader/manifest.json"))


@pytest.fixture(scope="session")
def release_zip(tmp_path_factory) -> Path:
    """The Gradescope autograder zip (Python 3.10): the main job's if it is current, else built here."""
    if not (DATA_DIR / "test").is_dir():
        missing(f"the dataset ({DATA_DIR})")
    digest = autograder_build.inputs_digest(REPO_ROOT, DATA_DIR)
    if RELEASE_ZIP.is_file() and manifest_of(RELEASE_ZIP).get("inputs") == digest:
        return RELEASE_ZIP
    if os.environ.get("CI") and RELEASE_ZIP.is_file():
        pytest.fail(f"{RELEASE_ZIP} was built from other files than this checkout's: run `bash scripts/build`")
    out = tmp_path_factory.mktemp("release") / "autograder.zip"
    autograder_build.build_autograder(out, data_dir=DATA_DIR)
    return out


@pytest.fixture(scope="session")
def grading_source(release_zip, tmp_path_factory) -> Path:
    """The release's autograder, unpacked (what Gradescope puts in /autograder/source)."""
    source = tmp_path_factory.mktemp("autograder") / "source"
    with zipfile.ZipFile(release_zip) as zf:
        zf.extractall(source)
    return source


@pytest.fixture(scope="session")
def config(grading_source) -> dict:
    return json.loads((grading_source / "grader" / "config.json").read_text())


@pytest.fixture(scope="session")
def max_score(grading_source) -> float:
    return json.loads((grading_source / "grader" / "manifest.json").read_text())["max_score"]


@pytest.fixture(scope="session")
def starter(grading_source) -> Path:
    return grading_source / "starter" / "proj4_code"


@pytest.fixture(scope="session")
def reference_checkpoints() -> dict:
    """{file name: bytes} of the four trained reference checkpoints (`proj4 train all`)."""
    absent = [p.checkpoint for p in PARTS if not (MODEL_DIR / p.checkpoint).is_file()]
    if absent:
        missing(f"checkpoints {absent} (make them with `proj4 train all`)")
    return {p.checkpoint: (MODEL_DIR / p.checkpoint).read_bytes() for p in PARTS}


@pytest.fixture(scope="session")
def engine() -> containers.Engine:
    if os.geteuid() != 0:
        missing("root (the container engine and debootstrap need it; CI runs as root)")
    try:
        return containers.find_engine(os.environ.get("PROJ4_ENGINE"))
    except containers.ContainerError as err:
        missing(f"a container engine ({err})")


@pytest.fixture(scope="session")
def standin_wheels() -> Path:
    """The CPU-only torch and the stand-in torchvision (torch_standin.py), for setup.sh."""
    return torch_standin.build(CACHE)


@pytest.fixture(scope="session")
def image_zip(release_zip, tmp_path_factory) -> Path:
    """The release's zip for the Debian base's Python 3.11 and the torch stand-in (`release autograder --from`)."""
    out = tmp_path_factory.mktemp("image") / "autograder-py3.11-standin.zip"
    autograder_build.retarget(release_zip, out, base_images.DEBIAN_PYTHON, torch_standin.PINS)
    return out


@pytest.fixture(scope="session")
def image_source(image_zip, tmp_path_factory) -> Path:
    """The retargeted zip, unpacked: what the grading image holds at /autograder/source."""
    source = tmp_path_factory.mktemp("image-source") / "source"
    with zipfile.ZipFile(image_zip) as zf:
        zf.extractall(source)
    return source


@pytest.fixture(scope="session")
def grading_image(engine, image_zip, standin_wheels, tmp_path_factory) -> str:
    """The grading image: the Debian base, setup.sh run on the retargeted zip (built once; the engine
    keeps it, tagged by the zip's hash, for the next run)."""
    log = tmp_path_factory.mktemp("image-log") / "build.log"
    base = base_images.debian_base_image(engine, log=log)
    env, binds = base_images.pip_build_settings()
    env["PROJ4_TORCH_FIND_LINKS"] = str(standin_wheels)
    return containers.autograder_image(engine, image_zip, base, build_env=env,
                                       binds=(*binds, (standin_wheels, standin_wheels)), log=log)


class Grader:
    """Grades submissions in containers of the session's image, WORKERS at once."""

    def __init__(self, engine, image, tmp: Path):
        self.engine, self.image, self.tmp, self.count, self.lock = engine, image, tmp, 0, threading.Lock()

    def one(self, submission: Path, env: Optional[Dict[str, str]] = None,
            limits: containers.ContainerLimits = FAST, copy_out=()) -> containers.Graded:
        with self.lock:
            self.count += 1
            out = self.tmp / f"grading-{self.count}"
        return containers.grade_in_container(self.engine, self.image, submission, out, limits=limits,
                                             env=env, copy_out=copy_out)

    def many(self, submissions: Dict[str, Path], env: Optional[Dict[str, str]] = None,
             limits: containers.ContainerLimits = FAST, envs: Optional[Dict[str, Dict[str, str]]] = None,
             copy_out=()) -> Dict[str, containers.Graded]:
        """{name: Graded} of {name: zip or folder}, WORKERS at once; `envs` adds variables per name."""
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = {name: pool.submit(self.one, path, {**(env or {}), **(envs or {}).get(name, {})}, limits,
                                         copy_out)
                       for name, path in submissions.items()}
            return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="session")
def grader(engine, grading_image, tmp_path_factory) -> Grader:
    return Grader(engine, grading_image, tmp_path_factory.mktemp("gradings"))


@pytest.fixture(scope="session")
def grade_zips(grader):
    """grade_zips({name: zip}, env) -> {name: results.json}: real gradings in containers, two at a time."""
    def grade(submissions: Dict[str, Path], env: Optional[Dict[str, str]] = None) -> Dict[str, dict]:
        graded = grader.many(submissions, env)
        for name, one in graded.items():
            assert one.results is not None, (name, one.problem, one.log[-3000:])
        return {name: one.results for name, one in graded.items()}

    return grade


@pytest.fixture(scope="session")
def rehearsal(engine, grading_image, image_source, tmp_path_factory):
    """(rows, problems) of the rehearsal's four gradings (reference, starter, spy, limits) in Gradescope's
    default container, half a CPU and 768 MB, all four at once (4 x 0.5 CPU fills this machine's 2 cores):
    the suite's one grading of the reference and of the starter with their public tests, read by every
    test that needs them."""
    from proj4_instructor import rehearse

    work = tmp_path_factory.mktemp("rehearsal")
    limits = containers.ContainerLimits(cpus=rehearse.GRADESCOPE_CPUS, memory_mb=rehearse.GRADESCOPE_MEMORY_MB)
    return rehearse.grade_all(engine, grading_image, image_source, work, limits, work / "rehearsal.log", jobs=4)


@pytest.fixture(scope="session")
def reference_grading(rehearsal) -> containers.Graded:
    return next(r.graded for r in rehearsal[0] if r.name == "reference")


@pytest.fixture(scope="session")
def starter_grading(rehearsal) -> containers.Graded:
    return next(r.graded for r in rehearsal[0] if r.name == "starter")


# The student notebook run once in quick mode, shared by test_notebook.py and test_report.py (notebook_run.py).
from notebook_run import quick_notebook_run  # noqa: E402,F401 - a fixture, registered by its import


def pytest_terminal_summary(terminalreporter):
    """Seconds per test file (setup, call and teardown; a shared fixture counts where it is first built):
    where CI's time goes, for BENCHMARKS.md."""
    seconds, counts = {}, {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) not in ("setup", "call", "teardown"):
                continue
            path = report.nodeid.split("::", 1)[0]
            seconds[path] = seconds.get(path, 0.0) + report.duration
            counts[path] = counts.get(path, 0) + (report.when == "call" or report.outcome == "skipped")
    if not seconds:
        return
    terminalreporter.section("seconds per test file")
    for path, spent in sorted(seconds.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{spent:8.1f} s  {counts[path]:4d} tests  {path}")
    terminalreporter.write_line(f"{sum(seconds.values()):8.1f} s  in all")
