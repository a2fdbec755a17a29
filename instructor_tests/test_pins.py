"""The autograder's requirements per target Python, and the release's pip-resolver check.

The resolver tests ask the package index (PyPI, as this machine's pip is configured); each Python is
resolved once per session (pins._resolve is cached).
"""
from pathlib import Path

import pytest

from proj4_instructor import autograder_build, pins, release

REPO = Path(__file__).resolve().parents[1]
CI_PINS = REPO / "requirements-ci.txt"


def check(python: str) -> str:
    return pins.check_target(python, CI_PINS, autograder_build.TORCH_PACKAGES, autograder_build.GRADER_PACKAGES)


def versions(resolved: str) -> dict:
    return dict(item.split("==", 1) for item in resolved.split())


def test_python_310_gets_the_newest_releases_that_still_support_it():
    pinned = pins.pins_for("3.10", CI_PINS)
    assert {name: pinned[name] for name in pins.PINS_FOR_OLD_PYTHON} == pins.PINS_FOR_OLD_PYTHON
    assert pinned["torch"] == pins.ci_pins(CI_PINS)["torch"]  # torch itself still supports 3.10


def test_python_311_and_newer_get_ci_pins():
    assert pins.pins_for("3.11", CI_PINS) == pins.ci_pins(CI_PINS)
    assert pins.pins_for("3.12", CI_PINS) == pins.ci_pins(CI_PINS)


def test_written_requirements_pin_every_package(tmp_path):
    torch_file, grader_file = pins.write_requirements(tmp_path, "3.10", CI_PINS, autograder_build.TORCH_PACKAGES,
                                                      autograder_build.GRADER_PACKAGES)
    assert torch_file.read_text().splitlines()[0].startswith("torch==")
    assert "numpy==2.2.6" in grader_file.read_text().splitlines()
    assert len(grader_file.read_text().splitlines()) == len(autograder_build.GRADER_PACKAGES)


def test_a_package_without_a_pin_is_named(tmp_path):
    (tmp_path / "requirements-ci.txt").write_text("torch==2.14.1\n")
    with pytest.raises(pins.PinError, match="no pinned version of torchvision"):
        pins.requirements_text(["torch", "torchvision"], "3.11", tmp_path / "requirements-ci.txt")


@pytest.mark.parametrize("value", ["3", "py3.10", "3.10.1", ""])
def test_a_malformed_python_is_refused(value):
    with pytest.raises(pins.PinError, match="MAJOR.MINOR"):
        pins.parse_python(value)


def test_platform_tags_cover_older_manylinux():
    tags = pins.platform_tags((2, 35))
    assert tags[0] == "manylinux_2_35_x86_64" and "manylinux_2_17_x86_64" in tags
    assert tags[-1] == "manylinux2014_x86_64"


def test_pips_error_names_the_requirement():
    output = ("ERROR: Could not find a version that satisfies the requirement numpy==2.4.6 (from versions: 1.0)\n"
              "ERROR: No matching distribution found for numpy==2.4.6\n")
    assert pins.failing_requirement(output) == "numpy==2.4.6"
    conflict = "ERROR: Cannot install torch==2.14.1 because these package versions have conflicting dependencies.\n"
    assert pins.failing_requirement(conflict) == "torch==2.14.1"


@pytest.mark.parametrize("python", ["3.10", "3.12"])
def test_release_check_passes_for_gradescope_images(python):
    resolved = versions(check(python))
    assert resolved["torch"] == pins.ci_pins(CI_PINS)["torch"]
    assert resolved["numpy"] == pins.pins_for(python, CI_PINS)["numpy"]


def test_ci_pins_do_not_install_on_python_310():
    """The bug of issue 9: CI's pins on Ubuntu 22.04 stop the image build."""
    with pytest.raises(pins.PinError, match=r"cannot be installed on Python 3\.10"):
        pins.check_resolves("3.10", [CI_PINS])


def test_release_check_fails_clearly_for_a_python_that_cannot_work():
    with pytest.raises(pins.PinError, match=r"torch==\S+ cannot be installed on Python 3\.9"):
        check("3.9")


def test_release_command_stops_with_the_package_and_the_python(tmp_path, capsys):
    out = tmp_path / "autograder.zip"
    assert release.main(["autograder", "--python", "3.8", "--out", str(out)]) == 1
    assert "cannot be installed on Python 3.8" in capsys.readouterr().err
    assert not out.exists()
