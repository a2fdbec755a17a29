"""Scores, computed on the trusted side only (standard library).

Rule: a check earns its points when every answer it names equals the trusted side's answer for
this grading's inputs (numbers within REL/ABS) and its rule finds nothing wrong; an accuracy
check earns clip((accuracy - floor) / (threshold - floor), 0, 1) of its points, the accuracy being
computed here from the trusted side's own predictions and the root-only labels. Feedback says what
is wrong in words and shapes (which answer, how many values, how far off); it never shows an
expected value, so nothing in it can be replayed (and the next grading draws new inputs anyway).
Every value read from the sandbox is checked for type and size first; a hostile or broken answer
fails the checks that read it, with a message, and nothing else.
"""
from __future__ import annotations

import math
import traceback
from typing import Dict, List, Optional, Tuple

from . import checks as table
from . import rules

MISSING = object()
RAISED = "__raised__"  # probes.py's marker: the student's code raised while computing this answer
REL, ABS = 1e-3, 1e-4
MAX_DEPTH = 8
# probes.py's: 64 step summaries, 12 plaid profiles (3 of 64 values, 3 of 40), 4 outputs of (1, 40, 64)
AUGMENT_DRAWS, VIEW_DRAWS, RAW_OUTPUTS, AUGMENT_SIZE = 64, 12, 4, (40, 64)
AUGMENT_KINDS = ("shape", "range", "flip_and_jitter", "random", "normalize", "view")
GRADER_ERROR = "The grader could not work out the reference's answer for this check (not your code's fault)"


def lookup(tree, path: str):
    node = tree
    for key in path.split("/"):
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def short(value, limit: int = 120) -> str:
    text = "no answer" if value is MISSING else repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def is_number(x) -> bool:
    """A JSON number a float can hold (an integer of 400 digits is valid JSON, and no number here)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    return isinstance(x, float) or -2**63 <= x < 2**63


def finite(x) -> bool:
    return is_number(x) and math.isfinite(x)


def shape_of(x, depth: int = 0):
    """(d1, d2, ...) of a rectangular nested list of numbers, else None."""
    if is_number(x):
        return ()
    if not isinstance(x, list) or not x or depth > MAX_DEPTH:
        return None if not isinstance(x, list) else ((0,) if not x else None)
    inner = [shape_of(item, depth + 1) for item in x]
    if inner[0] is None or any(s != inner[0] for s in inner):
        return None
    return (len(x),) + inner[0]


def flat(x) -> list:
    return [v for item in x for v in flat(item)] if isinstance(x, list) else [x]


def close(a, b, tolerance: Tuple[float, float] = (REL, ABS)) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b
    rel, absolute = tolerance
    return abs(a - b) <= absolute + rel * abs(b)


def difference(got, want, depth: int = 0, tolerance: Tuple[float, float] = (REL, ABS)) -> str:
    """How `got` differs from `want` in words ("" if it does not): types, shapes, counts and sizes of
    the differences, never `want`'s values."""
    if depth > MAX_DEPTH:
        return "is nested too deeply"
    if got is MISSING:
        return "has no answer"
    if isinstance(want, bool) or want is None or isinstance(want, str):
        if type(got) is type(want) and got == want:
            return ""
        return f"is {short(got)}, which is not what the reference gives"
    if isinstance(want, int) and not isinstance(want, bool):
        if type(got) is int and got == want:
            return ""
        return f"is {short(got)}, which is not what the reference gives"
    if isinstance(want, float):
        if is_number(got) and close(float(got), want, tolerance):
            return ""
        if not is_number(got):
            return f"is {short(got)}, not a number"
        off = abs(float(got) - want) / max(abs(want), 1e-12) if math.isfinite(got) else float("inf")
        return f"is off by {off:.1%} of the reference's value"
    if isinstance(want, list):
        if not isinstance(got, list):
            return f"is a {type(got).__name__}, not a list"
        want_shape, got_shape = shape_of(want), shape_of(got)
        if want_shape is not None:  # a numeric array
            if got_shape != want_shape:
                return f"has shape {got_shape if got_shape is not None else 'that is not rectangular'}; " \
                       f"the reference's is {want_shape}"
            wrong = [(g, w) for g, w in zip(flat(got), flat(want)) if not close(float(g), float(w), tolerance)]
            if not wrong:
                return ""
            largest = max(abs(float(g) - float(w)) for g, w in wrong)
            return f"{len(wrong)} of {len(flat(want))} values differ from the reference's (largest difference " \
                   f"{largest:.3g})"
        if len(got) != len(want):
            return f"has {len(got)} entries; the reference's has {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            inner = difference(g, w, depth + 1, tolerance)
            if inner:
                return f"entry {i} {inner}"
        return ""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"is a {type(got).__name__}, not a mapping"
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want), key=str)
        if missing or extra:
            parts = ([f"lacks {', '.join(map(str, missing[:4]))}"] if missing else []) + \
                    ([f"has extra {', '.join(short(k, 40) for k in extra[:4])}"] if extra else [])
            return " and ".join(parts)
        for key in want:
            inner = difference(got[key], want[key], depth + 1, tolerance)
            if inner:
                return f"[{key}] {inner}"
        return ""
    return "cannot be compared"  # pragma: no cover - the trusted side writes JSON types only


def describe(path: str) -> str:
    leaf = path.rsplit("/", 1)[-1]
    return f"{path} ({table.WORDS[leaf]})" if leaf in table.WORDS else path


class Evidence:
    """Everything a check may read: the sandbox's answers, the trusted side's, the test key."""

    def __init__(self, answers, trusted: dict, key: dict):
        answers = answers if isinstance(answers, dict) else {}
        probes = answers.get("probes") if isinstance(answers.get("probes"), dict) else {}
        self.errors: Dict[str, str] = {}
        self.got: Dict[str, object] = {}
        for name, entry in probes.items():
            if not isinstance(entry, dict):
                continue
            if "answer" in entry:
                self.got[name] = entry["answer"]
            elif "error" in entry:
                self.errors[name] = f"{str(entry['error'])[-600:]}\n{str(entry.get('traceback', ''))[-2000:]}"
        outputs = answers.get("checkpoint_outputs")
        self.got["checkpoint_outputs"] = outputs if isinstance(outputs, dict) else {}
        self.expected = {name: e["answer"] for name, e in trusted["expected"].items() if "answer" in e}
        self.expected["checkpoint_outputs"] = trusted["checkpoint_outputs"]
        self.unavailable = {name: e.get("unavailable") or GRADER_ERROR for name, e in trusted["expected"].items()
                            if "answer" not in e}
        self.grader_errors = [name for name, e in trusted["expected"].items() if "grader_error" in e]
        self.checkpoints = trusted["checkpoints"]
        self.key = key
        try:
            self.augmentation = augmentation_evidence(self.got.get("data_transforms"),
                                                      self.expected.get("data_transforms"),
                                                      self.errors.get("data_transforms"))
        except Exception:  # noqa: BLE001 - a value nobody foresaw costs the augmentation checks, no more
            print(f"grader error judging the augmentation outputs:\n{traceback.format_exc()}")  # the staff's log
            self.augmentation = {preset: dict.fromkeys(AUGMENT_KINDS, "the augmentation outputs cannot be judged")
                                 for preset in ("augmentation", "all")}

    def as_rule_input(self) -> dict:
        return {"checkpoints": self.checkpoints, "augmentation": self.augmentation}


def compare(path: str, ev: Evidence) -> str:
    probe = path.split("/")[0]
    if probe in ev.unavailable:
        return ev.unavailable[probe]
    if probe in ev.errors:
        return f"Your code raised an error in the grader's {probe} probe:\n{ev.errors[probe]}"
    if probe not in ev.got:
        return f"Not run: there is no answer for {probe} (your code's process stopped before it)"
    want = lookup(ev.expected, path)
    if want is MISSING:
        return GRADER_ERROR
    node, keys = ev.got, path.split("/")
    for depth, key in enumerate(keys):  # a marker on the way: the student's code raised computing it
        if isinstance(node, dict) and isinstance(node.get(key), dict) and RAISED in node[key]:
            return f"Your code raised while computing {'/'.join(keys[:depth + 1])}: {short(node[key][RAISED], 400)}"
        node = node.get(key) if isinstance(node, dict) else None
    problem = difference(lookup(ev.got, path), want, tolerance=table.TOLERANCES.get(path, (REL, ABS)))
    return f"{describe(path)} {problem}" if problem else ""


def judge_check(check: table.Check, ev: Evidence) -> Tuple[float, str]:
    """(credit, message) of one check; never raises (a failure to judge is the grader's, and said so)."""
    try:
        for path in check.paths:
            problem = compare(path, ev)
            if problem:
                return 0.0, problem
        if check.rule is not None:
            problem = check.rule(ev.as_rule_input())
            if problem:
                return 0.0, problem
        return 1.0, ""
    except Exception:  # noqa: BLE001 - a failure to judge is the grader's: logged, and this check says so
        print(f"grader error judging {check.name!r}:\n{traceback.format_exc()}")  # the staff's log
        return 0.0, GRADER_ERROR


# -- the augmentation presets, by what they do to the grader's synthetic scenes (proj4_lib/rules.py) ---------

def _numbers(x, shape) -> bool:
    return shape_of(x) == shape and all(finite(v) for v in flat(x))


def _answer_problem(entry, preset: str) -> str:
    """"" if a preset's answer has the form probes.py gives (the right output shape), else what is wrong."""
    height, width = AUGMENT_SIZE
    shapes = entry.get("shapes") if isinstance(entry, dict) else None
    wrong = (f"the {preset} preset must turn an image into a (1, {height}, {width}) float tensor for inp_size "
             f"({height}, {width}); it gave {short(shapes, 60)}")
    if not isinstance(entry, dict) or shapes != [[1, height, width]] or entry.get("dtype") != "torch.float32":
        return wrong
    outputs, step, plaid = entry.get("outputs"), entry.get("step"), entry.get("plaid")
    if not (isinstance(outputs, list) and len(outputs) == RAW_OUTPUTS
            and all(_numbers(o, (height, width)) for o in outputs)
            and _numbers(step, (AUGMENT_DRAWS, 4)) and isinstance(plaid, list) and len(plaid) == VIEW_DRAWS
            and all(isinstance(p, list) and len(p) == 2 and _numbers(p[0], (3, width)) and _numbers(p[1], (3, height))
                    for p in plaid)):
        return wrong
    return ""


def augmentation_evidence(got, expected, error: Optional[str]) -> Dict[str, Dict[str, str]]:
    """For each augmentation preset, what is wrong ("" = nothing) with its shape, range, flips and jitter,
    randomness, view and (get_all_transforms) normalisation, judged by proj4_lib/rules.py (the rules the
    notebook and the public tests apply) on what it did to this grading's step and plaid images."""
    out = {}
    sources = expected.get("sources") if isinstance(expected, dict) else None
    if not (isinstance(expected, dict) and isinstance(expected.get("mean_std"), list) and isinstance(sources, dict)):
        return {preset: dict.fromkeys(AUGMENT_KINDS, GRADER_ERROR) for preset in ("augmentation", "all")}
    numbers = [sources.get("dark"), sources.get("bright"), *expected["mean_std"]]
    if len(numbers) != 4 or not all(finite(v) for v in numbers) or not numbers[3]:
        return {preset: dict.fromkeys(AUGMENT_KINDS, GRADER_ERROR) for preset in ("augmentation", "all")}
    dark, bright, mean, std = numbers[0] / 255, numbers[1] / 255, numbers[2], numbers[3]
    summaries = {}
    for preset in ("augmentation", "all"):
        if error:
            out[preset] = dict.fromkeys(AUGMENT_KINDS,
                                        f"Your code raised an error in the data_transforms probe:\n{error}")
            continue
        entry = got.get(preset) if isinstance(got, dict) else None
        wrong = _answer_problem(entry, preset)
        if wrong:
            out[preset] = dict.fromkeys(AUGMENT_KINDS, wrong)
            continue
        step, outputs = entry["step"], entry["outputs"]
        if preset == "all":  # judged in [0, 1]: Normalize undone with the mean and std it was given
            step = rules.unnormalize(step, mean, std)
            outputs = [[[v * std + mean for v in row] for row in o] for o in outputs]
        what = f"the {preset} preset" + (" (Normalize undone with the mean and std it was given)"
                                         if preset == "all" else "")
        found = rules.augmentation_problems(step, entry["plaid"], dark, bright, what)
        low, high = min(min(flat(o)) for o in outputs), max(max(flat(o)) for o in outputs)
        if not found["range"] and (low < -0.02 or high > 1.02):
            found["range"] = f"{what}'s values span [{low:.2f}, {high:.2f}]; they must stay in [0, 1]"
        if not found["random"] and all(o == outputs[0] for o in outputs) and all(s == step[0] for s in step):
            found["random"] = f"the {preset} preset gives the same output in all {AUGMENT_DRAWS} draws"
        out[preset] = {"shape": "", "range": found["range"], "flip_and_jitter": found["flip"] or found["jitter"],
                       "random": found["random"], "view": found["view"], "normalize": ""}
        summaries[preset] = step
    if "augmentation" in summaries and "all" in summaries:
        out["all"]["normalize"] = rules.normalize_problem(summaries["augmentation"], summaries["all"], dark, bright)
    return out


# -- accuracy ---------------------------------------------------------------------------------------------

def credit(accuracy: float, threshold: float, floor: float) -> float:
    return min(1.0, max(0.0, (accuracy - floor) / (threshold - floor)))


def judge_accuracy(part: dict, ev: Evidence) -> Tuple[float, str, Optional[float]]:
    """(credit, message, accuracy) of a part's checkpoint, from the trusted side's predictions."""
    class_name = part["class_name"]
    entry = ev.checkpoints.get(class_name) or {"problem": f"{part['checkpoint']} was not evaluated"}
    if "problem" in entry:
        return 0.0, str(entry["problem"]), None
    for path in table.accuracy_gates(part, entry.get("backbone")):
        problem = compare(path, ev)
        if problem:
            return 0.0, (f"Your {class_name} class does not compute what the grader evaluated from "
                         f"{part['checkpoint']}, so its accuracy does not count: {problem}\nThe accuracy is "
                         f"graded for the class you submit: train and save it with the code in your zip."), None
    key = ev.key
    if part["task"] == "multi":
        flags = entry.get("flags") or []
        rows = [flags[i] for i in key["attribute_index"]]
        right = sum(int(p == f) for row, frow in zip(rows, key["flags"]) for p, f in zip(row, frow))
        total, what = sum(len(r) for r in key["flags"]), "element-wise attribute accuracy"
        images = len(key["flags"])
    else:
        right = sum(int(c == y) for c, y in zip(entry.get("classes") or [], key["labels"]))
        total = images = len(key["labels"])
        what = "accuracy"
    accuracy = right / total
    fraction = credit(accuracy, part["threshold"], part["floor"])
    points = part_points(part)
    backbone = f" (backbone {entry['backbone']})" if entry.get("backbone") else ""
    return fraction, (f"{class_name}{backbone}: test {what} {accuracy:.2%} on {images} images, evaluated by the "
                      f"grader from your checkpoint's weights; threshold {part['threshold']:.0%}, floor "
                      f"{part['floor']:.0%}. credit = clip((accuracy - floor) / (threshold - floor), 0, 1) = "
                      f"{fraction:.3f} -> {fraction * points:.2f} / {points:g} points"), accuracy


# -- the results ----------------------------------------------------------------------------------------------

def headline(message: str) -> str:
    """A hidden check's message, one line: the first, with the line after it where the first only
    announces what follows ("Your code raised an error in the grader's simple_net probe:")."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def score(ev: Evidence, config: dict, answer_note: str = "") -> Tuple[List[dict], List[dict]]:
    """(results.json tests, leaderboard): the checks (1.x), the hidden checks and accuracy (2.x)."""
    tests, leaderboard = [], []

    def add(number, name, points, fraction, message, visibility):
        if answer_note and fraction < 1 and message.startswith("Not run"):
            message += f" ({answer_note})"
        tests.append({"name": name, "number": number, "score": round(fraction * points, 2),
                      "max_score": float(points), "status": "passed" if fraction >= 1.0 else "failed",
                      "visibility": visibility, "output": message})

    for i, check in enumerate(table.CHECKS, start=1):
        fraction, message = judge_check(check, ev)
        add(f"1.{i}", check.name, check.points, fraction, message, check.visibility)
    for i, check in enumerate(table.HIDDEN, start=1):
        fraction, message = judge_check(check, ev)
        add(f"2.{i}", check.name, check.points, fraction, headline(message), check.visibility)
    for j, part in enumerate(config["parts"], start=len(table.HIDDEN) + 1):
        try:
            fraction, message, accuracy = judge_accuracy(part, ev)
        except Exception:  # noqa: BLE001 - a failure to judge is the grader's: logged, and this check says so
            print(f"grader error judging the accuracy of {part['class_name']}:\n{traceback.format_exc()}")
            fraction, message, accuracy = 0.0, GRADER_ERROR, None
        add(f"2.{j}", f"test-split accuracy of the submitted checkpoint [{part['class_name']}]",
            part_points(part), fraction, message, "visible")
        if accuracy is not None:
            tests[-1]["extra_data"] = {"accuracy": round(accuracy, 6)}  # for the TA's regrade report
        if part.get("leaderboard"):
            leaderboard.append({"name": f"Part {part['number']} {part['class_name']} test accuracy (%)",
                                "value": round(100 * accuracy, 2) if accuracy is not None else 0.0,
                                "order": "desc"})
    return tests, leaderboard


def part_points(part: dict) -> float:
    """A part's accuracy points (the registry's, in config.json; older configs: checks.ACCURACY_POINTS)."""
    return part.get("points", table.ACCURACY_POINTS)


def max_score(config: dict) -> float:
    return float(sum(c.points for c in table.CHECKS + table.HIDDEN) + sum(part_points(p) for p in config["parts"]))
