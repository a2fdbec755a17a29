"""Shared fixtures: where the data and the trained checkpoints are, and what to do when they are not;
an image for the transform tests. And how the results read: part by part, in the notebook's order.

On a student's machine a missing dataset or checkpoint skips the tests that need it, with the
command that makes it. In CI (environment variable CI set) a missing one is a failure.

The report: tests run in the order of the parts (proj4_lib/parts.py: Part 1's files first, the
trained checkpoints' accuracy last), a test that fails on a stub says "Not implemented yet" in one
line instead of a traceback, and the run ends with one line per part (passed, failed, not implemented
yet, skipped).
"""
import os
from pathlib import Path

import pytest

from proj4_lib.fixtures import ramp_image
from proj4_lib.parts import PARTS, get_part

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("PROJ4_DATA_DIR", REPO_ROOT / "data"))
MODEL_DIR = Path(os.environ.get("PROJ4_MODEL_DIR", REPO_ROOT / "model_output"))


def missing(what: str, how: str):
    """Skip locally, fail in CI."""
    message = f"{what} is missing; {how}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "train").is_dir() or not (DATA_DIR / "test").is_dir():
        missing(f"the dataset ({DATA_DIR})", "run `proj4 data install`")
    return DATA_DIR


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return MODEL_DIR


@pytest.fixture(scope="session")
def checkpoint_path():
    """checkpoint_path(class_name, model_name) -> model_output/trained_<class_name>_final.pt,
    or skip (fail in CI) with how to make it."""

    def find(class_name: str, model_name: str) -> Path:
        path = MODEL_DIR / get_part(class_name).checkpoint
        if not path.is_file():
            missing(f"checkpoint {path}", f"train it in the notebook or with `proj4 train {model_name}`")
        return path

    return find


@pytest.fixture
def image():
    """A 100 x 120 grayscale image with structure (a left-to-right ramp plus noise), of another aspect
    ratio than the transform tests' sizes (so Resize(int), which keeps the aspect ratio, shows)."""
    return ramp_image(100, 120)


# -- the report: part by part -------------------------------------------------------------------------
PART_OF_FILE = {name: part for part in PARTS for name in part.tests}
LAST = "the trained checkpoints"  # test_accuracy.py: every part's, once the models are trained


def part_label(item) -> str:
    part = PART_OF_FILE.get(Path(str(item.fspath)).name)
    return f"Part {part.number} ({part.class_name})" if part else LAST


def pytest_collection_modifyitems(session, config, items):
    """Part 1's tests first, then Part 2's, ...: a student on Part 1 reads Part 1's results first."""
    order = {f"Part {p.number} ({p.class_name})": p.number for p in PARTS}
    items.sort(key=lambda item: order.get(part_label(item), len(PARTS) + 1))  # stable: file order within a part


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.proj4_part = part_label(item)
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        report.longrepr = f"Not implemented yet: {call.excinfo.value}"  # a stub: one line, not a traceback
        report.proj4_stub = True
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    yield  # after pytest's own summaries: the last thing printed before the totals line
    counts = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            part = getattr(report, "proj4_part", None)
            if part is None:
                continue
            kind = "not implemented yet" if getattr(report, "proj4_stub", False) else outcome
            tally = counts.setdefault(part, {})
            tally[kind] = tally.get(kind, 0) + 1
    if not counts:
        return
    terminalreporter.section("results by part, in the notebook's order")
    labels = [f"Part {p.number} ({p.class_name})" for p in PARTS] + [LAST]
    width = max(len(label) for label in labels)
    for label in labels:
        if label in counts:
            tally = counts[label]
            words = ", ".join(f"{tally[k]} {k}" for k in ("passed", "failed", "error", "not implemented yet",
                                                            "skipped") if tally.get(k))
            terminalreporter.write_line(f"{label:<{width}}  {words}")
