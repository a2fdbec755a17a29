"""Submissions for the grading tests: zips laid out as students make them, and what to check in results."""
import json
import re
import zipfile
from pathlib import Path
from typing import Dict, Iterable, Optional

from proj4_instructor.gradescope_schema import problems

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE = REPO_ROOT / "proj4_code"


def write_zip(path: Path, code: Path = REFERENCE, *, overrides: Optional[Dict[str, str]] = None,
              checkpoints: Optional[Dict[str, bytes]] = None, files: Optional[Iterable[str]] = None,
              prefix: str = "", extra: Optional[Dict[str, bytes]] = None) -> Path:
    """A zip as zip_submission.py makes it: {prefix}proj4_code/*.py (from `code`, or only `files` of it)
    with `overrides` {name: text}, {prefix}model_output/*.pt, and `extra` {path in the zip: bytes}."""
    with zipfile.ZipFile(path, "w") as zf:
        names = sorted(f.name for f in code.glob("*.py")) if files is None else list(files)
        for name in [n for n in names if n not in (overrides or {})]:
            zf.writestr(f"{prefix}proj4_code/{name}", (code / name).read_text())
        for name, text in (overrides or {}).items():
            zf.writestr(f"{prefix}proj4_code/{name}", text)
        for name, data in (checkpoints or {}).items():
            zf.writestr(f"{prefix}model_output/{name}", data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def check_results(results: dict) -> None:
    """results.json as Gradescope's specification wants it, consistent, valid UTF-8 and small."""
    assert problems(results) == []
    body = json.dumps(results, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert len(body) < 1_000_000
    body.decode("utf-8", "strict")
    numbers = [t["number"] for t in results["tests"]]
    assert len(set(numbers)) == len(numbers), numbers
    for test in results["tests"]:
        assert {"name", "number", "score", "max_score", "status", "visibility", "output"} <= set(test)
        assert 0 <= test["score"] <= test["max_score"] + 1e-9
        assert test["status"] == ("passed" if test["score"] >= test["max_score"] else "failed") or \
            test["max_score"] == 0
    assert abs(results["score"] - sum(t["score"] for t in results["tests"])) <= 0.011


def graded(results: dict) -> float:
    """The score, once the results are checked and the public tests (3.x) are seen to carry no points."""
    check_results(results)
    assert all(t["max_score"] == 0 for t in results["tests"] if t["number"].startswith("3."))
    return results["score"]


def lost(results: dict) -> list:
    return [(t["number"], t["name"], t["output"][:300]) for t in results["tests"] if t["score"] < t["max_score"]]


def by_name(results: dict) -> dict:
    return {t["name"]: t for t in results["tests"]}


# Where the root side of a grading keeps its files (the grader's source and results, the trusted step's
# folder, the runner's package) and the TA commands' temporary folders on the host: none may reach a
# student. A traceback frame may name only what the student's own code runs on (its work folder, the
# venv, the standard library).
GRADER_PATHS = ("/autograder/source", "/autograder/results", "/autograder/work/trusted", "proj4_autograder",
                "trusted_code", "/tmp/proj4-", "/tmp/pytest-of-")
STUDENT_FRAMES = ("/autograder/work/", "/autograder/venv/", "/usr/lib/python3", "<frozen ", "<string>")


def grader_internals(results: dict) -> list:
    """(what, where) of every grader path and every traceback frame outside the student's side in a
    results.json: [] when the student sees none."""
    found = []

    def walk(value):
        if isinstance(value, str):
            for mark in GRADER_PATHS:
                if mark in value:
                    at = value.index(mark)
                    found.append((mark, value[max(0, at - 100):at + 100]))
            for frame in re.findall(r'File "([^"]*)"', value):
                if not frame.startswith(STUDENT_FRAMES):
                    found.append(("traceback frame", frame))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(results)
    return found
