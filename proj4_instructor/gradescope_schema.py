"""Gradescope's results.json format, checked field by field.

From Gradescope's autograder specifications (gradescope-autograders.readthedocs.io, "Autograder
Specifications", Output format): a top-level score (or one per test), optional execution_time,
output, visibility, stdout_visibility, extra_data, and tests, each with score, max_score, status,
name, number, output, tags, visibility; and leaderboard, a list of {name, value, order: asc|desc}
(autograder_samples' docs/leaderboards.md). Unknown keys are reported too: Gradescope ignores them, so a
misspelt key would silently lose its setting.
"""
from __future__ import annotations

from typing import Any, Dict, List

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
STATUSES = ("passed", "failed")
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")
NUMBER = (int, float)

TOP_LEVEL = {
    "score": NUMBER, "execution_time": NUMBER, "output": str, "output_format": str, "test_output_format": str,
    "test_name_format": str, "visibility": str, "stdout_visibility": str, "extra_data": dict, "tests": list,
    "leaderboard": list,
}
TEST = {
    "score": NUMBER, "max_score": NUMBER, "status": str, "name": str, "name_format": str, "number": str,
    "output": str, "output_format": str, "tags": list, "visibility": str, "extra_data": dict,
}
CHOICES = {"visibility": VISIBILITIES, "stdout_visibility": VISIBILITIES, "status": STATUSES,
           "output_format": OUTPUT_FORMATS, "test_output_format": OUTPUT_FORMATS,
           "test_name_format": OUTPUT_FORMATS, "name_format": OUTPUT_FORMATS}


def _check_fields(obj: Dict[str, Any], fields: Dict[str, Any], where: str) -> List[str]:
    """Type and allowed value of every key of `obj`; unknown keys are problems."""
    problems = []
    for key, value in obj.items():
        if key not in fields:
            problems.append(f"{where}: unknown key {key!r}")
        elif isinstance(value, bool) or not isinstance(value, fields[key]):
            problems.append(f"{where}.{key}: {value!r} is not of type {fields[key]}")
        elif key in CHOICES and value not in CHOICES[key]:
            problems.append(f"{where}.{key}: {value!r} is not one of {', '.join(CHOICES[key])}")
    return problems


def problems(results: Any) -> List[str]:
    """Every way `results` departs from the format; [] when it is valid."""
    if not isinstance(results, dict):
        return [f"results.json: a JSON object expected, got {type(results).__name__}"]
    found = _check_fields(results, TOP_LEVEL, "results")
    tests = results.get("tests", [])
    for index, test in enumerate(tests if isinstance(tests, list) else []):
        where = f"tests[{index}]"
        if not isinstance(test, dict):
            found.append(f"{where}: a JSON object expected")
            continue
        found += _check_fields(test, TEST, where)
        if "score" not in results and "score" not in test:
            found.append(f"{where}: no score, and results.json has no top-level score")
        if "tags" in test and not all(isinstance(tag, str) for tag in test["tags"] or []):
            found.append(f"{where}.tags: every tag must be a string")
    board = results.get("leaderboard", [])
    for index, entry in enumerate(board if isinstance(board, list) else []):
        where = f"leaderboard[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"name", "value", "order"} or "name" not in entry \
                or "value" not in entry:
            found.append(f"{where}: expected {{name, value[, order]}}")
            continue
        if not isinstance(entry["name"], str) or isinstance(entry["value"], bool) \
                or not isinstance(entry["value"], (int, float, str)):
            found.append(f"{where}: name must be a string and value a number or a string")
        if entry.get("order", "desc") not in ("asc", "desc"):
            found.append(f"{where}.order: {entry['order']!r} is not asc or desc")
    if "score" not in results and not tests:
        found.append("results: no score and no tests")
    return found
