"""Grading in containers, as Gradescope grades: one image per autograder zip, one fresh container per submission.

    engine = find_engine()                                   # podman or docker, whichever is installed
    image = autograder_image(engine, "autograder.zip", base)  # built once per zip and base (tagged by hash)
    graded = grade_in_container(engine, image, "sub.zip", Path("out"))  # results.json, measurements, log

The image is built the way Gradescope builds it: the base image, the zip unpacked at
/autograder/source, run_autograder copied to /autograder, setup.sh run unchanged as root. A grading
is a new container from that image with no network, Gradescope's default limits (half a CPU, 768
MB) and a process limit; the submission is copied in (no bind mount: nothing of this machine is
inside), /autograder/run_autograder runs, results/ is copied out, the container is removed. The
runner inside keeps its own sandbox (on Gradescope it is the only layer); each container gets its
sandbox an id of no account (AUTOGRADER_SANDBOX_UID), so gradings at once never share a uid.
Reason: a container gives by construction what a grading on the host had to chase: no file of the
TA's machine (the reference solution, other submissions, the roster), private /tmp and /dev/shm, no
view of other processes, memory and CPU limits, Gradescope's environment.

Proven here with Podman 4.3 (runc, cgroup v1) on a Debian bookworm base built with debootstrap
(base_images.py); Docker is driven by the same commands (create, cp, start, commit, rm), see
README "For TAs" for what was run with it.
"""
from __future__ import annotations

import hashlib
import json
import os
import pwd
import resource
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ENGINES = ("podman", "docker")
GRADESCOPE_BASE = "gradescope/autograder-base:ubuntu-22.04"  # Gradescope's default base image
IMAGE_REPOSITORY = "localhost/proj4-autograder"
INSTALL_HINT = ("install Podman or Docker: on Debian/Ubuntu `sudo apt-get install podman` (or `docker.io`), on "
                "Fedora `sudo dnf install podman`, on macOS/Windows Podman Desktop or Docker Desktop")
NOFILE = 4096  # open files per process (the engines' defaults can exceed what the host allows)
# Processes per uid (RLIMIT_NPROC counts a uid's processes on the whole machine, the containers' root
# too): within what this machine allows, which an engine's default may exceed.
NPROC = min(16384, resource.getrlimit(resource.RLIMIT_NPROC)[1])
ULIMITS = ["--ulimit", f"nofile={NOFILE}:{NOFILE}", "--ulimit", f"nproc={NPROC}:{NPROC}"]
SANDBOX_UIDS = (200_000, 2**31 - 2)  # ids of no account for the runner's sandbox, one per container


class ContainerError(RuntimeError):
    """An engine command failed, or no engine is there; the message says which and what to do."""


@dataclass(frozen=True)
class Engine:
    name: str  # "podman" or "docker"
    binary: str

    def command(self, *args: str) -> List[str]:
        return [self.binary, *args]

    def run(self, *args: str, log: Optional[Path] = None, timeout: Optional[float] = None,
            check: bool = True) -> subprocess.CompletedProcess:
        """An engine command; its output goes to `log` (appended) or is captured."""
        cmd = self.command(*args)
        try:
            if log is not None:
                with open(log, "ab") as out:
                    done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          timeout=timeout, check=False)
            else:
                done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                      timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ContainerError(f"`{shlex.join(cmd)}` did not finish in {timeout:.0f} s") from None
        if check and done.returncode != 0:
            said = f"; see {log}" if log else f": {(done.stderr or done.stdout or '').strip()[-800:]}"
            raise ContainerError(f"`{shlex.join(cmd)}` exited with {done.returncode}{said}")
        return done

    def image_exists(self, tag: str) -> bool:
        return self.run("image", "inspect", tag, check=False).returncode == 0

    def remove(self, container: str) -> None:
        self.run("rm", "--force", container, check=False, timeout=120)


def find_engine(name: Optional[str] = None) -> Engine:
    """The container engine: `name` if given, else Podman, else Docker. ContainerError says how to
    install one when there is none, or that the engine does not answer (a Docker daemon not started)."""
    names = [name] if name else list(ENGINES)
    for candidate in names:
        if candidate not in ENGINES:
            raise ContainerError(f"unknown engine {candidate!r}; choose one of {', '.join(ENGINES)}")
        binary = shutil.which(candidate)
        if binary is None:
            continue
        engine = Engine(candidate, binary)
        probe = engine.run("info", check=False, timeout=120)
        if probe.returncode != 0:
            if name:
                raise ContainerError(f"{candidate} is installed but does not answer (`{candidate} info`: "
                                     f"{(probe.stderr or '').strip()[-300:]}); start its service or use another "
                                     "engine")
            continue
        return engine
    wanted = name or " or ".join(ENGINES)
    raise ContainerError(f"no working container engine ({wanted}) on this machine: {INSTALL_HINT}. Without "
                         "one, `--unsafe-local` grades on this machine with no isolation (only for code you trust)")


# -- the image -------------------------------------------------------------------------------------------------

def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def image_tag(engine: Engine, autograder_zip: Path, base_image: str, build_env: Dict[str, str]) -> str:
    """The image's tag: a hash of the zip, the base image's id and what the build was given."""
    base = engine.run("image", "inspect", "--format", "{{.Id}}", base_image, check=False)
    if base.returncode != 0:
        raise ContainerError(f"the base image {base_image} is not on this machine: `{engine.name} pull "
                             f"{base_image}` (or build one: `proj4-instructor base-image`)")
    key = json.dumps([file_digest(autograder_zip), base.stdout.strip(), sorted(build_env.items())])
    return f"{IMAGE_REPOSITORY}:{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def unpack_autograder(zip_path: Path, root: Path) -> Path:
    """root/autograder/source from the zip (executable bits as Gradescope's unzip keeps them) and
    root/autograder/run_autograder, as Gradescope lays them out before setup.sh."""
    source = root / "autograder" / "source"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(source)
    for script in ("setup.sh", "run_autograder"):
        if not (source / script).is_file():
            raise ContainerError(f"{zip_path} has no {script} at its top: is it an autograder zip?")
        os.chmod(source / script, 0o755)
    shutil.copy2(source / "run_autograder", root / "autograder" / "run_autograder")
    return source


def autograder_image(engine: Engine, autograder_zip: Path, base_image: str = GRADESCOPE_BASE, *,
                     build_env: Optional[Dict[str, str]] = None, binds: Sequence[Tuple[Path, Path]] = (),
                     log: Optional[Path] = None, say=print) -> str:
    """The image for this zip and base (built if not there yet): setup.sh run unchanged, as root, with
    network (it installs packages). `build_env` and `binds` (read-only, build time only) point setup.sh
    at local package folders; neither is in the image. Returns the tag."""
    build_env = dict(build_env or {})
    tag = image_tag(engine, Path(autograder_zip), base_image, build_env)
    if engine.image_exists(tag):
        return tag
    say(f"building the grading image {tag} from {base_image} (setup.sh; once per autograder zip) ...")
    name = f"proj4-build-{secrets.token_hex(6)}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(build_env.items()))
    script = f"cd /autograder/source && env {env} DEBIAN_FRONTEND=noninteractive bash ./setup.sh"
    volumes = [a for host, inside in binds for a in ("--volume", f"{host}:{inside}:ro")]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="proj4-image-") as tmp:
        unpack_autograder(Path(autograder_zip), Path(tmp))
        try:
            engine.run("create", "--name", name, *ULIMITS, *volumes, base_image,
                       "bash", "-c", script)
            engine.run("cp", str(Path(tmp) / "autograder"), f"{name}:/")
            done = engine.run("start", "--attach", name, log=log, check=False, timeout=3600)
            if done.returncode != 0:
                tail = log.read_text(errors="replace")[-2000:] if log and log.is_file() else ""
                raise ContainerError(f"setup.sh failed in {base_image} (exit {done.returncode}); its output "
                                     f"ends with:\n{tail}")
            engine.run("commit", name, tag)
        finally:
            engine.remove(name)
    say(f"built {tag} in {time.monotonic() - start:.0f} s")
    return tag


# -- one grading -------------------------------------------------------------------------------------------------

@dataclass
class ContainerLimits:
    """A grading container's limits: Gradescope's default container by default."""

    cpus: Optional[float] = 0.5  # None: no CPU quota
    memory_mb: Optional[int] = 768  # None: no memory limit
    pids: int = 1024  # processes and threads in the container (fork bombs)
    timeout_s: float = 900.0  # the container's wall clock, from its start (the runner's deadline is 560 s)

    def flags(self) -> List[str]:
        flags = ["--network", "none", "--pids-limit", str(self.pids), *ULIMITS]
        if self.cpus:
            flags += ["--cpus", f"{self.cpus:g}"]
        if self.memory_mb:
            flags += ["--memory", f"{self.memory_mb}m", "--memory-swap", f"{self.memory_mb}m"]
        return flags


@dataclass
class Graded:
    """What one grading gave: results.json (None if it wrote none), the runner's measurements, the log."""

    results: Optional[dict]
    measurements: dict
    log: str
    wall_s: float
    timed_out: bool = False
    problem: str = ""
    extra: Dict[str, str] = field(default_factory=dict)  # files the caller asked to copy out, by name


def sandbox_uid() -> int:
    """An id no account of this machine has, drawn per container (see the module docstring)."""
    taken = {p.pw_uid for p in pwd.getpwall()}
    while True:
        uid = SANDBOX_UIDS[0] + secrets.randbelow(SANDBOX_UIDS[1] - SANDBOX_UIDS[0])
        if uid not in taken:
            return uid


def stage_submission(submission: Path, into: Path) -> Path:
    """into/submission/ holding the submission as Gradescope has it: a folder's files, or a zip as it is
    (the runner's intake reads zips within its bounds; nothing is unpacked on this machine)."""
    folder = into / "submission"
    folder.mkdir(parents=True)
    submission = Path(submission)
    if submission.is_dir():
        shutil.copytree(submission, folder, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(submission, folder / submission.name)
    return folder


def grade_in_container(engine: Engine, image: str, submission: Path, out: Path, *,
                       limits: Optional[ContainerLimits] = None, env: Optional[Dict[str, str]] = None,
                       copy_out: Sequence[str] = ()) -> Graded:
    """Grade `submission` (a zip or a folder) in a fresh container of `image`; out/ gets results.json,
    measurements.json and run_autograder.log (mode 0600: the TA's alone). `copy_out`: paths in the
    container to bring back too (the tests' spy), as text."""
    limits = limits or ContainerLimits()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    name = f"proj4-grade-{secrets.token_hex(6)}"
    variables = {"AUTOGRADER_SANDBOX_UID": str(sandbox_uid()), **(env or {})}
    env_flags = [a for k, v in sorted(variables.items()) for a in ("--env", f"{k}={v}")]
    log_path = out / "run_autograder.log"
    start = time.monotonic()
    timed_out, problem = False, ""
    try:
        engine.run("create", "--name", name, *limits.flags(), *env_flags, image, "/autograder/run_autograder")
        with tempfile.TemporaryDirectory(prefix="proj4-submission-") as tmp:
            stage_submission(submission, Path(tmp))
            engine.run("cp", str(Path(tmp) / "submission"), f"{name}:/autograder/")
        with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as log:
            proc = subprocess.Popen(engine.command("start", "--attach", name), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            try:
                proc.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:  # as Gradescope's own limit would: no results.json from it
                timed_out, problem = True, f"the grading did not finish in {limits.timeout_s:.0f} s"
                engine.run("kill", name, check=False, timeout=120)
                proc.wait()
        extra = {}
        with tempfile.TemporaryDirectory(prefix="proj4-results-") as tmp:
            got = engine.run("cp", f"{name}:/autograder/results", tmp, check=False)
            results_dir = Path(tmp) / "results"
            results = _read_json(results_dir / "results.json") if got.returncode == 0 else None
            measurements = _read_json(results_dir / "measurements.json") or {}
            if results is not None and not timed_out:
                _private_copy(results_dir / "results.json", out / "results.json")
            if (results_dir / "measurements.json").is_file():
                _private_copy(results_dir / "measurements.json", out / "measurements.json")
            for index, path in enumerate(copy_out):
                target = Path(tmp) / f"extra-{index}"
                if engine.run("cp", f"{name}:{path}", str(target), check=False).returncode == 0:
                    extra[path] = _text_of(target)
    finally:
        engine.remove(name)
    if timed_out:
        results = None
    elif results is None:
        problem = "the grading wrote no results.json"
    return Graded(results, measurements, log_path.read_text(errors="replace") if log_path.is_file() else "",
                  time.monotonic() - start, timed_out, problem, extra)


def _read_json(path: Path) -> Optional[dict]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _private_copy(src: Path, dst: Path) -> None:
    """A copy readable by its owner only (a regrade's results are students' records)."""
    with open(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(src.read_bytes())
    os.chmod(dst, 0o600)


def _text_of(path: Path) -> str:
    """A file, or a folder's files joined, as text (what a test copies out of a container)."""
    if path.is_file():
        return path.read_text(errors="replace")
    return "\n".join(p.read_text(errors="replace") for p in sorted(path.rglob("*")) if p.is_file())
