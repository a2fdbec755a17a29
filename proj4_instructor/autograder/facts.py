"""Checkpoint facts, read by the trusted side: no student code is imported here.

Rule: run with `python -I` (no PYTHONPATH, no current folder, no user site) as the sandbox user
BEFORE any student code has run, it opens each submitted checkpoint with
torch.load(weights_only=True) and prints JSON facts to stdout: class name, format, model kwargs,
the shapes of the head and backbone tensors, their parameter counts, and whether every value is
finite. Reason: the structure of the model that is graded for accuracy must not be self-reported by
the process that runs student code; weights_only loads cannot execute code, and running this as
the unprivileged user (not root) keeps even a loader bug away from the grader's files.

    python -I facts.py CHECKPOINT...
"""
import json
import sys
from pathlib import Path

import torch


def facts(path: Path) -> dict:
    if not path.is_file():
        return {"present": False}
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - the message is the fact
        return {"present": True, "error": f"cannot be read ({type(err).__name__}: {str(err)[:300]})"}
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        return {"present": True, "error": "not written by save_trained_model_weights (no class_name / state_dict)"}
    state = {str(k): t for k, t in checkpoint["state_dict"].items() if isinstance(t, torch.Tensor)}
    kwargs = checkpoint.get("model_kwargs") or {}

    def params(prefix):
        return int(sum(t.numel() for k, t in state.items() if k.startswith(prefix) and t.is_floating_point()
                       and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))))

    return {
        "present": True,
        "class_name": str(checkpoint.get("class_name")),
        "format": str(checkpoint.get("format", "full")),
        "model_kwargs": {str(k): str(v) for k, v in kwargs.items()} if isinstance(kwargs, dict) else str(kwargs),
        "head_shapes": {k: list(t.shape) for k, t in state.items() if k.startswith("fc_layers.")},
        "head_params": params("fc_layers."),
        "backbone_params": params("conv_layers."),
        "tensors": len(state),
        # Layers the state dict shows: 4-D weights are convolutions, 2-D weights linear layers, and
        # every batch norm keeps a running mean.
        "layers": {"Conv2d": sum(1 for k, t in state.items() if k.endswith("weight") and t.dim() == 4),
                   "Linear": sum(1 for k, t in state.items() if k.endswith("weight") and t.dim() == 2),
                   "BatchNorm": sum(1 for k in state if k.endswith("running_mean"))},
        "finite": all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point()),
    }


if __name__ == "__main__":
    print(json.dumps({Path(p).name: facts(Path(p)) for p in sys.argv[1:]}))
