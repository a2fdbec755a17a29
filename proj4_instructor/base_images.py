"""A base image built here, for machines that reach no image registry, and this machine's pip settings.

    proj4-instructor base-image [--engine podman|docker] [--tag TAG] [--mirror URL]

Gradescope builds the autograder on `gradescope/autograder-base:ubuntu-22.04`; where that cannot be
pulled (no registry, like this project's CI machine), `debian_base_image` makes a clean Debian
bookworm image with `debootstrap --variant=minbase` and `<engine> import` (its python3 is 3.11:
build the autograder zip with `--python 3.11`). setup.sh installs what it needs on top, as on
Gradescope.

`pip_build_settings` carries this machine's pip configuration (local indexes, find-links, CA bundle)
into the image build as PIP_* variables and read-only binds, so setup.sh can install from the
same local mirrors this machine uses; none of it stays in the image.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from proj4_instructor.containers import ContainerError, Engine, find_engine

SUITE = "bookworm"
DEBIAN_BASE = f"localhost/proj4-base:debian-{SUITE}"
DEBIAN_PYTHON = "3.11"  # bookworm's python3


def apt_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The first Debian archive URI in this machine's apt sources (security archives excluded)."""
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    for file in files:
        if not file.is_file():
            continue
        for line in file.read_text().splitlines():
            line = line.split("#", 1)[0]
            for uri in re.findall(r"(?:^\s*deb(?:\s+\[[^\]]*\])?\s+|^\s*URIs:\s*)(\S+)", line):
                if "/debian" in uri and "security" not in uri:
                    return uri
    return "http://deb.debian.org/debian"


def debian_base_image(engine: Engine, tag: str = DEBIAN_BASE, mirror: Optional[str] = None,
                      log: Optional[Path] = None, say=print) -> str:
    """A clean Debian bookworm (minbase) image as `tag`, made once with debootstrap (needs root)."""
    if engine.image_exists(tag):
        return tag
    if shutil.which("debootstrap") is None:
        raise ContainerError("debootstrap is not installed (Debian/Ubuntu: sudo apt-get install debootstrap)")
    mirror = mirror or apt_mirror()
    say(f"building the base image {tag} with debootstrap from {mirror} ...")
    with tempfile.TemporaryDirectory(prefix="proj4-base-") as tmp:
        root = Path(tmp) / "root"
        run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror], log)
        shutil.rmtree(root / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        (root / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True)
        tar = Path(tmp) / "root.tar"
        run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(tar), "."], log)
        engine.run("import", "--change", "CMD [\"/bin/bash\"]", str(tar), tag, log=log)
    return tag


def run(command: List[str], log: Optional[Path] = None) -> None:
    with open(log, "ab") if log else open(os.devnull, "wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise ContainerError(f"`{' '.join(command)}` exited with {done.returncode}" + (f"; see {log}" if log else ""))


# -- this machine's pip configuration, carried into the image build ---------------------------------

def pip_settings() -> Dict[str, str]:
    """{key: value} of `pip config list` (files and PIP_* variables), e.g. {'extra-index-url': '...'}."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                         check=True).stdout
    settings = {}
    for line in out.splitlines():
        match = re.match(r"^[^.]*\.([\w-]+)='(.*)'$", line)
        if match:
            settings[match.group(1)] = match.group(2)
    return settings


def local_paths(value: str) -> List[Path]:
    """The local files or folders a pip setting names (file:// URLs and absolute paths)."""
    paths = []
    for item in value.split():
        path = item[len("file://"):] if item.startswith("file://") else item
        if path.startswith("/") and Path(path).exists():
            paths.append(Path(path))
    return paths


def pip_build_settings(settings: Optional[Dict[str, str]] = None
                       ) -> Tuple[Dict[str, str], Tuple[Tuple[Path, Path], ...]]:
    """PIP_* variables for the image build and the read-only binds they need.

    Folders keep their path (index pages may link by absolute path); a local index brings its parent
    folder (its pages link to ../../files). Files go under /run/host-pip: a package in the image may
    own the same path (ca-certificates writes /etc/ssl/certs' bundle).
    """
    env, binds = {}, {}
    for key, value in (pip_settings() if settings is None else settings).items():
        for path in local_paths(value):
            inside = path if path.is_dir() else Path("/run/host-pip") / path.relative_to("/")
            shared = path.parent if key.endswith("index-url") else path
            binds[shared] = shared if path.is_dir() else inside
            value = value.replace(str(path), str(inside))
        env["PIP_" + key.upper().replace("-", "_")] = value
    return env, tuple(binds.items())


def build_parser() -> argparse.ArgumentParser:
    from proj4_tools.cli import DefaultsHelp

    parser = argparse.ArgumentParser(prog="proj4-instructor base-image", description=__doc__.splitlines()[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("--engine", choices=("podman", "docker"), default=None,
                        help="container engine (default: podman if installed, else docker)")
    parser.add_argument("--tag", default=DEBIAN_BASE, help="the image's tag")
    parser.add_argument("--mirror", default=None, help="Debian mirror (default: the first in /etc/apt's sources)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        tag = debian_base_image(find_engine(args.engine), args.tag, args.mirror)
    except ContainerError as err:
        print(f"proj4-instructor base-image: {err}", file=sys.stderr)
        return 1
    print(f"{tag}: grade with --base-image {tag} and an autograder built with --python {DEBIAN_PYTHON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
