"""The four parts of the project, in one table: everything else reads it.

`proj4 train`, the notebook, zip_submission.py, the public accuracy tests, the benchmark and the
autograder's configuration all take the model names, checkpoint files, thresholds and recipes
from PARTS, so no second copy can drift.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Tuple


TASKS = ("single", "multi")
DESIGNS = ("fixed", "student")


@dataclass(frozen=True)
class Recipe:
    """How `proj4 train` trains a part (chosen to pass its threshold on a 2-core laptop CPU)."""

    epochs: int
    batch_size: int
    lr: float  # peak learning rate of the one-cycle schedule (Adam)
    weight_decay: float
    augment: bool  # random shifts, flips and jitter for training (Part 2)
    normalize: bool  # Normalize with the dataset's mean/std (pretrained backbones normalise by themselves)
    cache_features: bool = False  # Parts 3-4: frozen backbone; its features are computed once


@dataclass(frozen=True)
class Part:
    number: int
    name: str  # the `proj4 train` name
    class_name: str  # the model class you write
    module: str  # where it lives
    task: str  # "single": one of `outputs` classes (softmax); "multi": `outputs` yes/no attributes (sigmoid)
    outputs: int  # the model's output width: 15 classes, or 7 attributes
    backbone: bool  # True: a frozen pretrained backbone (proj4_lib.backbones) under a trained head
    # "fixed": the handout fixes the architecture (graded in the reference class); "student": the
    # student designs it (graded from the layer list its checkpoint declares, proj4_lib/architecture.py).
    design: str
    threshold: float  # test accuracy to reach (Part 4: element-wise over the 7 attributes)
    inp_size: int  # images are resized to inp_size x inp_size
    recipe: Recipe
    # What the reference recipe measured on a 2-core CPU with seed 0 (rounded), for the estimates.
    reference_accuracy: float
    cpu_minutes: float
    # What `proj4-instructor bench` must show on a 2-core CPU: (test accuracy, seconds of training).
    bench_target: Tuple[float, float]

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"part {self.name}: unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.design not in DESIGNS:
            raise ValueError(f"part {self.name}: unknown design {self.design!r}; choose one of {', '.join(DESIGNS)}")

    @property
    def checkpoint(self) -> str:
        """The file you submit, in model_output/."""
        return f"trained_{self.class_name}_final.pt"

    @property
    def multilabel(self) -> bool:
        return self.task == "multi"

    def model_class(self):
        return getattr(importlib.import_module(self.module), self.class_name)

    def estimate(self) -> str:
        """e.g. 'about 2 min of training on a 2-core CPU (less on a GPU), about 72% test accuracy'."""
        minutes = f"about {self.cpu_minutes:.0f} min" if self.cpu_minutes >= 1 else "under a minute"
        return (f"{minutes} of training on a 2-core CPU (less on a GPU), about "
                f"{self.reference_accuracy:.0%} test accuracy")


PARTS: Tuple[Part, ...] = (
    Part(1, "simple_net", "SimpleNet", "proj4_code.simple_net", "single", 15, False, "fixed", threshold=0.45, inp_size=64,
         recipe=Recipe(epochs=15, batch_size=32, lr=3e-3, weight_decay=1e-4, augment=False, normalize=True),
         reference_accuracy=0.57, cpu_minutes=0.5, bench_target=(0.50, 90)),
    Part(2, "simple_net_final", "SimpleNetFinal", "proj4_code.simple_net_final", "single", 15, False, "student",
         threshold=0.55, inp_size=64,
         recipe=Recipe(epochs=20, batch_size=64, lr=3e-3, weight_decay=1e-4, augment=True, normalize=True),
         reference_accuracy=0.72, cpu_minutes=2, bench_target=(0.65, 300)),
    Part(3, "my_resnet", "MyResNet18", "proj4_code.my_resnet", "single", 15, True, "fixed", threshold=0.85, inp_size=224,
         recipe=Recipe(epochs=30, batch_size=64, lr=3e-3, weight_decay=1e-4, augment=False, normalize=False,
                       cache_features=True),
         reference_accuracy=0.93, cpu_minutes=2, bench_target=(0.90, 300)),
    Part(4, "multilabel_resnet", "MultilabelResNet18", "proj4_code.multilabel_resnet", "multi", 7, True, "fixed",
         threshold=0.90,
         inp_size=224,
         recipe=Recipe(epochs=30, batch_size=64, lr=3e-3, weight_decay=1e-4, augment=False, normalize=False,
                       cache_features=True),
         reference_accuracy=0.92, cpu_minutes=1, bench_target=(0.92, 300)),
)
NAMES = tuple(p.name for p in PARTS)
CLASS_NAMES = tuple(p.class_name for p in PARTS)


def get_part(key: str) -> Part:
    """The part with this `proj4 train` name or model class name; ValueError names the valid ones."""
    for part in PARTS:
        if key in (part.name, part.class_name):
            return part
    raise ValueError(f"unknown part {key!r}; choose one of {', '.join(NAMES)} (or {', '.join(CLASS_NAMES)})")
