"""The sandbox: run one command as the unprivileged user, with limits, and leave nothing behind.

Rule: student code runs only through `run()`: as the sandbox user (setup.sh creates it; the runner
refuses to run student code as root on Gradescope), in its own empty working folder that is the
only place it may write, with no supplementary groups, a new session, resource limits (address
space for data, processes, file size, CPU time, no core files), a wall-clock limit, and output
read through a pipe and clipped. When it ends or times out, every process of the user is killed
(kill(-1) as that user reaches the ones that left the session), so nothing it started can act
after the runner moves on. A process killed by SIGKILL that was not killed by us was most probably
stopped by the kernel's out-of-memory killer (or the memory limit), and is reported as such.
Reason: the trusted side only reads the sandbox's answer file after all of this.
"""
from __future__ import annotations

import os
import pwd
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

LOG_LIMIT = 20_000  # characters of output kept (head and tail)


class HeadTail:
    """Keeps the first and last `limit` characters of a stream of any length."""

    def __init__(self, limit: int = LOG_LIMIT):
        self.limit, self.head, self.tail, self.total = limit, "", "", 0

    def add(self, text: str) -> None:
        self.total += len(text)
        if len(self.head) < self.limit:
            room = self.limit - len(self.head)
            self.head, text = self.head + text[:room], text[room:]
        self.tail = (self.tail + text)[-self.limit:]

    def text(self) -> str:
        cut = self.total - len(self.head) - len(self.tail)
        return self.head + (f"\n[... {cut} characters cut ...]\n" if cut > 0 else "") + self.tail


@dataclass
class Limits:
    seconds: float  # wall clock
    memory_bytes: int  # RLIMIT_DATA: heap and anonymous mappings (not the mapped libraries)
    processes: int = 512  # RLIMIT_NPROC: threads and processes of the user (fork bombs)
    file_bytes: int = 256 * 2**20  # RLIMIT_FSIZE: largest file it may write (disk floods)


@dataclass
class Outcome:
    returncode: Optional[int]
    timed_out: bool
    seconds: float
    log: str

    def describe(self) -> str:
        """What happened to the process, in words for the student."""
        if self.timed_out:
            return f"stopped at the time limit after {self.seconds:.0f} s"
        if self.returncode == -signal.SIGKILL:
            return "killed by signal 9, probably out of memory"
        if self.returncode is not None and self.returncode < 0:
            return f"killed by signal {-self.returncode} ({signal.Signals(-self.returncode).name})"
        return f"ended with exit code {self.returncode}"


@dataclass
class Identity:
    uid: int
    gid: int
    name: str


def identity(name: str) -> Tuple[Optional[Identity], str]:
    """The sandbox user, or None (and why) when the grader runs as a normal user."""
    if not name or name == "none":
        return None, "student code ran as the current user (AUTOGRADER_SANDBOX_USER=none): no sandbox"
    if os.geteuid() != 0:
        return None, "student code ran as the current user (the runner is not root): no sandbox"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(f"the sandbox user {name!r} does not exist: setup.sh creates it "
                           "(AUTOGRADER_SANDBOX_USER=none grades without a sandbox, for local use only)")
    return Identity(entry.pw_uid, entry.pw_gid, name), f"student code ran as the unprivileged user {name!r}"


def _limit(limits: Limits):
    def apply():
        cpu = int(limits.seconds) + 30
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    return apply


def kill_user(user: Optional[Identity], python: str) -> None:
    """SIGKILL every process of the sandbox user (no-op without one)."""
    if user is None:
        return
    for _ in range(3):  # a process forking while we kill: go again
        subprocess.run([python, "-I", "-S", "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"], cwd="/",
                       env={"PATH": os.defpath}, user=user.uid, group=user.gid, extra_groups=[],
                       capture_output=True, timeout=60)


def run(cmd: List[str], *, cwd: Path, env: Dict[str, str], user: Optional[Identity], limits: Limits,
        python: str, log_limit: int = LOG_LIMIT) -> Outcome:
    """Run `cmd` in the sandbox and return once it and everything it started is gone."""
    kill_user(user, python)  # nothing left over from an earlier step
    ids = {"user": user.uid, "group": user.gid, "extra_groups": []} if user else {}
    log = HeadTail(log_limit)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_limit(limits),
                            **ids)

    def read():
        for chunk in iter(lambda: proc.stdout.read1(1 << 16), b""):
            log.add(chunk.decode("utf-8", "replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    kill_user(user, python)
    reader.join(timeout=10)  # a grandchild that kept the pipe open is dead now
    return Outcome(proc.returncode, timed_out, time.monotonic() - start, log.text())


def read_file(path: Path, limit: int) -> Optional[bytes]:
    """A file the sandbox wrote, or None: no symlink followed, no more than `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not os.path.stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read(limit + 1)
    return data if len(data) <= limit else None
