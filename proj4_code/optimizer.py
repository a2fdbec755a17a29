"""The optimizer for a model, from a small config dict.

config keys: "optimizer_type" ("sgd" or "adam"), "lr", "weight_decay", "momentum" (SGD only).
Rules: optimise only the parameters that require gradients (Parts 3-4 freeze the backbone).
"""
from typing import Any, Dict

import torch

OPTIMIZER_TYPES = ("sgd", "adam")


def get_optimizer(model: torch.nn.Module, config: Dict[str, Any]) -> torch.optim.Optimizer:
    """torch.optim.SGD or torch.optim.Adam over the trainable parameters of model.

    Defaults for missing keys: optimizer_type "sgd", lr 0.01, weight_decay 0, momentum 0.
    An unknown optimizer_type raises ValueError naming it and the valid choices.
    """
    optimizer_type = str(config.get("optimizer_type", "sgd")).lower()
    lr = config.get("lr", 1e-2)
    weight_decay = config.get("weight_decay", 0.0)
    if optimizer_type not in OPTIMIZER_TYPES:
        raise ValueError(f"unknown optimizer_type {config.get('optimizer_type')!r}; choose one of {OPTIMIZER_TYPES}")
    optimizer = None
    # STUB: build SGD (with momentum) or Adam over the parameters with requires_grad=True
    # BEGIN SOLUTION
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer_type == "sgd":
        optimizer = torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=config.get("momentum", 0.0))
    else:
        optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    # END SOLUTION
    return optimizer
