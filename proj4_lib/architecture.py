"""A from-scratch model's architecture as data: what a checkpoint records, and how a grader rebuilds it.

`describe(model)` turns `model.conv_layers` and `model.fc_layers` (nn.Sequential of standard
torch.nn layers, nested Sequentials flattened) into a plain list such as
    {"conv_layers": [["Conv2d", {"in_channels": 1, "out_channels": 16, ...}], ["ReLU", {}], ...],
     "fc_layers": [["Dropout", {"p": 0.5}], ["Linear", {...}], ...]}
and `build(spec)` makes a model from it whose forward is fc_layers(flatten(conv_layers(x), 1)).
`save_trained_model_weights` stores the description in the checkpoint, so a grader can evaluate
the weights without running the code that made them.

Rules (SimpleNetFinal): only the layer types in LAYERS; forward must be exactly
fc_layers(flatten(conv_layers(x), 1)) on (N, 1, 64, 64) input; at most MAX_PARAMETERS parameters,
MAX_MACS operations per 64 x 64 image (the multiply-adds of Conv2d and Linear, and the window
reads of pooling) and MAX_ACTIVATION values in any layer's output per image (keeps grading inside
Gradescope's half CPU and memory).
"""
from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch
from torch import nn

# Layer type -> the constructor arguments recorded (read back from the module's attributes).
LAYERS: Dict[str, Tuple[type, Tuple[str, ...]]] = {
    "Conv2d": (nn.Conv2d, ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                           "groups", "bias")),
    "BatchNorm2d": (nn.BatchNorm2d, ("num_features", "eps", "momentum", "affine", "track_running_stats")),
    "BatchNorm1d": (nn.BatchNorm1d, ("num_features", "eps", "momentum", "affine", "track_running_stats")),
    "MaxPool2d": (nn.MaxPool2d, ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    "AvgPool2d": (nn.AvgPool2d, ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    "AdaptiveAvgPool2d": (nn.AdaptiveAvgPool2d, ("output_size",)),
    "AdaptiveMaxPool2d": (nn.AdaptiveMaxPool2d, ("output_size",)),
    "ReLU": (nn.ReLU, ()),
    "LeakyReLU": (nn.LeakyReLU, ("negative_slope",)),
    "ELU": (nn.ELU, ("alpha",)),
    "GELU": (nn.GELU, ("approximate",)),
    "SiLU": (nn.SiLU, ()),
    "Tanh": (nn.Tanh, ()),
    "Sigmoid": (nn.Sigmoid, ()),
    "Dropout": (nn.Dropout, ("p",)),
    "Dropout2d": (nn.Dropout2d, ("p",)),
    "Linear": (nn.Linear, ("in_features", "out_features", "bias")),
    "Flatten": (nn.Flatten, ("start_dim", "end_dim")),
    "Identity": (nn.Identity, ()),
}
INPUT_SHAPE = (1, 1, 64, 64)
MAX_LAYERS = 64
MAX_PARAMETERS = 5_000_000
MAX_MACS = 100_000_000  # per 64 x 64 image; the reference SimpleNetFinal needs ~15 M
MAX_ACTIVATION = 2**22  # values in one layer's output per image (4 M: 1,024 channels at 64 x 64); the reference's 65 K
MAX_WIDTH = 4096  # channels of a layer, or a Linear's outputs
MAX_FEATURES = 65536  # a Linear's inputs (a flattened feature map); the parameter limit bounds it too
MAX_KERNEL = 11


class ArchitectureError(ValueError):
    """The model or the description does not follow the rules; the message names the layer."""


def _value(module: nn.Module, name: str):
    value = getattr(module, name)
    if name == "bias":
        return value is not None
    return list(value) if isinstance(value, tuple) else value


def describe(model: nn.Module) -> Dict[str, List]:
    """{"conv_layers": [[type, {args}], ...], "fc_layers": [...]}; ArchitectureError names a layer
    the grader cannot rebuild."""
    spec = {}
    for part in ("conv_layers", "fc_layers"):
        block = getattr(model, part, None)
        if not isinstance(block, nn.Sequential):
            raise ArchitectureError(f"{type(model).__name__}.{part} must be an nn.Sequential, "
                                    f"not {type(block).__name__}")
        spec[part] = [_describe_layer(layer, where) for where, layer in _flat(block, part)]
    return spec


def _flat(block: nn.Sequential, prefix: str):
    """(dotted name, layer) of every layer, nested Sequentials opened: their order is forward's."""
    for index, layer in block.named_children():
        where = f"{prefix}.{index}"
        if isinstance(layer, nn.Sequential):
            yield from _flat(layer, where)
        else:
            yield where, layer


def _describe_layer(layer: nn.Module, where: str) -> List:
    kind = type(layer).__name__
    if kind not in LAYERS or type(layer) is not LAYERS[kind][0]:
        raise ArchitectureError(f"{where} is a {kind}: the grader rebuilds only {', '.join(LAYERS)}")
    if kind == "Conv2d" and layer.padding_mode != "zeros":
        raise ArchitectureError(f"{where}: padding_mode {layer.padding_mode!r}; only 'zeros' is rebuilt")
    return [kind, {name: _value(layer, name) for name in LAYERS[kind][1]}]


# -- rebuilding (the grader's side: every value is checked before anything is built) -------------

def _check_args(kind: str, args, where: str) -> dict:
    if not isinstance(args, dict) or set(args) != set(LAYERS[kind][1]):
        raise ArchitectureError(f"{where}: a {kind} takes exactly {list(LAYERS[kind][1])}")
    clean = {}
    for name, value in args.items():
        clean[name] = _check_value(kind, name, value, where)
    if kind == "Conv2d" and (clean["in_channels"] % clean["groups"] or clean["out_channels"] % clean["groups"]):
        raise ArchitectureError(f"{where}: groups must divide the channels")
    return clean


def _small_int(value, low: int, high: int, where: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ArchitectureError(f"{where}: expected an integer in [{low}, {high}]")
    return value


def _check_value(kind: str, name: str, value, where: str):
    where = f"{where} {kind}.{name}"
    if name in ("bias", "affine", "track_running_stats", "ceil_mode", "count_include_pad"):
        if type(value) is not bool:
            raise ArchitectureError(f"{where}: expected true or false")
        return value
    if name in ("num_features", "in_features"):  # a BatchNorm1d or a Linear after a flattened feature map
        return _small_int(value, 1, MAX_FEATURES, where)
    if name in ("in_channels", "out_channels", "out_features"):
        return _small_int(value, 1, MAX_WIDTH, where)
    if name == "groups":
        return _small_int(value, 1, MAX_WIDTH, where)
    if name in ("kernel_size", "stride", "padding", "dilation", "output_size"):
        if name == "padding" and value in ("same", "valid"):
            return value
        if name == "stride" and kind in ("MaxPool2d", "AvgPool2d") and value is None:
            return None
        items = value if isinstance(value, list) else [value]
        if not 1 <= len(items) <= 2:
            raise ArchitectureError(f"{where}: expected one or two integers")
        low = 0 if name == "padding" else 1
        high = {"kernel_size": MAX_KERNEL, "stride": 8, "padding": 8, "dilation": 4, "output_size": 64}[name]
        items = [_small_int(item, low, high, where) for item in items]
        return tuple(items) if len(items) == 2 else items[0]
    if name in ("eps", "momentum", "negative_slope", "alpha", "p"):
        if name == "momentum" and value is None:
            return None
        if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= (1 if name in ("p", "momentum") else 10):
            raise ArchitectureError(f"{where}: expected a finite number in range")
        if name == "p" and value >= 1:
            raise ArchitectureError(f"{where}: a dropout probability must be below 1")
        return float(value)
    if name == "approximate":
        if value not in ("none", "tanh"):
            raise ArchitectureError(f"{where}: expected 'none' or 'tanh'")
        return value
    if name in ("start_dim", "end_dim"):
        return _small_int(value, -4, 4, where)
    raise ArchitectureError(f"{where}: unknown argument")  # pragma: no cover - LAYERS lists every name


class Rebuilt(nn.Module):
    """A model made from a description: forward = fc_layers(flatten(conv_layers(x), 1))."""

    def __init__(self, conv_layers: nn.Sequential, fc_layers: nn.Sequential):
        super().__init__()
        self.conv_layers, self.fc_layers = conv_layers, fc_layers
        self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_layers(torch.flatten(self.conv_layers(x), 1))


def _layers(spec, part: str, device) -> nn.Sequential:
    items = spec.get(part) if isinstance(spec, dict) else None
    if not isinstance(items, list) or not items:
        raise ArchitectureError(f"the description has no {part} list")
    layers = []
    for index, item in enumerate(items):
        where = f"{part}.{index}"
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise ArchitectureError(f"{where}: expected [type, {{arguments}}]")
        kind, args = item
        if kind not in LAYERS:
            raise ArchitectureError(f"{where}: {kind[:40]!r} is not one of {', '.join(LAYERS)}")
        cls, _ = LAYERS[kind]
        clean = _check_args(kind, args, where)
        try:
            layers.append(cls(**clean, **({"device": device} if _takes_device(kind) else {})))
        except (ValueError, TypeError, RuntimeError) as err:  # e.g. padding="same" with a stride
            raise ArchitectureError(f"{where}: torch refuses this {kind}: {str(err)[:120]}") from None
    return nn.Sequential(*layers)


def _takes_device(kind: str) -> bool:
    return kind in ("Conv2d", "BatchNorm2d", "BatchNorm1d", "Linear")


def check(spec, outputs: int = 15) -> Dict[str, int]:
    """Validate a description without allocating its weights: types, arguments, that the layers fit
    together on (1, 1, 64, 64) input and give (1, outputs), and the size limits. Returns its size:
    {"layers", "parameters", "macs", "largest" (values of the largest layer output), "dropping" (Dropout
    layers with p > 0)} and a count per layer type."""
    if not isinstance(spec, dict) or set(spec) != {"conv_layers", "fc_layers"}:
        raise ArchitectureError("the description must hold exactly conv_layers and fc_layers")
    total = sum(len(spec[p]) if isinstance(spec[p], list) else 0 for p in spec)
    if total > MAX_LAYERS:
        raise ArchitectureError(f"{total} layers, more than the {MAX_LAYERS} allowed")
    meta = torch.device("meta")
    model = Rebuilt(_layers(spec, "conv_layers", meta), _layers(spec, "fc_layers", meta))
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS:
        raise ArchitectureError(f"{parameters:,} parameters, more than the {MAX_PARAMETERS:,} allowed")
    macs, largest = [0], [0]

    def count(module, inputs, output):
        largest[0] = max(largest[0], output.numel())
        if isinstance(module, nn.Conv2d):
            macs[0] += output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            macs[0] += output.numel() // output.shape[-1] * module.in_features * module.out_features
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):  # a window read per output value
            kernel = module.kernel_size
            macs[0] += output.numel() * math.prod(kernel if isinstance(kernel, tuple) else (kernel, kernel))
        elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            macs[0] += inputs[0].numel()

    layers = (nn.Sequential, Rebuilt)
    hooks = [m.register_forward_hook(count) for m in model.modules() if not isinstance(m, layers)]
    try:
        with torch.no_grad():
            out = model.eval()(torch.empty(INPUT_SHAPE, device=meta))
    except (RuntimeError, ValueError, TypeError) as err:
        raise ArchitectureError(f"the layers do not fit together on (1, 1, 64, 64) input: {str(err)[:200]}") from None
    finally:
        for hook in hooks:
            hook.remove()
    if tuple(out.shape) != (1, outputs):
        raise ArchitectureError(f"the layers give shape {tuple(out.shape)} for (1, 1, 64, 64) input, "
                                f"not (1, {outputs})")
    if macs[0] > MAX_MACS:
        raise ArchitectureError(f"{macs[0]:,} multiply-adds (and pooling reads) per image, more than the "
                                f"{MAX_MACS:,} allowed")
    if largest[0] > MAX_ACTIVATION:
        raise ArchitectureError(f"a layer's output holds {largest[0]:,} values per image, more than the "
                                f"{MAX_ACTIVATION:,} allowed")
    counts = {"layers": total, "parameters": parameters, "macs": macs[0], "largest": largest[0], "dropping": 0}
    for part in ("conv_layers", "fc_layers"):
        for kind, args in spec[part]:
            counts[kind] = counts.get(kind, 0) + 1
            if kind in ("Dropout", "Dropout2d") and args["p"] > 0:
                counts["dropping"] += 1  # Dropout(p=0) is a layer that does nothing
    return counts


def build(spec, outputs: int = 15) -> Rebuilt:
    """The model a description stands for, with fresh weights (checked first: see `check`)."""
    check(spec, outputs)
    return Rebuilt(_layers(spec, "conv_layers", None), _layers(spec, "fc_layers", None))
