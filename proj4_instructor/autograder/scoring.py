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

MISSING = object()
RAISED = "__raised__"  # probes.py's marker: the student's code raised while computing this answer
REL, ABS = 1e-3, 1e-4
MAX_DEPTH = 8
AUGMENT_DRAWS, AUGMENT_SIZE = 20, (16, 48)  # probes.py's: 20 outputs of (1, 16, 48)
# The step image's ramp (values 10-90 % of the way from dark to bright) spans 16 % of its width: 7.7 of
# 48 columns unzoomed, 11 at the 70 % crop the rules allow (measured: 11 at most in 20 draws); a
# preset whose ramp ever spans RAMP_LIMIT columns shows less than ~60 % of the width.
RAMP_LIMIT = 13
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


def close(a, b) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b
    return abs(a - b) <= ABS + REL * abs(b)


def difference(got, want, depth: int = 0) -> str:
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
        if is_number(got) and close(float(got), want):
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
            wrong = [(g, w) for g, w in zip(flat(got), flat(want)) if not close(float(g), float(w))]
            if not wrong:
                return ""
            largest = max(abs(float(g) - float(w)) for g, w in wrong)
            return f"{len(wrong)} of {len(flat(want))} values differ from the reference's (largest difference " \
                   f"{largest:.3g})"
        if len(got) != len(want):
            return f"has {len(got)} entries; the reference's has {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            inner = difference(g, w, depth + 1)
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
            inner = difference(got[key], want[key], depth + 1)
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
            self.augmentation = {preset: dict.fromkeys(("shape", "range", "flip_and_jitter", "random", "normalize"),
                                                       "the augmentation outputs cannot be judged")
                                 for preset in ("augmentation", "all")}

    def as_rule_input(self) -> dict:
        return {"checkpoints": self.checkpoints, "augmentation": self.augmentation}


def compare(path: str, ev: Evidence) -> str:
    probe = path.split("/")[0]
    if probe in ev.unavailable:
        extra = ev.checkpoints.get("SimpleNetFinal", {}).get("problem", "") if probe == "simple_net_final" else ""
        return ev.unavailable[probe] + (f": {extra}" if extra else "")
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
    problem = difference(lookup(ev.got, path), want)
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
    except Exception:  # noqa: BLE001
        print(f"grader error judging {check.name!r}:\n{traceback.format_exc()}")  # the staff's log
        return 0.0, GRADER_ERROR


# -- the augmentation presets, by what they do to the grader's step image ------------------------------

def _median(values: list) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _ramp_columns(image: list, low: float, high: float) -> int:
    """How many columns of an output lie on the step image's ramp (10-90 % from its dark to bright level)."""
    span = high - low
    if span < 0.1:
        return 0
    columns = [sum(row[j] for row in image) / len(image) for j in range(len(image[0]))]
    return sum(1 for c in columns if low + 0.1 * span < c < high - 0.1 * span)


def augmentation_evidence(got, expected, error: Optional[str]) -> Dict[str, Dict[str, str]]:
    """For each augmentation preset, what is wrong ("" = nothing) with its shape, range, flip and
    jitter, and randomness, from its 20 outputs for the step image (dark left, bright right; see
    probes.step_image): a flip puts the dark side right; a brightness or contrast jitter moves the
    levels of the two sides; a crop keeping 70 % of the view moves neither."""
    kinds = ("shape", "range", "flip_and_jitter", "random", "normalize", "view")
    height, width = AUGMENT_SIZE
    out = {}
    for preset in ("augmentation", "all"):
        if error:
            out[preset] = dict.fromkeys(kinds, f"Your code raised an error in the data_transforms probe:\n{error}")
            continue
        entry = got.get(preset) if isinstance(got, dict) else None
        outputs = entry.get("outputs") if isinstance(entry, dict) else None
        if not isinstance(expected, dict) or not isinstance(expected.get("mean_std"), list):
            out[preset] = dict.fromkeys(kinds, GRADER_ERROR)
            continue
        if not (isinstance(outputs, list) and len(outputs) == AUGMENT_DRAWS
                and all(shape_of(o) == (height, width) for o in outputs)
                and all(finite(v) for o in outputs for v in flat(o))):
            shapes = entry.get("shapes") if isinstance(entry, dict) else None
            out[preset] = dict.fromkeys(kinds, f"the {preset} preset must turn an image into a (1, {height}, {width}) "
                                               f"float tensor for inp_size ({height}, {width}); it gave "
                                               f"{short(shapes, 60)}")
            continue
        mean, std = expected["mean_std"]
        images = [[[v * std + mean if preset == "all" else v for v in row] for row in o] for o in outputs]
        problems = dict.fromkeys(kinds, "")
        low = min(v for o in images for v in flat(o))
        high = max(v for o in images for v in flat(o))
        if low < -0.02 or high > 1.02:
            problems["range"] = (f"the {preset} preset's values span [{low:.2f}, {high:.2f}]"
                                 + (" after undoing Normalize(mean, std) with the mean and std it was given"
                                    if preset == "all" else "") + "; they must stay in [0, 1]")
        edge = max(1, width // 8)  # columns that stay on one side under any crop that keeps 70 % of the view
        sides = [([v for row in o for v in row[:edge]], [v for row in o for v in row[-edge:]]) for o in images]
        flipped = [_median(left) > _median(right) for left, right in sides]
        levels = [(min(_median(a), _median(b)), max(_median(a), _median(b))) for a, b in sides]
        spread = max(max(lv[i] for lv in levels) - min(lv[i] for lv in levels) for i in (0, 1))
        if all(flipped) or not any(flipped):
            problems["flip_and_jitter"] = (f"the {preset} preset never flips the image horizontally in "
                                           f"{AUGMENT_DRAWS} draws (RandomHorizontalFlip)" if not any(flipped) else
                                           f"the {preset} preset flips every image: a flip must be random")
        elif spread < 0.05:
            problems["flip_and_jitter"] = (f"the {preset} preset never changes brightness or contrast in "
                                           f"{AUGMENT_DRAWS} draws (ColorJitter with brightness and/or contrast)")
        if all(o == outputs[0] for o in outputs):
            problems["random"] = f"the {preset} preset gives the same output in all {AUGMENT_DRAWS} draws"
        widest = max(_ramp_columns(o, low, high) for o, (low, high) in zip(images, levels))
        if widest >= RAMP_LIMIT:
            problems["view"] = (f"the {preset} preset zooms in too far: a crop or shift must keep at least 70 % of "
                                "the image's width and height in view")
        problems["levels"] = [_median([lv[i] for lv in levels]) for i in (0, 1)]
        out[preset] = problems
    # Normalize with the given mean and std: undone with them, "all" must look like "augmentation".
    plain, normalized = out["augmentation"].pop("levels", None), out["all"].pop("levels", None)
    if plain and normalized and any(abs(a - b) > 0.08 for a, b in zip(plain, normalized)):
        out["all"]["normalize"] = ("undoing Normalize(mean, std) with the mean and std get_all_transforms was given "
                                   "does not bring its images back to the augmentation preset's levels: does it "
                                   "normalise with exactly those?")
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
    points = table.ACCURACY_POINTS
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
        except Exception:  # noqa: BLE001
            print(f"grader error judging the accuracy of {part['class_name']}:\n{traceback.format_exc()}")
            fraction, message, accuracy = 0.0, GRADER_ERROR, None
        add(f"2.{j}", f"test-split accuracy of the submitted checkpoint [{part['class_name']}]",
            table.ACCURACY_POINTS, fraction, message, "visible")
        if accuracy is not None:
            tests[-1]["extra_data"] = {"accuracy": round(accuracy, 6)}  # for the TA's regrade report
        if part.get("leaderboard"):
            leaderboard.append({"name": f"Part {part['number']} {part['class_name']} test accuracy (%)",
                                "value": round(100 * accuracy, 2) if accuracy is not None else 0.0,
                                "order": "desc"})
    return tests, leaderboard


def max_score(config: dict) -> float:
    return float(sum(c.points for c in table.CHECKS + table.HIDDEN) + table.ACCURACY_POINTS * len(config["parts"]))
