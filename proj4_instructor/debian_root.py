"""A clean Debian root to run things in, as a Gradescope container would (for `proj4-instructor rehearse`).

    base_root(cache, mirror, log)       a cached tarball of a debootstrap minbase root (+ GNU time)
    reserve_host_ids(root)              this machine's system uids/gids taken in the root
    mounted_system(root, binds)         /proc, /sys, /dev/shm and read-only binds for a chroot
    chroot(root, command, log, ...)     a command in the root, in its own PID namespace
    pip_environment(pip_settings())     this machine's pip configuration, carried into the root
    limits(name, cpus, memory_mb)       a cgroup with Gradescope's CPU share (and a memory limit)

Needs root (debootstrap, chroot, mount, cgroups). What is run in the root, and what is checked, is
proj4_instructor/rehearse.py.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

SUITE = "bookworm"
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RehearsalError(RuntimeError):
    """The rehearsal failed; the message names the step, file or value."""


# -- running things -----------------------------------------------------------------------------

def run(command: List[str], log: Optional[Path] = None, **kwargs) -> subprocess.CompletedProcess:
    """Run `command`; its output goes to `log` (appended) or through; a non-zero exit raises RehearsalError."""
    with ExitStack() as stack:
        out = stack.enter_context(open(log, "ab")) if log else None
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT if out else None,
                              stdin=subprocess.DEVNULL, check=False, **kwargs)
    if done.returncode != 0:
        where = f"; see {log}" if log else ""
        raise RehearsalError(f"`{shlex.join(command)}` exited with {done.returncode}{where}")
    return done


# -- 1. the clean Debian root -------------------------------------------------------------------

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
    raise RehearsalError(f"no Debian archive in {', '.join(str(f) for f in files)}: pass --mirror URL")


def ensure_debootstrap(log: Path) -> None:
    """Install debootstrap with apt-get when it is missing."""
    if shutil.which("debootstrap"):
        return
    run(["apt-get", "update"], log)
    run(["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"], log, env={
        **os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def build_base(tarball: Path, mirror: str, log: Path) -> None:
    """debootstrap a minbase root, add GNU time (to measure from inside), pack it as `tarball`."""
    ensure_debootstrap(log)
    with tempfile.TemporaryDirectory(prefix="base-", dir=tarball.parent) as tmp:
        root = Path(tmp) / "root"
        run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror], log)
        shutil.copy2("/etc/resolv.conf", root / "etc" / "resolv.conf")
        with mounted_system(root):
            chroot(root, ["apt-get", "update"], log)
            chroot(root, ["apt-get", "install", "-y", "--no-install-recommends", "time"], log)
            chroot(root, ["apt-get", "clean"], log)
        shutil.rmtree(root / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        (root / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True)
        partial = tarball.with_suffix(".partial")
        run(["tar", "--numeric-owner", "-C", str(root), "-cpf", str(partial), "."], log)
        os.replace(partial, tarball)


def base_root(cache: Path, mirror: str, log: Path) -> Path:
    """The cached tarball of the clean root, built if missing."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"debian-{SUITE}-minbase.tar"
    if not tarball.is_file():
        print(f"building the clean {SUITE} root from {mirror} (cached as {tarball}) ...", flush=True)
        build_base(tarball, mirror, log)
    return tarball


# -- mounts and chroot --------------------------------------------------------------------------

def mount(stack: ExitStack, args: List[str], target: Path) -> None:
    """mount ARGS TARGET, unmounted (lazily if busy) when `stack` closes."""
    if not target.exists():
        target.mkdir(parents=True)
    subprocess.run(["mount", *args, str(target)], check=True)
    stack.callback(subprocess.run, ["umount", "-l", str(target)], check=False)


def bind_read_only(stack: ExitStack, source: Path, target: Path) -> None:
    """Bind `source` (file or folder) at `target`, read-only."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    mount(stack, ["--bind", str(source)], target)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)


@contextmanager
def mounted_system(root: Path, binds: Tuple[Tuple[Path, Path], ...] = ()) -> Iterator[None]:
    """/proc, /sys (read-only), a tmpfs /dev/shm and the read-only `binds` (host path, path in root)."""
    with ExitStack() as stack:
        mount(stack, ["-t", "proc", "proc"], root / "proc")
        mount(stack, ["-t", "sysfs", "-o", "ro", "sysfs"], root / "sys")
        mount(stack, ["-t", "tmpfs", "-o", "mode=1777", "tmpfs"], root / "dev" / "shm")
        for host, inside in binds:
            bind_read_only(stack, host, root / inside.relative_to("/"))
        yield


def chroot(root: Path, command: List[str], log: Path, env: Optional[Dict[str, str]] = None, cwd: str = "/",
           cgroup: Optional["Cgroup"] = None) -> subprocess.CompletedProcess:
    """Run `command` in the chroot as root with a clean environment (`env` added), output to `log`.

    In its own PID namespace, as in a Gradescope container: the runner ends the sandbox user's
    processes with kill(-1), which would otherwise reach any process of the same uid on this machine
    (and another grader's kill(-1) would reach ours).
    """
    clean = {"PATH": CHROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
             **(env or {})}
    inner = ["env", "-i", *(f"{k}={v}" for k, v in clean.items()), "sh", "-c", 'cd "$0" && exec "$@"', cwd,
             *command]
    isolated = ["unshare", "--pid", "--fork", "--mount", f"--mount-proc={root / 'proc'}", "chroot", str(root)]
    return run([*isolated, *inner], log, preexec_fn=cgroup.enter if cgroup else None)


# -- this machine's pip configuration, carried into the root -------------------------------------

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


def pip_environment(settings: Dict[str, str]) -> Tuple[Dict[str, str], Tuple[Tuple[Path, Path], ...]]:
    """PIP_* variables for the root and the read-only binds they need.

    Folders keep their path (index pages may link by absolute path); a local index brings its parent
    folder (its pages link to ../../files). Files go under /run/host-pip:
    a package in the root may own the same path (ca-certificates writes /etc/ssl/certs' bundle).
    """
    env, binds = {}, {}
    for key, value in settings.items():
        for path in local_paths(value):
            inside = path if path.is_dir() else Path("/run/host-pip") / path.relative_to("/")
            # An index's pages link to its files relative to it (../../files/...): bind the folder above.
            shared = path.parent if key.endswith("index-url") else path
            binds[shared] = shared if path.is_dir() else inside
            value = value.replace(str(path), str(inside))
        env["PIP_" + key.upper().replace("-", "_")] = value
    return env, tuple(binds.items())


# -- Gradescope's CPU share and memory ----------------------------------------------------------

@dataclass
class Cgroup:
    """A cgroup (v1 cpu and memory controllers) that the grading run is put in."""

    folders: Tuple[Path, ...]

    def enter(self) -> None:
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def max_usage_mb(self) -> Optional[float]:
        for folder in self.folders:
            if (folder / "memory.max_usage_in_bytes").is_file():
                return int((folder / "memory.max_usage_in_bytes").read_text()) / 2**20
        return None


def controller_folder(controller: str) -> Path:
    """This process's folder of a cgroup v1 controller, e.g. /sys/fs/cgroup/memory/<path>."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            folder = Path("/sys/fs/cgroup") / controller / path.lstrip("/")
            if folder.is_dir():
                return folder
    raise RehearsalError(f"no cgroup v1 {controller!r} controller in /proc/self/cgroup (cgroup v2 is not "
                         f"supported): run with --cpus 0 and --memory-mb 0")


@contextmanager
def limits(name: str, cpus: float, memory_mb: int) -> Iterator[Optional[Cgroup]]:
    """A fresh cgroup with a CPU quota of `cpus` (0: none) and a memory limit (0: none, only measured).

    Without a memory controller the peak is not measured there (GNU time still measures it).
    """
    folders = []
    try:
        try:
            memory = controller_folder("memory") / name
        except RehearsalError:
            if memory_mb:
                raise
            memory = None
        if memory:
            memory.mkdir()
            folders.append(memory)
        if memory and memory_mb:
            (memory / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
        if cpus:
            cpu = controller_folder("cpu") / name
            cpu.mkdir()
            folders.append(cpu)
            period = int((cpu / "cpu.cfs_period_us").read_text())
            (cpu / "cpu.cfs_quota_us").write_text(str(int(period * cpus)))
        yield Cgroup(tuple(folders))
    finally:
        for folder in reversed(folders):
            for _ in range(50):  # the last processes may still be exiting
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


# -- this machine's system ids, taken in the root ---------------------------------------------

SYSTEM_IDS = range(100, 1000)  # useradd/groupadd --system take the highest free id below 1000


def ids_in(table: Path) -> set:
    """The numeric ids (third field) of an /etc/passwd or /etc/group file."""
    return {int(line.split(":")[2]) for line in table.read_text().splitlines() if line.count(":") >= 3}


def reserve_host_ids(root: Path, host_etc: Path = Path("/etc")) -> None:
    """Give the root a placeholder account for every system uid/gid this machine uses.

    A chroot shares uids and the kernel with this machine, so setup.sh's `useradd --system` would
    give the sandbox user the uid of a host account (this machine's own proj4grader, say), and a
    grader on the host ending its user's processes with kill(-1) would kill ours. With the host's
    ids taken, the sandbox user gets a uid no process outside the rehearsal has.
    """
    for table, line in (("passwd", "proj4-host-{0}:x:{0}:{0}::/nonexistent:/usr/sbin/nologin\n"),
                        ("group", "proj4-host-{0}:x:{0}:\n")):
        taken = ids_in(root / "etc" / table)
        wanted = sorted((ids_in(host_etc / table) & set(SYSTEM_IDS)) - taken)
        with open(root / "etc" / table, "a") as out:
            out.writelines(line.format(number) for number in wanted)
