"""pytest plugin of the proj4 autograder: records what happened, one JSON line per event.

Loaded with `-p proj4_grader_plugin` into the public-test run, which runs student code in the
sandbox: its events are feedback only (shown with 0 points); nothing in them is trusted or scored.
Environment:
    GRADER_EVENTS       file to append events to (JSON lines)

Events: {"event": "collected", "items": [nodeid, ...], "excluded": [...]} (the release reads it to
list the public tests the results show: names never come from the sandbox's run),
{"event": "collect_error", ...}, {"event": "test", "nodeid", "when", "outcome", ...}.

Not run here (deselected): tests marked slow; tests that need the training split (fixture
data_dir): the autograder has no data; tests marked provided, which test the provided library only
(its pretrained-weights loading, the data command) and say nothing of a submission.
"""
from __future__ import annotations

import gc
import json
import os

import protocol  # copied beside this plugin in the zip
import pytest

FIELD_LIMIT = protocol.value("event_field_chars")  # characters of any one text field; the runner truncates further


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
    if item.get_closest_marker("provided") is not None:
        return "tests the provided library only"
    if "data_dir" in getattr(item, "fixturenames", ()):
        return "needs the training split (fixture data_dir); the autograder has only the test split"
    return ""


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
    _emit({"event": "collected", "items": [i.nodeid for i in keep], "excluded": drop})


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "collect_error", "nodeid": report.nodeid,
               "message": _clip(report.longreprtext)})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.grader_exc_type = call.excinfo.typename if call.excinfo is not None else ""
    if report.failed:
        # The report holds the failure as text now; the exception, its frames and what they hold (a
        # half-built model in every failed __init__) are garbage in reference cycles, which Python
        # collects only now and then: the starter's public tests went 100 MB above the reference's.
        # Collected after failures only (a full collection per test cost the reference 45 s).
        gc.collect()
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


