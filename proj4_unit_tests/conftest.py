"""Shared fixtures: where the data and the trained checkpoints are, and what to do when they are not;
an image for the transform tests.

On a student's machine a missing dataset or checkpoint skips the tests that need it, with the
command that makes it. In CI (environment variable CI set) a missing one is a failure.
"""
import os
from pathlib import Path

import pytest

from proj4_lib.fixtures import ramp_image
from proj4_lib.parts import get_part

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
