"""pytest plugin of the proj4 autograder: records what happened, one JSON line per event.

Loaded with `-p proj4_grader_plugin` inside the grading process (which runs student code), so it
only records; runner.py (outside that process) decides scores. Environment:
    GRADER_EVENTS       file to append events to (JSON lines)
    GRADER_HIDDEN_DIR   folder of the hidden tests: each hidden test file is deleted from disk as
                        soon as pytest has imported it, before any student code runs (hidden tests
                        are collected first and import student code only inside test functions)

Events: {"event": "collected", "items": [...], "excluded": [...]}, {"event": "collect_error", ...},
{"event": "test", "nodeid", "when", "outcome", ...}. A test's credit is 1 when it passes, unless it
records a fraction with `record_property("score_fraction", x)` (partial credit), and the text it
records with `record_property("grader_output", text)` is shown to the student.

Not gradable here (deselected, and so left out of the manifest): tests marked slow, and tests that
need the training split (fixture data_dir): the autograder ships only the test split.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FIELD_LIMIT = 20_000  # characters kept of any one text field; the runner truncates further


def _clip(text, limit: int = FIELD_LIMIT) -> str:
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}\n[... {len(text) - limit} characters cut ...]\n{text[-limit // 2:]}"


def _emit(event: dict) -> None:
    path = os.environ.get("GRADER_EVENTS")
    if not path:
        return
    line = (json.dumps(event) + "\n").encode("utf-8", "replace")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def not_gradable(item) -> str:
    """Why the autograder cannot run this test ("" if it can)."""
    if item.get_closest_marker("slow") is not None:
        return "marked slow"
    if "data_dir" in getattr(item, "fixturenames", ()):
        return "needs the training split (fixture data_dir); the autograder has only the test split"
    return ""


def _hidden_dir():
    folder = os.environ.get("GRADER_HIDDEN_DIR")
    return Path(folder).resolve() if folder else None


def describe(item) -> dict:
    points = item.get_closest_marker("points")
    visibility = item.get_closest_marker("visibility")
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
    hidden = _hidden_dir()
    return {
        "nodeid": item.nodeid,
        "file": item.nodeid.split("::")[0],
        "doc": doc.splitlines()[0] if doc else "",
        "points": float(points.args[0]) if points and points.args else 1.0,
        "visibility": visibility.args[0] if visibility and visibility.args else "visible",
        "hidden": bool(hidden and Path(item.path).resolve().is_relative_to(hidden)),
    }


def pytest_collection_modifyitems(session, config, items):
    keep, drop = [], []
    for item in items:
        reason = not_gradable(item)
        if reason:
            drop.append({"nodeid": item.nodeid, "reason": reason})
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    _emit({"event": "collected", "items": [describe(i) for i in keep], "excluded": drop})


_rootpath = None


def pytest_configure(config):
    global _rootpath
    _rootpath = Path(config.rootpath)


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "collect_error", "nodeid": report.nodeid,
               "message": _clip(report.longreprtext)})
    hidden = _hidden_dir()
    if hidden is None or _rootpath is None:
        return
    path = (_rootpath / report.nodeid.split("::")[0]).resolve()
    if path.suffix == ".py" and path.parent == hidden:
        # This hidden module is imported now (and so are its helpers): take them off the disk
        # before the public tests are collected, which is when student code first runs.
        path.unlink(missing_ok=True)
        for helper in hidden.glob("*.py"):
            if not helper.name.startswith("test_"):
                helper.unlink(missing_ok=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.grader_exc_type = call.excinfo.typename if call.excinfo is not None else ""
    return report


def pytest_runtest_logreport(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if report.skipped and isinstance(report.longrepr, tuple):
        message = report.longrepr[2]  # (file, line, "Skipped: reason")
    else:
        message = crash.message if crash is not None else (report.longreprtext if report.failed else "")
    _emit({
        "event": "test",
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "exc_type": getattr(report, "grader_exc_type", ""),
        "message": _clip(message, 4000),
        "longrepr": _clip(report.longreprtext if report.failed else ""),
        "stdout": _clip(report.capstdout),
        "stderr": _clip(report.capstderr),
        "properties": {str(k): _clip(v, 4000) for k, v in report.user_properties},
        "duration": report.duration,
    })

