"""The rules the graded checks enforce, written once (provided; standard library only).

The notebook's checks and the public tests (through proj4_lib/expectations.py) and the autograder's
checks (proj4_instructor/autograder/root/checks.py and scoring.py, which use their own copy of this
file, made from it at release) all judge with these functions, so a rule cannot say one thing in
the notebook and another at grading. Each takes plain data (lists, dicts and numbers: what a
tensor's .tolist() gives, or what the autograder's JSON holds) and returns "" when the rule holds,
or a message that names the rule. Standard library only: the autograder's trusted runner reads it
without torch.

    Part 2, SimpleNetFinal (the layer list of proj4_lib/architecture.py):
        design_problem(spec)         >= 3 Conv2d, a BatchNorm2d, >= 2 Linear, a Dropout with p > 0,
                                     a non-linearity after every Conv2d
    Part 2, the augmentation presets, judged by what they do to three synthetic images:
        step_image, plaid_image      the images (gray values 0-255, as lists of rows)
        step_summary, plaid_profiles what an output shows of them (the autograder sends these)
        augmentation_problems        flip, jitter (present, centred, not too strong), view, range, random
        normalize_problem            get_all_transforms = the augmentation preset + Normalize(mean, std)
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

# -- Part 2: SimpleNetFinal's design ---------------------------------------------------------------------
# At least this many of each layer type (Residual blocks opened: their layers count).
DESIGN_MINIMUM = (("Conv2d", 3), ("BatchNorm2d", 1), ("Linear", 2))
DROPOUTS = ("Dropout", "Dropout1d", "Dropout2d")
# What counts as the non-linearity every conv block needs (a Conv2d followed by another without one
# in between is one linear map: the extra layer adds nothing).
NONLINEARITIES = ("ReLU", "LeakyReLU", "PReLU", "ReLU6", "ELU", "GELU", "SiLU", "Mish", "Hardswish", "Softplus",
                  "Tanh", "Sigmoid")
CONTAINERS = ("Residual",)  # layers that hold a list of layers (proj4_lib.architecture.Residual)


def leaves(items: Sequence) -> List[list]:
    """[kind, args] of every layer of a description list (proj4_lib.architecture), Residual blocks opened,
    in forward order."""
    out = []
    for kind, args in items:
        if kind in CONTAINERS:
            out.append([kind, {}])  # the skip connection itself: a marker in the order of layers
            out += leaves(args.get("layers", []))
        else:
            out.append([kind, args])
    return out


def design_counts(spec: dict) -> Dict[str, int]:
    """{layer type: how many} over conv_layers and fc_layers, and "dropping": Dropouts with p > 0."""
    counts = {"dropping": 0}
    for kind, args in leaves(spec["conv_layers"]) + leaves(spec["fc_layers"]):
        counts[kind] = counts.get(kind, 0) + 1
        if kind in DROPOUTS and float(args.get("p", 0)) > 0:
            counts["dropping"] += 1  # Dropout(p=0) is a layer that does nothing
    return counts


def design_problem(spec: dict, name: str = "SimpleNetFinal") -> str:
    """Part 2's design rules on a layer list (architecture.describe's): "" or what is wrong."""
    conv_kinds = [kind for kind, _ in leaves(spec["conv_layers"]) if kind not in CONTAINERS]
    return design_problem_from(design_counts(spec), conv_kinds, name)


def design_problem_from(counts: dict, conv_kinds: Optional[Sequence[str]] = None, name: str = "SimpleNetFinal") -> str:
    """design_problem on what the autograder's trusted side records of a checkpoint's layer list: the
    counts (design_counts) and the kinds of conv_layers' layers in order (None: not known, not judged)."""
    for kind, least in DESIGN_MINIMUM:
        if counts.get(kind, 0) < least:
            return f"{name} needs at least {least} {kind}; it has {counts.get(kind, 0)}"
    if not any(counts.get(kind, 0) for kind in DROPOUTS):
        return f"{name} needs a Dropout (nn.Dropout, Dropout1d or Dropout2d with p > 0); it has none"
    if not counts.get("dropping", 0):
        return f"{name} needs a Dropout that drops something: it has only p = 0"
    kinds = list(conv_kinds or [])
    convs = [i for i, kind in enumerate(kinds) if kind == "Conv2d"]
    for n, start in enumerate(convs):
        block = kinds[start:convs[n + 1] if n + 1 < len(convs) else len(kinds)]
        if not any(kind in NONLINEARITIES for kind in block):
            return (f"{name}'s conv block {n + 1} ({' -> '.join(block)}) has no non-linearity: every Conv2d needs one "
                    f"after it (one of {', '.join(NONLINEARITIES)}) before the next Conv2d")
    return ""


# -- Part 1: SimpleNet's figure -----------------------------------------------------------------------------
SHAPE_ONLY = ("Flatten", "Identity")  # layers that only reshape (or do nothing): where they sit changes nothing
WEIGHTED = ("Conv2d", "Linear")


def figure_kinds(kinds: Sequence[str]) -> List[str]:
    """Layer types in forward order as the figure reads them: shape-only layers dropped, and the layers
    between two weight layers (Conv2d, Linear) sorted (a ReLU and a MaxPool2d commute: Conv2d -> ReLU ->
    MaxPool2d is the figure's Conv2d -> MaxPool2d -> ReLU). Whether the order matters otherwise, the
    outputs show: the checks also compare them."""
    out, run = [], []
    for kind in kinds:
        if kind in SHAPE_ONLY:
            continue
        if kind in WEIGHTED:
            out += sorted(run) + [kind]
            run = []
        else:
            run.append(kind)
    return out + sorted(run)


# -- Part 2: the augmentation presets --------------------------------------------------------------------
# The rules, as the handout states them (proj4_code/data_transforms.py):
#   flips      left-right at random, about half the time (RandomHorizontalFlip()): 15-85 % of the draws
#   jitter     brightness and/or contrast change from draw to draw, centred on the image as it was (on
#              average neither darker nor brighter, neither flatter nor harsher: factors on both sides of
#              1), by factors within JITTER_LIMITS in 80 % of the draws (ColorJitter(brightness=b,
#              contrast=c) with b, c <= 0.6)
#   view       every crop, shift, zoom or rotation keeps at least VIEW_AREA of the scene's area in view
#              (70 % of its width times 70 % of its height; e.g. RandomResizedCrop(size, scale=(0.49, 1)))
#   range      without Normalize, values stay in [0, 1]
JITTER_LIMITS = (0.4, 1.6)  # the smallest and largest brightness or contrast factor allowed
JITTER_CENTRE = 0.2  # how far the average factor may be from 1 (measured on 64 draws: room for chance)
VIEW_AREA = 0.49
# Measurement precision: what the rules allow beyond the stated numbers (a measured fraction of the view is
# within a few per cent of the true one; a measured jitter factor within a few hundredths).
VIEW_SLACK = 0.06
JITTER_SLACK = 0.05
STEP_BANDS = ((0.05, 0.25), (0.75, 0.95))  # the columns each side's level is read from (fractions of the width)
BAND_ROWS = (0.25, 0.75)  # ... and the rows
PLAID_CYCLES = 8  # stripe cycles across the width and down the height of the plaid image
PROFILE_BANDS = ((0.2, 0.3), (0.45, 0.55), (0.7, 0.8))  # rows (columns) whose medians are the profiles


def step_image(height: int, width: int, dark: float, bright: float) -> List[List[float]]:
    """Gray values 0-255: `dark` on the left 45 %, `bright` on the right 45 %, a ramp between. A flip
    swaps the sides; a brightness or contrast change moves both levels; a crop or shift keeping half the
    view leaves the outer fifths of each side on their side."""
    row = []
    for j in range(width):
        x = (j + 0.5) / width
        t = min(1.0, max(0.0, (x - 0.45) / 0.1))
        row.append(dark + t * (bright - dark))
    return [list(row) for _ in range(height)]


def plaid_image(height: int, width: int, cycles: int = PLAID_CYCLES) -> List[List[float]]:
    """Gray values 0-255: `cycles` sine stripes across the width plus `cycles` down the height. How many
    cycles of each an output shows says how much of the width and of the height stayed in view."""
    across = [45 * math.sin(2 * math.pi * cycles * (j + 0.5) / width) for j in range(width)]
    down = [45 * math.sin(2 * math.pi * cycles * (i + 0.5) / height + 1.0) for i in range(height)]
    return [[128 + a + d for a in across] for d in down]


def _median(values: Sequence[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _band(n: int, band) -> range:
    start = min(n - 1, int(band[0] * n))
    return range(start, max(start + 1, int(math.ceil(band[1] * n))))


def step_summary(output: Sequence[Sequence[float]]) -> List[float]:
    """[left level, right level, min, max] of one output (H, W) of the step image: each level is the
    median of its side's band of columns (STEP_BANDS) in the middle rows (BAND_ROWS)."""
    height, width = len(output), len(output[0])
    rows = _band(height, BAND_ROWS)
    levels = [_median([output[i][j] for i in rows for j in _band(width, band)]) for band in STEP_BANDS]
    values = [v for row in output for v in row]
    return [levels[0], levels[1], min(values), max(values)]


def plaid_profiles(output: Sequence[Sequence[float]]) -> List[List[List[float]]]:
    """[width profiles, height profiles] of one output (H, W) of the plaid image: along the width, the
    median of each band of rows (PROFILE_BANDS), and down the height, of each band of columns. Three
    bands each: a patch that hides part of one (RandomErasing's) leaves the others as they were."""
    height, width = len(output), len(output[0])
    across = [[_median([output[i][j] for i in _band(height, band)]) for j in range(width)] for band in PROFILE_BANDS]
    down = [[_median([output[i][j] for j in _band(width, band)]) for i in range(height)] for band in PROFILE_BANDS]
    return [across, down]


def visible_fraction(profile: Sequence[float], cycles: int = PLAID_CYCLES) -> float:
    """The fraction of the plaid's width (or height) one profile shows: the extent of its stripes over
    their period, against the `cycles` periods of the whole image. Fill (the border a shift or rotation
    leaves, an erased patch) is flat and shows no stripes; a zoom shows fewer, wider cycles."""
    values = [float(v) for v in profile]
    n = len(values)
    if n < 8:
        return 0.0
    ordered = sorted(values)
    spread = ordered[-1 - n // 20] - ordered[n // 20]
    if spread < 1e-6:
        return 0.0
    window = 2  # a sample shows stripes when the values within 2 of it swing (a stripe cycle is >= 5 samples)
    active = [max(values[max(0, j - window):j + window + 1]) - min(values[max(0, j - window):j + window + 1])
              > 0.15 * spread for j in range(n)]
    if not any(active):
        return 0.0
    striped = sorted(v for v, a in zip(values, active) if a)
    low, high = striped[len(striped) // 4], striped[-1 - len(striped) // 4]
    middle, margin = _median(striped), 0.25 * (high - low) / 2
    crossings = []  # (position, +1 rising / -1 falling) where the profile passes `middle`
    side, last = 0, None  # side: -1 below middle - margin, +1 above middle + margin (hysteresis)
    for j, v in enumerate(values):
        now = -1 if v < middle - margin else 1 if v > middle + margin else 0
        if now and side and now != side:
            k = last
            while k + 1 < j and (values[k + 1] - middle) * side > 0:
                k += 1
            a, b = values[k], values[k + 1]
            crossings.append((k + ((a - middle) / (a - b) if a != b else 0.5), now))
        if now:
            side, last = now, j
    # The period from crossings of one direction only (a threshold off the stripes' middle moves rising and
    # falling crossings apart, but not two of a kind), the median (an erased patch leaves one long gap).
    same = [[c[0] for c in crossings if c[1] == kind] for kind in (1, -1)]
    gaps = [b - a for positions in same for a, b in zip(positions, positions[1:])]
    if not gaps:
        return len(crossings) / (2 * cycles)
    period = _median(gaps)
    # A flat run at an end longer than a third of a period is fill (a stripe's crest is flat for less).
    first, final = active.index(True), n - 1 - active[::-1].index(True)
    start = first + window if first >= period / 3 else 0
    end = final - window + 1 if n - 1 - final >= period / 3 else n
    return min(1.0, max(0, end - start) / (period * cycles))


def _trimmed_mean(values: Sequence[float], cut: float = 0.2) -> float:
    values = sorted(values)
    k = int(len(values) * cut)
    kept = values[k:len(values) - k] or values
    return sum(kept) / len(kept)


def jitter_factors(summaries: Sequence[Sequence[float]], dark: float, bright: float) -> List[List[float]]:
    """[brightness factor, contrast factor] of each step-image output, measured from its two levels
    against the image's own (dark, bright in [0, 1]): brightness scales the levels' middle, contrast their
    distance (over and above brightness)."""
    middle, spread = (dark + bright) / 2, bright - dark
    factors = []
    for left, right, _, _ in summaries:
        low, high = min(left, right), max(left, right)
        b = ((low + high) / 2) / middle
        factors.append([b, ((high - low) / spread) / b if b > 1e-6 else 0.0])
    return factors


def augmentation_problems(step: Sequence[Sequence[float]], plaid: Sequence[Sequence[Sequence[float]]],
                          dark: float, bright: float, what: str = "the augmentation preset",
                          cycles: int = PLAID_CYCLES) -> Dict[str, str]:
    """What is wrong ("" = nothing) with a preset's flips, jitter, view, range and randomness, from
    step_summary of its outputs for the step image (dark, bright: the image's levels in [0, 1]) and
    plaid_profiles of its outputs for the plaid image; values in [0, 1] (undo Normalize first)."""
    problems = dict.fromkeys(("flip", "jitter", "view", "range", "random"), "")
    flipped = [left > right for left, right, _, _ in step]
    if not any(flipped):
        problems["flip"] = f"{what} never flips the image left-right in {len(step)} draws (RandomHorizontalFlip())"
    elif all(flipped):
        problems["flip"] = f"{what} flips every image left-right: a flip must be random (RandomHorizontalFlip())"
    elif not 0.15 <= sum(flipped) / len(flipped) <= 0.85:
        problems["flip"] = (f"{what} flips {sum(flipped)} of {len(step)} images left-right: flip half of them "
                            "(RandomHorizontalFlip() with its p = 0.5)")
    factors = jitter_factors(step, dark, bright)
    problems["jitter"] = _jitter_problem(factors, what)
    low = min(s[2] for s in step)
    high = max(s[3] for s in step)
    if low < -0.02 or high > 1.02:
        problems["range"] = f"{what}'s values span [{low:.2f}, {high:.2f}]; they must stay in [0, 1]"
    if all(list(s) == list(step[0]) for s in step) and all(p == plaid[0] for p in plaid):
        problems["random"] = f"{what} gives the same output in all {len(step)} draws: nothing is random"
    problems["view"] = view_problem(plaid, what, cycles)
    return problems


def _jitter_problem(factors: Sequence[Sequence[float]], what: str) -> str:
    brightness, contrast = [f[0] for f in factors], [f[1] for f in factors]
    if max(brightness) - min(brightness) < 0.08 and max(contrast) - min(contrast) < 0.08:
        return (f"{what} never changes brightness or contrast in {len(factors)} draws (ColorJitter with brightness "
                "and/or contrast)")
    low, high = JITTER_LIMITS
    for name, values in (("brightness", brightness), ("contrast", contrast)):
        average = _trimmed_mean(values)
        if abs(average - 1) > JITTER_CENTRE:
            direction = {"brightness": ("darkens", "brightens"),
                         "contrast": ("flattens", "sharpens")}[name][average > 1]
            return (f"{what} {direction} the images on average (their {name} by a factor of {average:.2f} over "
                    f"{len(values)} draws): a jitter must be centred on the image as it was, with factors on both "
                    f"sides of 1, as ColorJitter({name}=x) draws them from [1 - x, 1 + x]")
        ordered = sorted(values)
        k = len(ordered) // 10  # a tenth of the draws on each side may stray (a crop into the ramp, clipping)
        if ordered[k] < low - JITTER_SLACK or ordered[-1 - k] > high + JITTER_SLACK:
            return (f"{what} changes {name} too much (factors from {ordered[k]:.2f} to {ordered[-1 - k]:.2f} in most "
                    f"draws): keep them within [{low}, {high}], e.g. ColorJitter({name}=0.3)")
    return ""


def view_problem(plaid: Sequence[Sequence[Sequence[float]]], what: str = "the augmentation preset",
                 cycles: int = PLAID_CYCLES) -> str:
    """Every draw keeps at least VIEW_AREA of the scene's area in view (plaid: plaid_profiles of each)."""
    fractions = [(max(visible_fraction(p, cycles) for p in across), max(visible_fraction(p, cycles) for p in down))
                 for across, down in plaid]
    worst = min(fractions, key=lambda f: f[0] * f[1])
    if worst[0] * worst[1] < VIEW_AREA - VIEW_SLACK:
        return (f"{what} zooms in or shifts too far: one of {len(plaid)} draws kept about {worst[0]:.0%} of the "
                f"width and {worst[1]:.0%} of the height in view ({worst[0] * worst[1]:.0%} of the scene). Every "
                f"crop, shift, zoom or rotation must keep at least half of the scene in view ({VIEW_AREA:.0%} of "
                "its area: 70 % of its width times 70 % of its height), "
                "e.g. RandomResizedCrop(size, scale=(0.49, 1.0))")
    return ""


def normalize_problem(plain: Sequence[Sequence[float]], normalized: Sequence[Sequence[float]],
                      dark: float, bright: float) -> str:
    """get_all_transforms' outputs, Normalize undone with the mean and std it was given (step summaries in
    [0, 1]), must have the levels of the augmentation preset's: it is that preset plus Normalize."""
    a, b = jitter_factors(plain, dark, bright), jitter_factors(normalized, dark, bright)
    for i, name in enumerate(("brightness", "contrast")):
        if abs(_trimmed_mean([f[i] for f in a]) - _trimmed_mean([f[i] for f in b])) > 0.15:
            return ("undoing Normalize(mean, std) with the mean and std get_all_transforms was given does not bring "
                    f"its images back to the augmentation preset's {name}: it must be that preset plus "
                    "Normalize with exactly that mean and std, last")
    return ""


def unnormalize(summaries: Sequence[Sequence[float]], mean: float, std: float) -> List[List[float]]:
    """Step summaries of normalised outputs back in [0, 1] units (x * std + mean)."""
    return [[v * std + mean for v in s] for s in summaries]
