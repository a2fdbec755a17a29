"""The trusted evaluator: every number the points depend on, computed without student code.

Rule: run by the runner BEFORE any student code has run in this grading, as the sandbox user,
with `python -I` from a folder that holds pristine code only (the autograder's proj4_lib, the
reference solution's proj4_code, probes.py and this file; the runner deletes it before student
code runs). It
  - reads each submitted checkpoint with torch.load(weights_only=True, mmap=True), checks every
    tensor's type and declared shape BEFORE computing on it, loads the weights into the pristine
    architecture (Part 1: the course's figure, i.e. the reference class; Part 2: the layer list the
    checkpoint declares, rebuilt by proj4_lib.architecture within its size limits; Parts 3-4: the
    head only, on the grader's own features of the pristine pretrained backbone), and predicts the
    test images itself;
  - computes the reference's answers to every probe on this grading's secret inputs (probes.py);
  - runs each from-scratch checkpoint on the inputs the sandbox will run it on in the student's class.
Reason: the sandbox can write anything, so nothing it reports is believed; what it reports is only
ever compared with what this process computed.

    python -I trusted.py REQUEST.json OUT.json
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pristine code only: see the module docstring

import probes
import protocol  # copied beside this file, as probes.py is
import torch
from torch import nn

from proj4_lib import architecture, rules

FEATURES = {"resnet18": 512, "efficientnet_lite0": 1280}  # D of each backbone's pooled features
MAX_TENSORS = protocol.value("checkpoint_tensors")
MAX_KEY = protocol.value("checkpoint_key_chars")
MAX_PICKLE = protocol.value("checkpoint_pickle_bytes")  # keys, sizes, the layer list: tens of KB for 2,000 tensors
FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
BATCH = 100
BATCH_VALUES = protocol.value("evaluation_batch_values")  # the largest activation in one batch


class Unusable(ValueError):
    """The checkpoint cannot be graded; the message is for the student and names what is wrong."""


def check_container(path: Path) -> None:
    """Before torch.load: torch's zip format (what torch.save writes), with a pickle of at most
    MAX_PICKLE bytes and at most one record per tensor. Reason: unpickling runs in Python, one opcode
    at a time, so a pickle of a few tens of MB of tiny opcodes costs minutes and gigabytes before any
    check of its content could apply (the legacy format is one such pickle with the data inside)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise Unusable(f"{path.name} is not in torch's zip format ({type(err).__name__}); save it again with "
                       "save_trained_model_weights") from None
    if len(infos) > MAX_TENSORS + 20:
        raise Unusable(f"{path.name} holds {len(infos)} records, more than a checkpoint of {MAX_TENSORS} tensors")
    pickles = [i for i in infos if i.filename.endswith(".pkl")]
    if not pickles or any(i.file_size > MAX_PICKLE or i.compress_size > MAX_PICKLE for i in pickles):
        raise Unusable(f"{path.name}: its pickle is missing or larger than {MAX_PICKLE:,} bytes; save it again "
                       "with save_trained_model_weights")


def load_checkpoint(path: Path, part: dict) -> dict:
    """The checkpoint dict, its container checked (types, sizes, class); tensors are not touched yet."""
    if not path.is_file():
        raise Unusable(f"{path.name} is not in the submission: add it to your zip (zip_submission.py does)")
    check_container(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001 - any failure to read is the file's problem
        raise Unusable(f"{path.name} cannot be read with torch.load(weights_only=True) "
                       f"({type(err).__name__}); save it again with save_trained_model_weights") from None
    try:
        return check_checkpoint(checkpoint, path, part)
    except Unusable:
        raise
    except Exception as err:  # noqa: BLE001 - values no check foresaw (a tensor for a name, say)
        raise Unusable(f"{path.name} was not written by save_trained_model_weights (its {type(err).__name__} "
                       "cannot be read as a checkpoint)") from None


def check_checkpoint(checkpoint, path: Path, part: dict) -> dict:
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise Unusable(f"{path.name} was not written by save_trained_model_weights (no state_dict)")
    state = checkpoint["state_dict"]
    if len(state) > MAX_TENSORS:
        raise Unusable(f"{path.name} holds {len(state)} entries, more than {MAX_TENSORS}")
    for key, tensor in state.items():
        if not isinstance(key, str) or len(key) > MAX_KEY or not isinstance(tensor, torch.Tensor):
            raise Unusable(f"{path.name}: every state_dict entry must be a tensor under a short text key")
        if tensor.layout != torch.strided:
            raise Unusable(f"{path.name}: {key[:80]} is not a dense tensor")
    found = checkpoint.get("class_name")
    if not isinstance(found, str) or found != part["class_name"]:
        shown = found[:60] if isinstance(found, str) else f"a {type(found).__name__} as class name"
        raise Unusable(f"{path.name} holds {shown!r}, not a {part['class_name']}")
    kwargs = checkpoint.get("model_kwargs")
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(kwargs, dict) or any(not isinstance(k, str) for k in kwargs) or len(kwargs) > 8 or \
            any(not isinstance(v, (str, int, float, bool, type(None))) for v in kwargs.values()):
        raise Unusable(f"{path.name}: model_kwargs must be a small dict of plain values")
    checkpoint["model_kwargs"] = kwargs
    return checkpoint


def tensor_as(tensor: torch.Tensor, shape, key: str, name: str) -> torch.Tensor:
    """`tensor` as float32 once its declared shape is the expected one (nothing is computed before)."""
    if tuple(tensor.shape) != tuple(shape):
        raise Unusable(f"{name}: {key[:80]} has shape {tuple(tensor.shape)[:6]}, the model needs {tuple(shape)}")
    if key.endswith("num_batches_tracked"):
        return tensor.to(torch.int64).clone()
    if tensor.dtype not in FLOATS:
        raise Unusable(f"{name}: {key[:80]} is {tensor.dtype}, not a floating-point tensor")
    out = tensor.to(torch.float32).clone()
    if not bool(torch.isfinite(out).all()):
        raise Unusable(f"{name}: {key[:80]} holds NaN or infinite values")
    return out


def load_by_position(model: nn.Module, state: dict, name: str) -> nn.Module:
    """The checkpoint's conv_layers/fc_layers tensors into `model`, pairing them in canonical order
    (names may differ: a student's Sequential indices are theirs) and checking kind and shape."""
    want = probes.canonical(model.state_dict().items())
    got = probes.canonical((k, t) for k, t in state.items() if k.split(".")[0] in probes.FIRST)
    if len(got) != len(want):
        raise Unusable(f"{name} holds {len(got)} tensors in conv_layers/fc_layers; the architecture "
                       f"needs {len(want)}")
    loaded = {}
    for (wkey, wtensor), (gkey, gtensor) in zip(want, got):
        if wkey.rsplit(".", 1)[-1] != gkey.rsplit(".", 1)[-1]:
            raise Unusable(f"{name}: {gkey[:80]} is where the architecture has a {wkey.rsplit('.', 1)[-1]}")
        loaded[wkey] = tensor_as(gtensor, wtensor.shape, gkey, name)
    model.load_state_dict(loaded, strict=True)
    return model.eval()


def from_scratch_model(part: dict, checkpoint: dict, name: str) -> nn.Module:
    """Part 1: the course's figure (the reference class); Part 2: the declared layer list."""
    if part["design"] == "fixed":
        model = getattr(importlib.import_module(part["module"]), part["class_name"])()
    else:
        try:
            model = architecture.build(checkpoint.get("architecture"), part["outputs"])
        except architecture.ArchitectureError as err:
            raise Unusable(f"{name}: its layer list cannot be rebuilt: {err}") from None
    return load_by_position(model, checkpoint["state_dict"], name)


def head_of(part: dict, checkpoint: dict, name: str, features: dict):
    """Parts 3-4: (backbone, weight (outputs, D), bias (outputs,)) of the one Linear head."""
    backbone = checkpoint["model_kwargs"].get("backbone", "resnet18")
    if not isinstance(backbone, str) or backbone not in FEATURES:
        raise Unusable(f"{name}: unknown backbone {str(backbone)[:40]!r}; choose one of {', '.join(FEATURES)}")
    if backbone not in features:
        raise Unusable(f"{name}: this autograder has no {backbone} features (its ImageNet weights were not "
                       f"available when the course staff built it); tell the course staff")
    head = [(k, t) for k, t in checkpoint["state_dict"].items() if k.startswith("fc_layers.")]
    weights = [(k, t) for k, t in head if k.endswith("weight")]
    biases = [(k, t) for k, t in head if k.endswith("bias")]
    if len(weights) != 1 or len(biases) > 1 or len(head) != len(weights) + len(biases):
        raise Unusable(f"{name}: the head must be one Linear({FEATURES[backbone]}, {part['outputs']}); "
                       f"fc_layers holds {len(head)} tensors")
    shape = (part["outputs"], FEATURES[backbone])
    weight = tensor_as(weights[0][1], shape, weights[0][0], name)
    bias = tensor_as(biases[0][1], shape[:1], biases[0][0], name) if biases else torch.zeros(shape[0])
    return backbone, weight, bias


def predict(part: dict, checkpoint: dict, name: str, prepared: dict, config: dict, model=None) -> dict:
    """The model's predictions on the test images: class indices, or 0/1 attribute flags."""
    with torch.no_grad():
        if part["backbone"]:
            backbone, weight, bias = head_of(part, checkpoint, name, prepared["features"])
            out = prepared["features"][backbone] @ weight.T + bias
            if part["task"] == "multi":
                out = torch.sigmoid(out)
            fact = {"backbone": backbone}
        else:
            images = prepared["images"]
            outs = []
            batch = max(1, min(BATCH, BATCH_VALUES // largest_activation(part, checkpoint)))
            for start in range(0, len(images), batch):
                x = images[start:start + batch].float() / 255.0
                if part["normalize"]:
                    x = (x - config["pixel_mean"]) / config["pixel_std"]
                outs.append(model(x))
            out = torch.cat(outs)
            fact = {"parameters": int(sum(p.numel() for p in model.parameters()))}
    if tuple(out.shape) != (len(prepared["images"]), part["outputs"]) or not bool(torch.isfinite(out).all()):
        raise Unusable(f"{name}: the model gives {tuple(out.shape)} (or non-finite) outputs")
    if part["task"] == "multi":
        return {**fact, "flags": (out >= 0.5).to(torch.int64).tolist()}
    return {**fact, "classes": out.argmax(dim=1).tolist()}


def largest_activation(part: dict, checkpoint: dict) -> int:
    """Values in the largest layer output per image: the layer list's (the course's figure is small)."""
    if part["design"] != "student":
        return 1
    return int(architecture.check(checkpoint["architecture"], part["outputs"])["largest"]) or 1


def _raised(answer, path=""):
    """Paths of the answer where the code raised (probes.RAISED markers)."""
    if isinstance(answer, dict):
        if probes.RAISED in answer:
            yield f"{path}: {answer[probes.RAISED]}"
        for key, value in answer.items():
            yield from _raised(value, f"{path}/{key}")
    elif isinstance(answer, list):
        for value in answer[:50]:
            yield from _raised(value, path)


def load_prepared(folder: Path) -> dict:
    prepared = {"images": torch.load(folder / "images64.pt", weights_only=True), "features": {}}
    for backbone in FEATURES:
        path = folder / f"features-{backbone}.pt"
        if path.is_file():
            prepared["features"][backbone] = torch.load(path, weights_only=True).float()
    return prepared


def evaluate(request: dict) -> dict:
    torch.set_num_threads(int(request.get("threads", 1)))
    seed = int(request["seed"])
    prepared = load_prepared(Path(request["prepared"]))
    result = {"checkpoints": {}, "checkpoint_outputs": {}, "expected": {}, "seconds": {}}
    design = {}
    for part in request["parts"]:
        name = part["checkpoint"]
        start = time.monotonic()
        print(f"checkpoint {name}", flush=True)  # the runner blames the last one named if this process dies
        entry = {}
        try:
            if name in request.get("skip", ()):
                raise Unusable(f"{name}: reading it stopped the grader's evaluator (out of memory or a crash); "
                               "save it again with save_trained_model_weights")
            checkpoint = load_checkpoint(Path(request["model_dir"]) / name, part)
            model = None if part["backbone"] else from_scratch_model(part, checkpoint, name)
            entry = predict(part, checkpoint, name, prepared, request, model)
            if model is not None:
                with torch.no_grad():
                    result["checkpoint_outputs"][part["class_name"]] = probes.values(
                        model(probes.checkpoint_inputs(seed)))
            if part["design"] == "student":
                entry["layers"] = architecture.check(checkpoint["architecture"], part["outputs"])
                entry["conv_kinds"] = [kind for kind, _ in rules.leaves(checkpoint["architecture"]["conv_layers"])
                                       if kind not in rules.CONTAINERS]
                design[part["class_name"]] = checkpoint["architecture"]
        except Unusable as err:
            entry = {"problem": str(err)}
        result["checkpoints"][part["class_name"]] = entry
        result["seconds"][name] = round(time.monotonic() - start, 2)
    # The probe of each part whose architecture is the student's (design "student": Part 2's) runs on the
    # layer list its checkpoint declares; it is named after the part's module.
    designed = {p["module"].rsplit(".", 1)[-1]: p for p in request["parts"] if p["design"] == "student"}
    for probe, fn in probes.PROBES.items():
        start = time.monotonic()
        part = designed.get(probe)
        # the runner blames the last line if this process dies: the one probe that runs a student's
        # layer list is that checkpoint's; any other is the grader's own failure
        print(f"checkpoint {part['checkpoint']}" if part else f"probe {probe}", flush=True)
        try:
            if part:
                spec = design.get(part["class_name"])
                if spec is None:
                    problem = result["checkpoints"].get(part["class_name"], {}).get("problem", "")
                    result["expected"][probe] = {"unavailable": f"{part['class_name']}'s layers are read from its "
                                                                f"checkpoint" + (f": {problem}" if problem else "")}
                    continue
                answer = fn(probes.Draw(seed, probe), make=lambda s=spec, o=part["outputs"]: architecture.build(s, o))
            else:
                answer = fn(probes.Draw(seed, probe))
            raised = [path for path in _raised(answer)]
            if raised:
                raise RuntimeError(f"the reference raised computing {raised[:3]}")
            result["expected"][probe] = {"answer": answer}
        except Exception:  # noqa: BLE001 - the reference failing a probe is the grader's fault
            result["expected"][probe] = {"grader_error": traceback.format_exc()[-3000:]}
        result["seconds"][probe] = round(time.monotonic() - start, 2)
    return result


def main(argv) -> int:
    request = json.loads(Path(argv[0]).read_text())
    os.chdir(request["workdir"])  # the probes make their temporary files here
    out = Path(argv[1])
    result = evaluate(request)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
