"""How `grade` and `regrade` grade: in a fresh container per submission (containers.py), or, for code
the TA trusts, with `--unsafe-local` on this machine with no isolation at all.

    grader = open_grader(args)            # the image built once per autograder zip
    graded = grader.grade(submission, out_dir)

Both write results.json, measurements.json and run_autograder.log into out_dir (mode 0600).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Dict, Optional

from proj4_instructor import containers
from proj4_instructor.autograder_build import BuildError, build_autograder
from proj4_instructor.containers import ContainerError, ContainerLimits, Graded

REPO_ROOT = Path(__file__).resolve().parents[1]
# The Python of the base images this project knows (setup.sh makes its venv from the image's python3).
BASE_PYTHONS = {containers.GRADESCOPE_BASE: "3.10", "localhost/proj4-base:debian-bookworm": "3.11"}


class GradingSetupError(RuntimeError):
    """This machine cannot grade as asked; the message says what to change."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `grade` and `regrade` share."""
    parser.add_argument("--autograder", type=Path, default=None,
                        help="a zip from `proj4-instructor release autograder` (default: build one from this "
                             "repository for --python)")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data", help="installed dataset (for a build)")
    parser.add_argument("--engine", choices=containers.ENGINES, default=None,
                        help="container engine (default: podman if installed, else docker)")
    parser.add_argument("--base-image", default=containers.GRADESCOPE_BASE,
                        help="the image the autograder is set up on (Gradescope's default; `proj4-instructor "
                             "base-image` builds a Debian one where no registry is reachable)")
    parser.add_argument("--python", default=None,
                        help="the base image's python3, for a build (default: 3.10 for Gradescope's Ubuntu 22.04, "
                             "3.11 for the Debian bookworm base)")
    parser.add_argument("--cpus", type=float, default=0.5, help="CPUs of each grading container (0: no limit)")
    parser.add_argument("--memory-mb", type=int, default=768, help="memory of each grading container (0: no limit)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per grading")
    parser.add_argument("--torch-wheels", type=Path, default=None,
                        help="a folder with the torch and torchvision wheels the zip pins, for setup.sh "
                             "(PROJ4_TORCH_FIND_LINKS; machines that cannot reach PyTorch's index)")
    parser.add_argument("--host-pip", action="store_true",
                        help="let setup.sh use this machine's pip configuration (local indexes and mirrors)")
    parser.add_argument("--unsafe-local", action="store_true",
                        help="no container: run the student's code on THIS machine as you, with no isolation "
                             "(only for code you trust)")


class ContainerGrader:
    """Grades each submission in a fresh container of one image."""

    def __init__(self, engine: containers.Engine, image: str, limits: ContainerLimits,
                 env: Optional[Dict[str, str]] = None):
        self.engine, self.image, self.limits, self.env = engine, image, limits, dict(env or {})
        self.zip_path: Optional[Path] = None  # the autograder zip the image was built from

    def grade(self, submission: Path, out: Path, env: Optional[Dict[str, str]] = None) -> Graded:
        return containers.grade_in_container(self.engine, self.image, submission, out, limits=self.limits,
                                             env={**self.env, **(env or {})})


UNSAFE_WARNING = ("WARNING: --unsafe-local: the submission's code runs on this machine as {user}, with no "
                  "container and no sandbox. It can read and change everything {user} can: this repository "
                  "(the reference solution and its checkpoints), your home folder, other submissions and "
                  "regrade outputs, and it can reach the network. Use it only for code you trust.")


class LocalGrader:
    """`--unsafe-local`: the runner on this machine, student code as the current user (no isolation)."""

    def __init__(self, source: Path, env: Optional[Dict[str, str]] = None, timeout: float = 900.0):
        self.source, self.env, self.timeout = Path(source), dict(env or {}), timeout
        self.zip_path: Optional[Path] = None

    def grade(self, submission: Path, out: Path, env: Optional[Dict[str, str]] = None) -> Graded:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        os.chmod(out, 0o700)
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="proj4-local-") as tmp:
            root = Path(tmp) / "autograder"
            shutil.copytree(self.source, root / "source", symlinks=True)
            containers.stage_submission(submission, root)
            run_env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable,
                       "AUTOGRADER_SANDBOX_USER": "none", **self.env, **(env or {})}
            log_path = out / "run_autograder.log"
            timed_out = False
            with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as log:
                proc = subprocess.Popen(["bash", str(root / "source" / "run_autograder")], env=run_env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
                try:
                    proc.wait(timeout=self.timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    timed_out = True
            results = containers._read_json(root / "results" / "results.json") if not timed_out else None
            measurements = containers._read_json(root / "results" / "measurements.json") or {}
            for name in ("results.json", "measurements.json"):
                if (root / "results" / name).is_file() and not timed_out:
                    containers._private_copy(root / "results" / name, out / name)
        problem = f"the grading did not finish in {self.timeout:.0f} s" if timed_out else (
            "" if results else "the grading wrote no results.json")
        return Graded(results, measurements, log_path.read_text(errors="replace"), time.monotonic() - start,
                      timed_out, problem)


def unpack_autograder(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    for script in ("setup.sh", "run_autograder"):
        os.chmod(dest / script, 0o755)
    return dest


def autograder_zip(args: argparse.Namespace, work: Path, python: str) -> Path:
    """--autograder, or a zip built from this repository for `python`."""
    if args.autograder:
        if not args.autograder.is_file():
            raise GradingSetupError(f"--autograder {args.autograder} does not exist")
        return args.autograder
    out = work / f"autograder-py{python}.zip"
    print(f"building the autograder for Python {python} from {REPO_ROOT} ...", file=sys.stderr)
    build_autograder(out, data_dir=args.data_dir, target_python=python)
    return out


def base_python(args: argparse.Namespace) -> str:
    if args.python:
        return args.python
    if args.autograder:
        manifest = json.loads(zipfile.ZipFile(args.autograder).read("grader/manifest.json"))
        if manifest.get("python"):
            return manifest["python"]
    if args.base_image in BASE_PYTHONS:
        return BASE_PYTHONS[args.base_image]
    raise GradingSetupError(f"which python3 does {args.base_image} have? pass --python X.Y")


def build_settings(args: argparse.Namespace):
    """(environment, read-only binds) for setup.sh in the image build."""
    env, binds = {}, []
    if args.host_pip:
        from proj4_instructor.base_images import pip_build_settings

        pip_env, pip_binds = pip_build_settings()
        env.update(pip_env)
        binds += list(pip_binds)
    if args.torch_wheels:
        wheels = args.torch_wheels.resolve()
        env["PROJ4_TORCH_FIND_LINKS"] = str(wheels)
        binds.append((wheels, wheels))
    return env, binds


def limit_overrides(environ=os.environ) -> Dict[str, str]:
    """The runner's limit overrides set in this environment (protocol.ENV_NAMES: AUTOGRADER_DEADLINE,
    AUTOGRADER_TOTAL_TIMEOUT, ...), for the grading container, whose environment is not this one's:
    a TA (or a test) who tightens the limits gets them in a container as with --unsafe-local."""
    from proj4_instructor.autograder.root import protocol

    return {name: environ[name] for name in protocol.ENV_NAMES.values() if environ.get(name)}


def open_grader(args: argparse.Namespace, work: Path, timeout: float = 900.0):
    """The grader `args` ask for (GradingSetupError / ContainerError / BuildError say what is wrong)."""
    env = {"AUTOGRADER_THREADS": str(args.threads), **limit_overrides()}
    if args.unsafe_local:
        print(UNSAFE_WARNING.format(user=getpass.getuser()), file=sys.stderr)
        zip_path = autograder_zip(args, work, args.python or f"{sys.version_info[0]}.{sys.version_info[1]}")
        grader = LocalGrader(unpack_autograder(zip_path, work / "local-source"), env, timeout)
        grader.zip_path = zip_path
        return grader
    engine = containers.find_engine(args.engine)
    python = base_python(args)
    zip_path = autograder_zip(args, work, python)
    build_env, binds = build_settings(args)
    image = containers.autograder_image(engine, zip_path, args.base_image, build_env=build_env, binds=binds,
                                        log=work / "image-build.log", say=lambda m: print(m, file=sys.stderr))
    limits = ContainerLimits(cpus=args.cpus or None, memory_mb=args.memory_mb or None, timeout_s=timeout)
    grader = ContainerGrader(engine, image, limits, env)
    grader.zip_path = zip_path
    return grader


SETUP_ERRORS = (GradingSetupError, ContainerError, BuildError)
