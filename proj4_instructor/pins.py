"""The autograder's requirements for the Python of the target image, and pip's check that they install.

Gradescope's setup.sh makes its virtual environment from the image's own `python3`, so the pins must
have wheels for that Python: Ubuntu 22.04 (Gradescope's default base image) has 3.10, Ubuntu 24.04
has 3.12, Debian 12 (the rehearsal's clean root) has 3.11. The pins are CI's (requirements-ci.txt),
one source for every target, except where a pinned release dropped a Python: PINS_FOR_OLD_PYTHON
then holds the newest release that still has wheels for it.

The release check asks pip's resolver whether the two requirement files install on the target, the
way `pip install --dry-run --python-version X --only-binary=:all: --platform manylinux_..._x86_64`
does, against the package indexes this machine's pip is configured with. setup.sh installs torch and
torchvision from PyTorch's CPU index (PROJ4_TORCH_INDEX_URL); that index cannot be reached from every
machine, so the check resolves the same torch/torchvision versions on PyPI, which carries the same
versions for the same Pythons (the CPU index's are `X+cpu`, which `==X` matches).
"""
from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

DEFAULT_PYTHON = "3.10"  # Gradescope's default base image, Ubuntu 22.04


@dataclass(frozen=True)
class Target:
    """An image the autograder may be built on: its Python and its glibc (which manylinux wheels run)."""

    python: str
    image: str
    glibc: Tuple[int, int]


TARGETS = {
    "3.10": Target("3.10", "Ubuntu 22.04 (Gradescope's default base image)", (2, 35)),
    "3.11": Target("3.11", "Debian 12 bookworm (the rehearsal's clean root)", (2, 36)),
    "3.12": Target("3.12", "Ubuntu 24.04", (2, 39)),
}
# A Python with no known image (e.g. 3.9) is still checked, on Ubuntu 22.04's glibc: the check then
# says which pin cannot install there.
UNKNOWN_IMAGE_GLIBC = (2, 35)

# CI's numpy 2.4.6, pillow 13.0.0 and matplotlib 3.11.2 need Python >= 3.11; these are the newest
# releases with wheels for 3.10 (all numpy 2.x, which torch 2.14 supports).
OLDEST_PYTHON_OF_CI_PINS = (3, 11)
PINS_FOR_OLD_PYTHON = {"numpy": "2.2.6", "pillow": "12.3.0", "matplotlib": "3.10.9"}


class PinError(RuntimeError):
    """The requirements cannot be written or do not install; the message names the package and the Python."""


def parse_python(python: str) -> Tuple[int, int]:
    """'3.10' -> (3, 10); anything else is refused with the value."""
    match = re.fullmatch(r"(\d+)\.(\d+)", python.strip())
    if not match:
        raise PinError(f"--python {python!r}: expected MAJOR.MINOR, e.g. 3.10")
    return int(match.group(1)), int(match.group(2))


def ci_pins(requirements_ci: Path) -> Dict[str, str]:
    """{lower-case name: version} of every `name==version` line of requirements-ci.txt."""
    if not requirements_ci.is_file():
        raise PinError(f"{requirements_ci} does not exist: it holds the pinned versions")
    pins = {}
    for line in requirements_ci.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def pins_for(python: str, requirements_ci: Path) -> Dict[str, str]:
    """CI's pins, with PINS_FOR_OLD_PYTHON's versions for a Python older than the CI pins allow."""
    pins = ci_pins(requirements_ci)
    if parse_python(python) < OLDEST_PYTHON_OF_CI_PINS:
        pins.update(PINS_FOR_OLD_PYTHON)
    return pins


def requirements_text(packages: Sequence[str], python: str, requirements_ci: Path) -> str:
    """Lines 'name==version' for `packages` on `python`."""
    pins = pins_for(python, requirements_ci)
    missing = [p for p in packages if p.lower() not in pins]
    if missing:
        raise PinError(f"{requirements_ci}: no pinned version of {', '.join(missing)}")
    return "".join(f"{p}=={pins[p.lower()]}\n" for p in packages)


def platform_tags(glibc: Tuple[int, int]) -> List[str]:
    """The manylinux x86_64 tags a glibc runs: manylinux_2_X for X <= its minor, and manylinux2014.

    pip's --platform takes exact tags (it does not add the older ones), so all are listed.
    """
    major, minor = glibc
    return [f"manylinux_{major}_{x}_x86_64" for x in range(minor, 16, -1)] + ["manylinux2014_x86_64"]


def resolver_command(python: str, requirement_files: Sequence[Path], target_dir: Path, report: Path) -> List[str]:
    """pip's dry-run install of `requirement_files` for `python` on its image's platform, wheels only."""
    target = TARGETS.get(python)
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--disable-pip-version-check", "--only-binary=:all:", "--python-version", python,
               "--implementation", "cp", "--target", str(target_dir), "--report", str(report)]
    for tag in platform_tags(target.glibc if target else UNKNOWN_IMAGE_GLIBC):
        command += ["--platform", tag]
    for file in requirement_files:
        command += ["-r", str(file)]
    return command


def failing_requirement(pip_output: str) -> str:
    """The requirement pip names in its error ('numpy==2.4.6'), or its ERROR lines if none is named."""
    match = re.search(r"satisfies the requirement (\S+)", pip_output)
    if match:
        return match.group(1)
    match = re.search(r"(?:^|\n)\s*The user requested (\S+)", pip_output)
    if match:
        return match.group(1)
    match = re.search(r"Cannot install (\S+?),? because", pip_output)  # a conflict: pip names the requirement
    if match:
        return match.group(1)
    errors = [line for line in pip_output.splitlines() if line.startswith("ERROR")]
    return "; ".join(errors) or pip_output.strip()[-500:]


def pip_errors(pip_output: str) -> str:
    """pip's ERROR lines (its WARNING lines about local index folders are noise here), else its tail."""
    errors = [line for line in pip_output.splitlines() if line.startswith("ERROR")]
    return "\n".join(errors)[-1500:] if errors else pip_output.strip()[-1500:]


@functools.lru_cache(maxsize=None)
def _resolve(python: str, requirements: str) -> Tuple[bool, str]:
    """(resolved, 'name==version ...' or pip's output); cached per Python and requirement text."""
    with tempfile.TemporaryDirectory(prefix="proj4-pins-") as tmp:
        requirement_file = Path(tmp) / "requirements.txt"
        requirement_file.write_text(requirements)
        report = Path(tmp) / "report.json"
        done = subprocess.run(resolver_command(python, [requirement_file], Path(tmp) / "target", report),
                              capture_output=True, text=True, check=False)
        if done.returncode != 0 or not report.is_file():
            return False, done.stdout + done.stderr
        installed = json.loads(report.read_text())["install"]
        return True, " ".join(sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in installed))


def check_resolves(python: str, requirement_files: Sequence[Path]) -> str:
    """Raise PinError naming the package and the Python unless pip can install the files there.

    Returns the resolved set ('name==version ...'), transitive dependencies included.
    """
    parse_python(python)
    requirements = "".join(Path(f).read_text() for f in requirement_files)
    resolved, detail = _resolve(python, requirements)
    if not resolved:
        image = TARGETS[python].image if python in TARGETS else "no known Gradescope image"
        names = " + ".join(Path(f).name for f in requirement_files)
        raise PinError(f"{failing_requirement(detail)} cannot be installed on Python {python} ({image}): "
                       f"pip's resolver found no wheel for it (in {names})\n{pip_errors(detail)}")
    return detail


def write_requirements(dest: Path, python: str, requirements_ci: Path, torch_packages: Sequence[str],
                       grader_packages: Sequence[str]) -> Tuple[Path, Path]:
    """Write dest/requirements-torch.txt and dest/requirements.txt for `python`; returns their paths."""
    torch_file, grader_file = dest / "requirements-torch.txt", dest / "requirements.txt"
    torch_file.write_text(requirements_text(torch_packages, python, requirements_ci))
    grader_file.write_text(requirements_text(grader_packages, python, requirements_ci))
    return torch_file, grader_file


def check_target(python: str, requirements_ci: Path, torch_packages: Sequence[str],
                 grader_packages: Sequence[str]) -> str:
    """Write the requirements for `python` to a scratch folder and check_resolves them (before a long build)."""
    with tempfile.TemporaryDirectory(prefix="proj4-pins-") as tmp:
        files = write_requirements(Path(tmp), python, requirements_ci, torch_packages, grader_packages)
        return check_resolves(python, files)
