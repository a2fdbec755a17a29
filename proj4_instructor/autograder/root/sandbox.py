"""The sandbox: run one command as the unprivileged user, with limits, and leave nothing behind.

Rule: student code runs only through `run()`, as the sandbox user: no supplementary groups, no new
privileges (setuid programs do not elevate), a new session, its own network namespace where the
kernel allows one, an OOM score that makes it the kernel's first choice, resource limits (data
size, processes, file size, CPU time, no core files), a wall clock, and a watchdog that counts what
RLIMIT_DATA does not (shared memory: RssShmem and /dev/shm) and the files it writes. When it ends,
ROOT kills every process of that uid, by scanning /proc, until none is left (a process of the user
cannot kill root's loop, as it could kill a killer of its own uid), reaps them (the runner is the
child subreaper), deletes what the user left in the shared writable folders (/tmp, /var/tmp,
/dev/shm, ...) and removes its System V IPC objects (shared memory, queues, semaphores: they
outlive every process; POSIX message queues are refused by RLIMIT_MSGQUEUE = 0). The watchdog's
memory counts SysV shared memory and memory-backed or deleted files held open too. If a process
survives all that, `SandboxBreach` stops the grading loudly.
Reason: the trusted side reads the sandbox's files only after all of this, and the next step (or
the next grading on the same machine) starts from nothing the user made.

Without a sandbox user (a non-root runner, or AUTOGRADER_SANDBOX_USER=none: local use only) the
command runs as the current user, in its own process group, with the limits but no isolation.
"""
from __future__ import annotations

import ctypes
import fcntl
import grp
import os
import pwd
import resource
import signal
import socket
import stat
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from . import protocol

LOG_LIMIT = protocol.value("log_chars")  # characters of output kept (head and tail)
SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock", "/var/lock", "/run/shm", "/var/crash")
CLONE_NEWNET = 0x40000000
SIOCSIFFLAGS, IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x8914, 0x1, 0x8, 0x40
PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 38, 36
KILL_SECONDS = protocol.value("kill")  # a process in uninterruptible sleep (a flush to disk) dies once it wakes
IPC_RMID = 0
IPC_KINDS = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}  # /proc/sysvipc/<kind> -> its control call

_libc = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child must not dlopen


class SandboxBreach(RuntimeError):
    """A process of the sandbox user survived every attempt to kill it."""


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
    memory_bytes: int  # RLIMIT_DATA, and the watchdog's limit on private + shared memory
    processes: int = 256  # RLIMIT_NPROC: processes and threads of the user (fork bombs)
    file_bytes: int = 256 * 2**20  # RLIMIT_FSIZE: the largest file it may write
    disk_bytes: int = 1 * 2**30  # the watchdog's limit on its folder and what it owns in SHARED_DIRS
    disk_files: int = 20_000  # ... and on the number of files there (inodes)
    cleanup_seconds: float = 20.0  # removing what it left in shared folders, in-process, then stopped


@dataclass
class Outcome:
    returncode: Optional[int]
    timed_out: bool
    seconds: float
    log: str
    stopped_for: str = ""  # "memory" or "disk" when the watchdog stopped it
    peak_mb: float = 0.0  # the watchdog's largest reading of private + shared memory
    max_rss_mb: float = 0.0  # the process's peak resident size (wait4; its waited-for children included)
    notes: List[str] = field(default_factory=list)

    def describe(self) -> str:
        """What happened to the process, in words for the student."""
        if self.stopped_for:
            return f"stopped: it went over the {self.stopped_for} limit"
        if self.timed_out:
            return f"stopped at the time limit after {self.seconds:.0f} s"
        if self.returncode == -signal.SIGKILL:
            return "killed by signal 9, probably out of memory"
        if self.returncode is not None and self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = "unknown"
            return f"killed by signal {-self.returncode} ({name})"
        return f"ended with exit code {self.returncode}"


@dataclass
class Identity:
    uid: int
    gid: int
    name: str


def identity(name: str, uid: Optional[int] = None) -> Tuple[Optional[Identity], str]:
    """The sandbox user, or None (and why) when student code runs as the current user.

    `uid`: an id of no account, for this grading alone (uid and gid; `proj4-instructor grade` draws one
    per container): RLIMIT_NPROC counts a uid's processes across the whole machine, so two containers
    whose sandbox users share a uid could exhaust each other's."""
    if not name or name == "none":
        return None, "student code ran as the current user (AUTOGRADER_SANDBOX_USER=none): no sandbox"
    if os.geteuid() != 0:
        return None, "student code ran as the current user (the runner is not root): no sandbox"
    if uid is not None:
        taken = {p.pw_uid for p in pwd.getpwall()} | {g.gr_gid for g in grp.getgrall()}
        if uid < 1000 or uid in taken:
            raise RuntimeError(f"the sandbox uid {uid} is below 1000 or belongs to an account")
        return Identity(uid, uid, f"uid {uid}"), f"student code ran as the unprivileged uid {uid} (no account)"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(f"the sandbox user {name!r} does not exist: setup.sh creates it "
                           "(`proj4-instructor grade` creates it when run as root)") from None
    if entry.pw_uid == 0:
        raise RuntimeError(f"the sandbox user {name!r} is root")
    sharing = sorted(p.pw_name for p in pwd.getpwall() if p.pw_gid == entry.pw_gid and p.pw_uid != entry.pw_uid)
    try:
        sharing += [m for m in grp.getgrgid(entry.pw_gid).gr_mem if m != name]
    except KeyError:
        pass
    if sharing:  # the work folder is opened to this group: it must be the user's alone
        raise RuntimeError(f"the sandbox user {name!r} shares its group (gid {entry.pw_gid}) with {sharing[:5]}: "
                           "create it with its own group (useradd --system --user-group)")
    return Identity(entry.pw_uid, entry.pw_gid, name), f"student code ran as the unprivileged user {name!r}"


def become_subreaper() -> None:
    """Orphans of the sandbox become the runner's children, so it can reap them (Linux)."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# -- processes of a uid ------------------------------------------------------------------------------

def processes_of(uid: int) -> List[int]:
    """Live (not zombie) processes with `uid` as real, effective, saved or filesystem uid."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                status = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids = fields.get("Uid", "").split()
        if str(uid) in uids and not fields.get("State", "").strip().startswith(("Z", "X")):
            found.append(int(entry.name))
    return found


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid`, from root, until none is left; SandboxBreach if one survives."""
    start, pause = time.monotonic(), 0.005
    while time.monotonic() - start < KILL_SECONDS:
        pids = processes_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)  # stopped first: a stopped process forks no more
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap()
        time.sleep(pause)
        pause = min(0.5, pause * 2)
    left = processes_of(uid)
    if left:
        raise SandboxBreach(f"processes {left[:10]} of uid {uid} survived {KILL_SECONDS} s of SIGKILL")


# -- System V IPC: objects that outlive every process (shared memory holds memory no process counts) --

def ipc_objects(uid: int) -> List[Tuple[str, int, int]]:
    """(kind, id, resident bytes) of the SysV shared memory segments, message queues and semaphore
    sets that `uid` owns or created."""
    found = []
    for kind in IPC_KINDS:
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        head = lines[0].split() if lines else []
        for line in lines[1:]:
            row = dict(zip(head, line.split()))
            if str(uid) in (row.get("uid"), row.get("cuid")):
                ident = int(row.get("shmid") or row.get("msqid") or row.get("semid") or -1)
                found.append((kind, ident, int(row.get("rss", 0)) if kind == "shm" else 0))
    return found


def _rmid(objects: List[Tuple[str, int, int]]) -> None:
    for kind, ident, _ in objects:
        getattr(_libc, IPC_KINDS[kind])(ident, *((0,) if kind == "sem" else ()), IPC_RMID, None)


def remove_ipc(uid: int) -> int:
    """Remove every SysV IPC object of `uid`; returns how many were removed. Root may where it holds
    CAP_SYS_ADMIN; a container's root does not (Podman's and Docker's defaults), so what is left is
    removed by a child that takes `uid`: IPC_RMID allows an object's owner and creator."""
    objects = ipc_objects(uid)
    if not objects:
        return 0
    _rmid(objects)
    left = ipc_objects(uid)
    if left:
        pid = os.fork()
        if pid == 0:  # only os calls and libc (loaded before any fork) until _exit
            try:
                os.setresuid(uid, uid, uid)
                _rmid(left)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    return len(objects) - len(ipc_objects(uid))


def _tmpfs_devices() -> set:
    """st_dev of every memory-backed file system mounted here (tmpfs, ramfs)."""
    devices = set()
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if " - " in line and line.split(" - ", 1)[1].split()[0] in ("tmpfs", "ramfs"):
                    major, minor = fields[2].split(":")
                    devices.add(os.makedev(int(major), int(minor)))
    except (OSError, ValueError, IndexError):
        pass
    return devices


def held_files(pids: List[int]) -> Tuple[int, int]:
    """(memory, disk) bytes of the files the processes hold open that no folder scan finds and no RSS
    shows until mapped: memfds and files on memory-backed file systems (memory), deleted files on
    disk (disk). Each file counted once."""
    seen, memory, disk = set(), 0, 0
    tmpfs = None
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if not target.startswith("/"):
                    continue  # pipes, sockets, anonymous inodes
                info = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            if tmpfs is None:
                tmpfs = _tmpfs_devices()
            if target.startswith("/memfd:") or info.st_dev in tmpfs:
                memory += info.st_blocks * 512 if (target.startswith("/memfd:") or info.st_nlink == 0
                                                   or target.endswith(" (deleted)")) else 0
            elif info.st_nlink == 0:
                disk += info.st_blocks * 512
    return memory, disk


def memory_of(uid: int) -> int:
    """Bytes of private and shared memory held by the processes of `uid` (RssAnon + RssShmem), the
    memory-backed and deleted files they hold open, and the SysV shared memory the user made
    (attached, filled and detached, it is in no process's RSS)."""
    pids = processes_of(uid)
    total = held_files(pids)[0] + sum(rss for _, _, rss in ipc_objects(uid))
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(("RssAnon:", "RssShmem:")):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _shared(info: os.stat_result) -> bool:
    """A folder anyone may write in (like /tmp): where a user's files can hide inside others' folders."""
    return stat.S_ISDIR(info.st_mode) and bool(info.st_mode & stat.S_IWOTH)


def owned_usage(folders, uid: int, budget: int, scan_limit: int = 200_000) -> Tuple[int, int]:
    """(bytes, files) that `uid` owns under `folders`: inside its own folders and inside folders anyone
    may write in; stops once `budget` files are counted or `scan_limit` entries looked at."""
    size = files = seen = 0
    stack = [Path(f) for f in folders]
    while stack and files <= budget and seen < scan_limit:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid == uid:
                files += 1
                size += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode) and (info.st_uid == uid or _shared(info)):
                stack.append(Path(entry.path))
    return size, files


def clean_shared_dirs(uid: int, deadline: Optional[float] = None) -> Removal:
    """Delete what `uid` owns in the folders anyone may write in (SHARED_DIRS and world-writable
    folders inside them), in this process, until `deadline` (time.monotonic()). Its own step folders
    are the runner's to remove."""
    done = Removal()
    stack = [Path(top) for top in SHARED_DIRS]
    seen = 0
    while stack and seen < 200_000:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid == uid:
                remove(Path(entry.path), deadline, done)
            elif _shared(info):
                stack.append(Path(entry.path))
    return done


@dataclass
class Removal:
    """What a removal did: entries removed, and entries left when its time ran out (or it could not)."""
    removed: int = 0
    left: int = 0
    seconds: float = 0.0

    def note(self, where: str) -> List[str]:
        if self.left:
            return [f"left {self.left} entries in {where} (removal stopped after {self.seconds:.1f} s)"]
        return [f"removed {self.removed} entries it left in {where}"] if self.removed else []


def remove(path: Path, deadline: Optional[float] = None, done: Optional[Removal] = None) -> Removal:
    """Delete a file or a tree of any depth, in this process, without following links, until
    `deadline` (time.monotonic(); None: no limit). Iterative (no recursion limit, whatever the depth)
    and one unlink per entry: no process per entry, so its time follows the entries' count, which the
    watchdog bounds. Called once every process of the sandbox user is dead (nothing moves under it)."""
    done = done if done is not None else Removal()
    start = time.monotonic()
    stack = [(Path(path), False)]
    while stack:
        if deadline is not None and time.monotonic() > deadline:
            done.left += len(stack)
            break
        current, opened = stack.pop()
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            continue
        except OSError:
            done.left += 1
            continue
        if not stat.S_ISDIR(info.st_mode):
            try:
                os.unlink(current)
                done.removed += 1
            except OSError:
                done.left += 1
            continue
        if opened:
            try:
                os.rmdir(current)
                done.removed += 1
            except OSError:
                done.left += 1
            continue
        stack.append((current, True))
        try:
            with os.scandir(current) as scan:
                stack.extend((Path(entry.path), False) for entry in scan)
        except OSError:
            pass
    done.seconds += time.monotonic() - start
    return done


# -- running a command --------------------------------------------------------------------------------

def _child_setup(user: Optional[Identity], limits: Limits):
    """preexec_fn: runs in the child after fork, as root, before exec. Only os calls (no imports)."""
    def apply():
        os.setsid()
        if user is not None and _libc.unshare(CLONE_NEWNET) == 0:  # best effort: containers may refuse
            _loopback_up()  # tests may serve files on 127.0.0.1; nothing else is reachable
        cpu = int(limits.seconds) + 30
        for what, value in ((resource.RLIMIT_DATA, limits.memory_bytes), (resource.RLIMIT_FSIZE, limits.file_bytes),
                            (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_CORE, 0),
                            (resource.RLIMIT_NPROC, limits.processes),
                            (resource.RLIMIT_MSGQUEUE, 0)):  # POSIX message queues outlive processes
            resource.setrlimit(what, (value, value))
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if user is not None:
            os.setgroups([])
            os.setgid(user.gid)
            os.setuid(user.uid)
    return apply


def _loopback_up() -> None:
    """Bring up `lo` in a new network namespace (as root, in the child)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING))
    except OSError:
        pass


def network_isolated(user: Optional[Identity]) -> bool:
    """Whether a child of this root process can get a network namespace of its own."""
    if user is None:
        return False
    done = subprocess.run(["true"], preexec_fn=lambda: os._exit(0 if _libc.unshare(CLONE_NEWNET) == 0 else 1),
                          check=False)
    return done.returncode == 0


def run(cmd: List[str], *, cwd: Path, env: Dict[str, str], user: Optional[Identity], limits: Limits,
        log_limit: int = LOG_LIMIT, watch: Optional[List[Path]] = None) -> Outcome:
    """Run `cmd` in the sandbox and return once it and everything it started is gone."""
    if user is not None:
        kill_uid(user.uid)  # nothing left over from an earlier step or grading
    log = HeadTail(log_limit)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=_child_setup(user, limits),
                            close_fds=True)

    def read():
        for chunk in iter(lambda: proc.stdout.read1(1 << 16), b""):
            log.add(chunk.decode("utf-8", "replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stopped, peak, max_rss = _watch(proc, user, limits, watch or [cwd], start)
    timed_out = stopped == "time"
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    notes = []
    if user is not None:
        kill_uid(user.uid)
        reap()
        removal = clean_shared_dirs(user.uid, time.monotonic() + limits.cleanup_seconds)
        ipc = remove_ipc(user.uid)
        notes = removal.note("shared folders") + ([f"removed {ipc} System V IPC objects it left"] if ipc else [])
    reader.join(timeout=10)  # a grandchild that kept the pipe open is dead now
    return Outcome(proc.returncode, timed_out, time.monotonic() - start, log.text(),
                   "" if stopped in ("", "time") else stopped, peak / 2**20, max_rss, notes)


def _watch(proc: subprocess.Popen, user: Optional[Identity], limits: Limits, folders: List[Path],
           start: float) -> Tuple[str, int, float]:
    """Wait for `proc`, checking memory and disk 5 times a second; returns (why it was
    stopped: "" if it ended, "time", "memory" or "disk"; the peak of private + shared memory seen;
    the process's own peak resident size in MB, from wait4, when it ended by itself)."""
    peak, tick = 0, 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return "", peak, usage.ru_maxrss / 1024
        time.sleep(0.2)
        tick += 1
        if time.monotonic() - start > limits.seconds:
            return "time", peak, 0.0
        if user is None:
            continue
        used = memory_of(user.uid) + owned_usage(["/dev/shm"], user.uid, limits.disk_files)[0]
        peak = max(peak, used)
        if used > limits.memory_bytes:
            return "memory", peak, 0.0
        # every tick: a file flood is stopped within one period, so the removal after it is bounded too
        size, files = owned_usage([*folders, *SHARED_DIRS], user.uid, limits.disk_files)
        if files <= limits.disk_files and tick % 5 == 0:
            size += held_files(processes_of(user.uid))[1]  # deleted but still open: no scan finds them
        if size > limits.disk_bytes or files > limits.disk_files:
            return "disk", peak, 0.0


def read_file(path: Path, limit: int) -> Optional[bytes]:
    """A file the sandbox wrote, or None: no symlink followed, no more than `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read(limit + 1)
    return data if len(data) <= limit else None
