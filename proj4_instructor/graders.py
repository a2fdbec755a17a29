"""Grading on this machine with the autograder's own runner: sandbox users, checks, parallel workers.

Each worker k grades as its own sandbox user (proj4grader, proj4grader1, proj4grader2, ...) in its
own folder: the runner kills every process of ITS user between steps, so two workers never see or
kill each other's processes. As root, a missing user is created the way setup.sh creates it
(useradd --system) and the caller is told. Before grading, the user must be able to run the
grading Python and import its packages; if not, grading stops with what to change. Without root
there is no sandbox: `allow_unsandboxed=True` grades as the current user, isolated from nothing.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

from proj4_instructor.autograder import sandbox

# Worker k's user is SANDBOX_USER + k (k > 0); PROJ4_GRADER_USERS names another base (two test
# runs on one machine must not share users: the runner kills every process of its user).
SANDBOX_USER = os.environ.get("PROJ4_GRADER_USERS", "proj4grader")
PACKAGES = "torch, torchvision, timm, pytest, PIL, numpy"


class GradingSetupError(RuntimeError):
    """This machine cannot grade as asked; the message says what to change."""


class GradingTimeout(RuntimeError):
    """A grading ran past the time given to it (every process it started is stopped)."""


def worker_user(worker: int) -> str:
    return SANDBOX_USER if worker == 0 else f"{SANDBOX_USER}{worker}"


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_user(name: str) -> str:
    """Create the sandbox user as setup.sh does if it is missing; returns what was done ("" = nothing)."""
    if user_exists(name):
        return ""
    done = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                           name],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise GradingSetupError(f"cannot create the sandbox user {name!r} with useradd: {done.stderr.strip()}")
    return f"created the sandbox user {name!r} (useradd --system, as setup.sh does on Gradescope)"


def blocked_folder(path: str) -> Optional[Path]:
    """The first folder on the way to `path` (as given, and once links are resolved) that other users
    cannot enter (no o+x), if any."""
    for way in (Path(os.path.abspath(path)), Path(os.path.realpath(path))):
        for parent in reversed(way.parents):
            if not parent.stat().st_mode & stat.S_IXOTH:
                return parent
    return None


def check_python(name: str, python: str) -> None:
    """GradingSetupError unless the user `name` can run `python` and import the grading packages."""
    blocked = blocked_folder(python)
    if blocked is not None:
        raise GradingSetupError(
            f"the sandbox user {name!r} cannot run the grading Python {os.path.realpath(python)}: {blocked} "
            f"(mode {stat.S_IMODE(blocked.stat().st_mode):o}) does not let other users through. Either let them "
            f"through (chmod o+x {blocked}; the files stay unreadable to them unless their own modes allow it), or "
            f"grade from a Python environment outside a private home, e.g. python3 -m venv /opt/proj4-venv")
    entry = pwd.getpwnam(name)
    try:
        done = subprocess.run([python, "-c", f"import {PACKAGES}"], user=entry.pw_uid, group=entry.pw_gid,
                              extra_groups=[], cwd="/", env={"PATH": os.defpath}, capture_output=True, text=True,
                              timeout=300)
    except OSError as err:
        raise GradingSetupError(f"the sandbox user {name!r} cannot run the grading Python {python}: {err}") from None
    if done.returncode != 0:
        raise GradingSetupError(f"the sandbox user {name!r} cannot import the grading packages ({PACKAGES}) "
                                f"with {python}: {done.stderr.strip().splitlines()[-1:]}. Make the environment "
                                f"readable by other users (chmod -R a+rX on it) or grade from one that is")


def prepare_workers(workers: int, python: str = sys.executable, allow_unsandboxed: bool = False,
                    say: Callable[[str], None] = print) -> List[str]:
    """The sandbox user of each worker ("none" without a sandbox), created and checked."""
    if os.geteuid() != 0:
        if not allow_unsandboxed:
            raise GradingSetupError("grading runs student code; as root it runs it as an unprivileged sandbox "
                                    "user. Run as root (sudo), or pass --no-sandbox to grade as yourself with NO "
                                    "isolation (only for code you trust)")
        say("WARNING: not root: student code runs as you, with your files and processes in reach; nothing "
            "is isolated")
        return ["none"] * workers
    users = [worker_user(k) for k in range(workers)]
    for name in users:
        note = ensure_user(name)
        if note:
            say(note)
    check_python(users[0], python)
    return users


def run_in_mimic(source: Path, submission: Path, root: Path, env: Optional[Dict[str, str]] = None,
                 python: str = sys.executable, timeout: Optional[float] = None) -> dict:
    """Run the autograder in `source` on `submission` (zip or folder) under `root`; returns results.json.

    `root` becomes the /autograder stand-in: source/ is copied there (the runner rewrites work/),
    the submission goes to submission/ as Gradescope puts it there (an uploaded zip unpacked).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # the sandbox user passes through it to work/ (which the runner closes to others)
    # source/ and submission/ are root's alone before anything is copied in: another worker's sandbox
    # user must not read the reference solution, the test key or a submission while they are copied
    if not (root / "source").exists():
        (root / "source").mkdir(mode=0o700)
        shutil.copytree(source, root / "source", symlinks=True, dirs_exist_ok=True)
    os.chmod(root / "source", 0o700)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    if (root / "submission").exists():
        shutil.rmtree(root / "submission")
    (root / "submission").mkdir(mode=0o700)
    submission = Path(submission)
    if submission.is_dir():
        shutil.copytree(submission, root / "submission", symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(submission, root / "submission" / submission.name)
    os.chmod(root / "submission", 0o700)
    run_env = {**os.environ, "AUTOGRADER_ROOT": str(root.resolve()), "AUTOGRADER_PYTHON": python, **(env or {})}
    log = root / "run_autograder.log"
    with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        proc = subprocess.Popen(["bash", str(root / "run_autograder")], env=run_env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # as Gradescope's own limit would: the grading gets no result
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            user = (env or {}).get("AUTOGRADER_SANDBOX_USER", SANDBOX_USER)
            if user != "none" and user_exists(user):
                sandbox.kill_uid(pwd.getpwnam(user).pw_uid)
            raise GradingTimeout(f"the grading did not finish in {timeout:.0f} s") from None
    return json.loads((root / "results" / "results.json").read_text())


def unpack_autograder(zip_path: Path, dest: Path) -> Path:
    """A built autograder zip -> dest (what Gradescope does before setup.sh)."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    for script in ("setup.sh", "run_autograder"):
        os.chmod(dest / script, 0o755)
    return dest


class Grader:
    """Grades submissions with one built autograder source, on worker k's sandbox user.

    with Grader(source, users) as grader: grader.grade(submission, worker=k) -> results.json
    """

    def __init__(self, source: Path, users: List[str], env: Optional[Dict[str, str]] = None,
                 python: str = sys.executable, keep: Optional[Path] = None):
        self.source, self.users, self.env, self.python, self.keep = Path(source), users, env or {}, python, keep
        self.base = Path(tempfile.mkdtemp(prefix="proj4-grading-"))
        os.chmod(self.base, 0o755)  # mkdtemp's 0700 would keep the sandbox users out

    def grade(self, submission: Path, worker: int = 0, name: str = "submission",
              log_to: Optional[Path] = None, timeout: Optional[float] = None) -> dict:
        """results.json of `submission`, graded by worker `worker`; its log copied to `log_to`."""
        root = (self.keep or self.base) / f"{name}-w{worker}" / "autograder"
        if root.exists():
            shutil.rmtree(root)
        env = {**self.env, "AUTOGRADER_SANDBOX_USER": self.users[worker]}
        try:
            return run_in_mimic(self.source, submission, root, env=env, python=self.python, timeout=timeout)
        finally:
            if log_to is not None and (root / "run_autograder.log").is_file():
                shutil.copy2(root / "run_autograder.log", log_to)
            if self.keep is None:
                shutil.rmtree(root.parent, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
