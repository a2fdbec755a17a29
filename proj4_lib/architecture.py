"""A from-scratch model's architecture as data: what a checkpoint records, and how a grader rebuilds it.

`describe(model)` turns `model.conv_layers` and `model.fc_layers` (nn.Sequential of standard
torch.nn layers, nested Sequentials flattened) into a plain list such as
    {"conv_layers": [["Conv2d", {"in_channels": 1, "out_channels": 16, ...}], ["ReLU", {}], ...],
     "fc_layers": [["Dropout", {"p": 0.5}], ["Linear", {...}], ...]}
and `build(spec)` makes a model from it whose forward is fc_layers(flatten(conv_layers(x), 1)).
`save_trained_model_weights` stores the description in the checkpoint, so a grader can evaluate
the weights without running the code that made them; it refuses (ArchitectureError) a model the
grader could not rebuild, naming the layer and the rule.

Rules (SimpleNetFinal; the notebook's check and the public tests apply them the moment the model is
built, with `rebuild_problem`):
  - conv_layers and fc_layers are nn.Sequential; they hold every layer with weights, and forward is
    exactly fc_layers(flatten(conv_layers(x), 1)) on (N, 1, 64, 64) input (x.view(N, -1) is the same);
  - every layer is one of LAYERS (a nested nn.Sequential is opened), with the arguments the grader
    records (a layer the grader rebuilds must hold the same tensors as yours);
  - a skip connection is a `Residual(...)` of this module: forward(x) = x + layers(x), the layers
    keeping x's shape; your own nn.Module classes cannot be rebuilt (the grader runs no code of yours);
  - at most MAX_LAYERS layers, MAX_PARAMETERS parameters, MAX_MACS operations per 64 x 64 image (the
    multiply-adds of Conv2d and Linear, and the window reads of pooling) and MAX_ACTIVATION values in
    any layer's output per image (they keep grading inside Gradescope's half CPU and memory).
Why these types: each is a standard torch layer with a fixed forward and plain-number arguments,
so rebuilding it from a list runs nothing but torch's own code (a checkpoint can never run code).
The design rules (at least 3 Conv2d, a BatchNorm2d, ...) are proj4_lib/rules.py's.
"""
from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch
from torch import nn

from proj4_lib import rules

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
    "PReLU": (nn.PReLU, ("num_parameters",)),
    "ReLU6": (nn.ReLU6, ()),
    "Mish": (nn.Mish, ()),
    "Hardswish": (nn.Hardswish, ()),
    "Softplus": (nn.Softplus, ("beta", "threshold")),
    "Tanh": (nn.Tanh, ()),
    "Sigmoid": (nn.Sigmoid, ()),
    "GroupNorm": (nn.GroupNorm, ("num_groups", "num_channels", "eps", "affine")),
    "LayerNorm": (nn.LayerNorm, ("normalized_shape", "eps", "elementwise_affine", "bias")),
    "InstanceNorm2d": (nn.InstanceNorm2d, ("num_features", "eps", "momentum", "affine", "track_running_stats")),
    "Dropout": (nn.Dropout, ("p",)),
    "Dropout1d": (nn.Dropout1d, ("p",)),
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
MAX_DEPTH = 3  # Residual blocks inside Residual blocks


class ArchitectureError(ValueError):
    """The model or the description does not follow the rules; the message names the layer."""


class Residual(nn.Sequential):
    """A skip connection the grader can rebuild: Residual(layer, layer, ...) computes x + layers(x).

    The layers (any of LAYERS, Residual blocks too) must give an output of x's shape, e.g.
        Residual(nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                 nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32)), nn.ReLU()
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if out.shape != x.shape:
            raise ValueError(f"Residual: its layers turn {tuple(x.shape)} into {tuple(out.shape)}; a skip "
                             "connection adds its input to their output, so they must keep the shape")
        return x + out


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
        spec[part] = _describe_block(block, part)
    return spec


def _describe_block(block: nn.Sequential, prefix: str) -> List:
    return [_describe_layer(layer, where) for where, layer in _flat(block, prefix)]


def _flat(block: nn.Sequential, prefix: str):
    """(dotted name, layer) of every layer, nested Sequentials opened (a Residual is a layer): their
    order is forward's."""
    for index, layer in block.named_children():
        where = f"{prefix}.{index}"
        if type(layer) is nn.Sequential:
            yield from _flat(layer, where)
        else:
            yield where, layer


def _describe_layer(layer: nn.Module, where: str) -> List:
    kind = type(layer).__name__
    if type(layer) is Residual:
        return ["Residual", {"layers": _describe_block(layer, where)}]
    if kind not in LAYERS or type(layer) is not LAYERS[kind][0]:
        what = "a Sequential subclass with its own forward" if isinstance(layer, nn.Sequential) else f"a {kind}"
        raise ArchitectureError(f"{where} is {what}: the grader rebuilds your model from its layer list and "
                                f"knows only these layer types: {', '.join(LAYERS)}, and Residual "
                                "(proj4_lib.architecture) for a skip connection")
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
    if kind == "GroupNorm" and clean["num_channels"] % clean["num_groups"]:
        raise ArchitectureError(f"{where}: num_groups must divide num_channels")
    return clean


def _small_int(value, low: int, high: int, where: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ArchitectureError(f"{where}: expected an integer in [{low}, {high}]")
    return value


def _check_value(kind: str, name: str, value, where: str):
    where = f"{where} {kind}.{name}"
    if name in ("bias", "affine", "track_running_stats", "ceil_mode", "count_include_pad", "elementwise_affine"):
        if type(value) is not bool:
            raise ArchitectureError(f"{where}: expected true or false")
        return value
    if name in ("num_features", "in_features"):  # a BatchNorm1d or a Linear after a flattened feature map
        return _small_int(value, 1, MAX_FEATURES, where)
    if name in ("in_channels", "out_channels", "out_features", "num_parameters", "num_groups", "num_channels"):
        return _small_int(value, 1, MAX_WIDTH, where)
    if name == "normalized_shape":  # LayerNorm over the last 1-3 axes: (C, H, W) of a feature map at most
        items = value if isinstance(value, list) else [value]
        if not 1 <= len(items) <= 3:
            raise ArchitectureError(f"{where}: expected one to three integers")
        return tuple(_small_int(item, 1, MAX_FEATURES, where) for item in items)
    if name in ("beta", "threshold"):
        if type(value) not in (int, float) or not math.isfinite(value) or not 0 < value <= 100:
            raise ArchitectureError(f"{where}: expected a finite number in (0, 100]")
        return float(value)
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
        upper = 1 if name in ("p", "momentum") else 10
        if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= upper:
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
    return nn.Sequential(*_build_items(items, part, device))


def _build_items(items: list, prefix: str, device) -> list:
    layers = []
    for index, item in enumerate(items):
        where = f"{prefix}.{index}"
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise ArchitectureError(f"{where}: expected [type, {{arguments}}]")
        kind, args = item
        if kind == "Residual":
            inner = args.get("layers") if isinstance(args, dict) and set(args) == {"layers"} else None
            if not isinstance(inner, list) or not inner:
                raise ArchitectureError(f"{where}: a Residual takes exactly {{'layers': [at least one layer]}}")
            layers.append(Residual(*_build_items(inner, where, device)))
            continue
        if kind not in LAYERS:
            raise ArchitectureError(f"{where}: {kind[:40]!r} is not one of {', '.join(LAYERS)}, Residual")
        cls, _ = LAYERS[kind]
        clean = _check_args(kind, args, where)
        try:
            layers.append(cls(**clean, **({"device": device} if _takes_device(kind) else {})))
        except (ValueError, TypeError, RuntimeError) as err:  # e.g. padding="same" with a stride
            raise ArchitectureError(f"{where}: torch refuses this {kind}: {str(err)[:120]}") from None
    return layers


def _takes_device(kind: str) -> bool:
    return kind in ("Conv2d", "BatchNorm2d", "BatchNorm1d", "Linear", "PReLU", "GroupNorm", "LayerNorm",
                    "InstanceNorm2d")


def _count(items, where: str, depth: int = 0) -> int:
    """Layers in a description list, Residual blocks' own layers included (checked before anything is
    built: a hostile list can be nested or long)."""
    if not isinstance(items, list):
        raise ArchitectureError(f"{where} is not a list of layers")
    if depth > MAX_DEPTH:
        raise ArchitectureError(f"{where}: Residual blocks nested more than {MAX_DEPTH} deep")
    total = 0
    for index, item in enumerate(items[:MAX_LAYERS + 1]):
        total += 1
        if isinstance(item, list) and len(item) == 2 and item[0] == "Residual" and isinstance(item[1], dict):
            total += _count(item[1].get("layers"), f"{where}.{index}", depth + 1)
        if total > MAX_LAYERS:
            break
    return total


def check(spec, outputs: int = 15) -> Dict[str, int]:
    """Validate a description without allocating its weights: types, arguments, that the layers fit
    together on (1, 1, 64, 64) input and give (1, outputs), and the size limits. Returns its size:
    {"layers", "parameters", "macs", "largest" (values of the largest layer output)} and
    rules.design_counts: a count per layer type and "dropping" (Dropout layers with p > 0)."""
    if not isinstance(spec, dict) or set(spec) != {"conv_layers", "fc_layers"}:
        raise ArchitectureError("the description must hold exactly conv_layers and fc_layers")
    total = sum(_count(spec[p], p) for p in ("conv_layers", "fc_layers"))
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
    return {"layers": total, "parameters": parameters, "macs": macs[0], "largest": largest[0],
            **rules.design_counts(spec)}


def build(spec, outputs: int = 15) -> Rebuilt:
    """The model a description stands for, with fresh weights (checked first: see `check`)."""
    check(spec, outputs)
    return Rebuilt(_layers(spec, "conv_layers", None), _layers(spec, "fc_layers", None))


def canonical(named) -> list:
    """(name, tensor) pairs with conv_layers first, then fc_layers, then the rest (stable): the order two
    equal architectures agree on, whichever block an __init__ set first."""
    first = {"conv_layers": 0, "fc_layers": 1}
    return sorted(named, key=lambda item: first.get(item[0].split(".")[0], 2))


def rebuilt_copy(model: nn.Module, outputs: int = 15) -> Rebuilt:
    """What the grader evaluates of `model`: the model its layer list describes, holding `model`'s weights
    (paired by position, as the grader pairs a checkpoint's). ArchitectureError names what breaks a rule."""
    spec = describe(model)
    rebuilt = build(spec, outputs)
    state = model.state_dict()
    theirs = [(k, t) for k, t in canonical(state.items()) if k.split(".")[0] in ("conv_layers", "fc_layers")]
    # loss_criterion may hold class weights: the grader evaluates no loss
    others = sorted({k.split(".")[0] for k in state} - {"conv_layers", "fc_layers", "loss_criterion"})
    if others:
        raise ArchitectureError(f"{type(model).__name__} holds weights outside conv_layers and fc_layers "
                                f"({', '.join(others)}): the grader rebuilds only those two, so every layer with "
                                "weights goes in one of them")
    ours = canonical(rebuilt.state_dict().items())
    for (key, tensor), (mine, expected) in zip(theirs, ours):
        if key.rsplit(".", 1)[-1] != mine.rsplit(".", 1)[-1] or tuple(tensor.shape) != tuple(expected.shape):
            raise ArchitectureError(f"{key} ({tuple(tensor.shape)}) is where the grader's rebuild has "
                                    f"{mine.rsplit('.', 1)[-1]} {tuple(expected.shape)}: a layer holds tensors its "
                                    "recorded arguments do not say (e.g. bias=False on a norm layer)")
    if len(theirs) != len(ours):
        raise ArchitectureError(f"{type(model).__name__} holds {len(theirs)} tensors in conv_layers and fc_layers; "
                                f"the grader's rebuild holds {len(ours)}")
    rebuilt.load_state_dict({mine: tensor.detach().cpu().clone() for (_, tensor), (mine, _) in zip(theirs, ours)})
    return rebuilt
