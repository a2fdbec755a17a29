"""Scores, computed on the trusted side only (standard library).

Rule: a check earns its points when every answer it names equals the reference's answer (numbers
within a small tolerance, everything else exactly) or satisfies its rule; an accuracy check earns
clip((accuracy - floor) / (threshold - floor), 0, 1) of its points, the accuracy being computed
here from the sandbox's predicted classes and the labels in the root-only test key, and only if
the checkpoint's own facts (facts.py) show the right class and head. Public tests are shown with
0 points. Reason: the sandbox can write any answer it likes, but it cannot read what it is
compared with, so only a correct computation scores.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import checks as checks_table

MISSING = object()
REL, ABS = 1e-3, 2e-3  # answers are rounded to 4-6 digits by answers.py


def lookup(tree, path: str):
    node = tree
    for key in path.split("/"):
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def same(answer, expected) -> bool:
    """Equal JSON values, numbers within tolerance (bool and int exactly)."""
    if isinstance(expected, bool) or isinstance(answer, bool):
        return type(answer) is type(expected) and answer == expected
    if isinstance(expected, float) or (isinstance(expected, int) and isinstance(answer, float)):
        if not isinstance(answer, (int, float)) or not math.isfinite(answer) or not math.isfinite(expected):
            return answer == expected
        return abs(answer - expected) <= ABS + REL * abs(expected)
    if isinstance(expected, list):
        return isinstance(answer, list) and len(answer) == len(expected) and all(map(same, answer, expected))
    if isinstance(expected, dict):
        return isinstance(answer, dict) and set(answer) == set(expected) and all(
            same(answer[k], expected[k]) for k in expected)
    return type(answer) is type(expected) and answer == expected


def short(value, limit: int = 300) -> str:
    text = repr(value) if value is not MISSING else "no answer"
    return text if len(text) <= limit else text[:limit] + " ..."


def judge_check(check, probes: Dict[str, dict], expected: Dict[str, dict], show_expected: bool,
                facts: Optional[dict] = None) -> Tuple[float, str]:
    """(credit, message) of one behaviour check."""
    answers = {name: entry.get("answer") for name, entry in probes.items() if isinstance(entry, dict)}
    needed = {path.split("/")[0] for path in check.paths} or ({"simple_net_final"} if check.rule else set())
    for probe in sorted(needed):
        entry = probes.get(probe)
        if not isinstance(entry, dict):
            return 0.0, f"Not run: the answers for '{probe}' are missing (the process stopped before it)"
        if "error" in entry:
            return 0.0, f"Your code raised {entry['error']}\n{str(entry.get('traceback', ''))[-2500:]}"
    if check.rule is not None:
        problem = check.rule(answers, facts or {})
        return (0.0, problem) if problem else (1.0, "")
    for path in check.paths:
        got, want = lookup(answers, path), lookup(expected, path)
        if want is MISSING:
            raise RuntimeError(f"check {check.name!r}: the reference has no answer {path}")
        if not same(got, want):
            detail = f", expected {short(want)}" if show_expected else ""
            return 0.0, f"{path}: got {short(got)}{detail}"
    return 1.0, ""


def credit(accuracy: float, threshold: float, floor: float) -> float:
    return min(1.0, max(0.0, (accuracy - floor) / (threshold - floor)))


def checkpoint_problem(part: dict, facts: Optional[dict]) -> str:
    """Why the checkpoint cannot be graded for accuracy ("" if it can), from the trusted facts."""
    class_name, name = part["class_name"], part["checkpoint"]
    if not facts or not facts.get("present"):
        return f"{name} is not in the submission: add it to your zip (see zip_submission.py)"
    if facts.get("error"):
        return f"{name} {facts['error']}; save it again with save_trained_model_weights"
    if facts.get("class_name") != class_name:
        return f"{name} holds a {facts.get('class_name')!r}, not a {class_name}"
    if facts.get("format") != "full":
        return (f"{name} is a {facts.get('format')!r} checkpoint; the grader has no ImageNet weights: save it "
                "with save_trained_model_weights(model, out_dir, compact=False)")
    kwargs = facts.get("model_kwargs")
    backbone = kwargs.get("backbone", "resnet18") if isinstance(kwargs, dict) else None
    if not isinstance(kwargs, dict) or set(kwargs) - {"backbone"} or backbone not in checks_table.FEATURES:
        return f"{name}: unexpected model_kwargs {kwargs}"
    outputs, inputs = part["outputs"], checks_table.FIXED_HEAD_INPUTS.get(class_name)
    if "backbone" in kwargs:
        inputs = checks_table.FEATURES[backbone]
    weights = [s for k, s in (facts.get("head_shapes") or {}).items() if k.endswith("weight") and len(s) == 2]
    if not weights or weights[-1][0] != outputs or (inputs and "backbone" in kwargs and weights != [[outputs, inputs]]):
        return f"{name}: the head's weights {weights} do not end in {outputs} outputs" + (
            f" from {inputs} features" if inputs and "backbone" in kwargs else "")
    if not facts.get("finite"):
        return f"{name} holds NaN or infinite values"
    return ""


def judge_accuracy(part: dict, prediction: Optional[dict], facts: Optional[dict], key: dict) -> Tuple[float, str]:
    class_name, rule = part["class_name"], part
    problem = checkpoint_problem(part, facts)
    if problem:
        return 0.0, problem
    if not isinstance(prediction, dict):
        return 0.0, "Not run: the answer process stopped before evaluating this checkpoint"
    if "error" in prediction:
        return 0.0, f"Evaluating the checkpoint with your class failed:\n{str(prediction['error'])[-1500:]}"
    answer = prediction.get("answer") or {}
    if "error" in answer:
        return 0.0, str(answer["error"])[:1500]
    if part["multilabel"]:
        flags, probs = key["flags"], answer.get("probabilities")
        if not (isinstance(probs, list) and len(probs) == len(flags)
                and all(isinstance(r, list) and len(r) == len(flags[0]) for r in probs)):
            return 0.0, f"{class_name} must return ({len(flags)}, {len(flags[0])}) probabilities"
        values = [p for row in probs for p in row]
        if not all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 for p in values):
            return 0.0, f"{class_name} must return probabilities in [0, 1] (a sigmoid)"
        right = sum((p >= 0.5) == bool(f) for row, frow in zip(probs, flags) for p, f in zip(row, frow))
        total, what = len(values), "element-wise attribute accuracy"
    else:
        labels, classes = key["labels"], answer.get("classes")
        if answer.get("shape") != [len(labels), 15] or not isinstance(classes, list) or len(classes) != len(labels):
            return 0.0, f"{class_name} returned shape {answer.get('shape')} for {len(labels)} images, expected " \
                        f"({len(labels)}, 15)"
        right = sum(type(c) is int and c == y for c, y in zip(classes, labels))
        total, what = len(labels), "accuracy"
    accuracy = right / total
    fraction = credit(accuracy, rule["threshold"], rule["floor"])
    points = checks_table.ACCURACY_POINTS
    images = len(key["flags"]) if part["multilabel"] else total
    return fraction, (f"{class_name}: test {what} {accuracy:.2%} on {images} images; threshold "
                      f"{rule['threshold']:.0%}, floor {rule['floor']:.0%}. credit = clip((accuracy - floor) / "
                      f"(threshold - floor), 0, 1) = {fraction:.3f} -> {fraction * points:.2f} / {points:g} points")


def score(answers: dict, expected: dict, facts: dict, key: dict, config: dict, answer_note: str) -> List[dict]:
    """results.json tests for the graded checks (1.x), hidden structure and accuracy (2.x)."""
    probes = answers.get("probes") if isinstance(answers.get("probes"), dict) else {}
    predictions = answers.get("predictions") if isinstance(answers.get("predictions"), dict) else {}
    tests = []

    def add(number, name, points, fraction, message, visibility):
        tests.append({"name": name, "number": number, "score": round(fraction * points, 2),
                      "max_score": float(points), "status": "passed" if fraction >= 1.0 else "failed",
                      "visibility": visibility, "output": message})

    for i, check in enumerate(checks_table.CHECKS, start=1):
        fraction, message = judge_check(check, probes, expected, show_expected=True, facts=facts)
        add(f"1.{i}", check.name, check.points, fraction, message or "", check.visibility)
    for i, check in enumerate(checks_table.HIDDEN, start=1):
        fraction, message = judge_check(check, probes, expected, show_expected=False, facts=facts)
        add(f"2.{i}", check.name, check.points, fraction, message.splitlines()[-1] if message else "",
            check.visibility)
    for j, part in enumerate(config["parts"], start=len(checks_table.HIDDEN) + 1):
        class_name = part["class_name"]
        fraction, message = judge_accuracy(part, predictions.get(class_name), facts.get(part["checkpoint"]), key)
        add(f"2.{j}", f"test-split accuracy of the submitted checkpoint [{class_name}]", checks_table.ACCURACY_POINTS,
            fraction, message, "visible")
    for test in tests:
        if answer_note and test["score"] == 0 and test["output"].startswith("Not run"):
            test["output"] += f" ({answer_note})"  # why it stopped: time limit, out of memory, exit code
    return tests


def max_score(config: dict) -> float:
    return float(sum(c.points for c in checks_table.CHECKS + checks_table.HIDDEN)
                 + checks_table.ACCURACY_POINTS * len(config["parts"]))
