"""The parts of the project, in one table: every fact of a part is here, and everything else reads it.

`proj4 train`, the benchmark, the notebook (proj4_instructor/make_notebook.py renders each part
from its entry), zip_submission.py, the public accuracy tests, the student-bug suite and the
autograder's configuration (proj4_instructor/release.py, trusted_parts) all derive from PARTS, so
no second copy can drift. Read PARTS through the module (`parts.PARTS`), not a copy of it.

Data only: this module imports nothing, and names the student's classes by module and class name;
proj4_tools.models turns those names into classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

TASKS = ("single", "multi")  # one of `outputs` classes (softmax, cross-entropy) / `outputs` yes-no attributes
DESIGNS = ("fixed", "student")  # who decides the architecture: the handout, or the student
TRAINERS_MODULE = "proj4_code.runner"  # where every part's trainer class lives
PARTIAL_CREDIT_RANGE = 0.15  # accuracy partial credit grows linearly from threshold - 0.15 to the threshold


@dataclass(frozen=True)
class Recipe:
    """How a part is trained, by `proj4 train`, the notebook's training cell and the benchmark (chosen
    to pass the part's threshold on a 2-core laptop CPU)."""

    epochs: int
    batch_size: int
    lr: float  # peak learning rate of the schedule
    weight_decay: float
    augment: bool  # random shifts, flips and jitter for training (Part 2)
    normalize: bool  # Normalize with the dataset's mean/std (pretrained backbones normalise by themselves)
    optimizer: str  # get_optimizer's optimizer_type: "sgd" or "adam"
    schedule: str  # a learning-rate schedule of proj4_lib.trainer.SCHEDULES
    cache_features: bool = False  # frozen backbone: its features are computed once (needs `backbone`)

    def optimizer_config(self, lr: Optional[float] = None) -> dict:
        """The config dict for proj4_code.optimizer.get_optimizer (lr: another peak than the recipe's)."""
        return {"optimizer_type": self.optimizer, "lr": self.lr if lr is None else lr,
                "weight_decay": self.weight_decay}

    @property
    def transforms(self) -> Tuple[str, str]:
        """(training, evaluation) presets: names of proj4_code.data_transforms functions."""
        evaluation = "get_fundamental_normalization_transforms" if self.normalize else "get_fundamental_transforms"
        if not self.augment:
            return evaluation, evaluation
        return ("get_all_transforms" if self.normalize else "get_fundamental_augmentation_transforms"), evaluation


@dataclass(frozen=True)
class Notebook:
    """What the notebook says and runs for a part; proj4_instructor/make_notebook.py renders it."""

    what: str  # the part in one line, for the notebook's list of parts
    intro: str  # Markdown under the part's heading, before its table of TODOs
    todos: Tuple[Tuple[str, Tuple[str, ...]], ...]  # (file in proj4_code/, its solution blocks' functions)
    notes: str  # Markdown after the table of TODOs ("" for none)
    checks: Tuple[Tuple[str, Tuple[str, ...]], ...]  # (sub-heading, notebook checks: "name" or "name(ARGUMENT)")
    training: str  # Markdown before the part's hyper-parameters
    after_training: Tuple[str, ...] = ()  # analyses of make_notebook.ANALYSES shown after training
    hparams_note: str = ""  # one more comment line in the hyper-parameter cell


@dataclass(frozen=True)
class Part:
    number: int
    name: str  # the `proj4 train` name
    class_name: str  # the model class you write
    module: str  # where it lives
    task: str  # one of TASKS
    outputs: int  # the model's output width: 15 classes, or 7 attributes
    backbone: bool  # True: a frozen pretrained backbone (proj4_lib.backbones) under a trained head
    # "fixed": the handout fixes the architecture (graded in the reference class); "student": the
    # student designs it (graded from the layer list its checkpoint declares, proj4_lib/architecture.py).
    design: str
    trainer: str  # the class of TRAINERS_MODULE that trains it
    threshold: float  # test accuracy to reach (multi: element-wise over the attributes)
    inp_size: int  # images are resized to inp_size x inp_size
    recipe: Recipe
    notebook: Notebook
    tests: Tuple[str, ...]  # the public test files of the part (proj4_unit_tests/)
    # What the reference recipe measured on a 2-core CPU with seed 0 (rounded), for the estimates.
    reference_accuracy: float
    cpu_minutes: float
    # What `proj4-instructor bench` must show on a 2-core CPU: (test accuracy, seconds of training).
    bench_target: Tuple[float, float]
    # Backbone parts: the test accuracy range of the course's published student results with ResNet-18.
    # No ResNet-18 run is possible where the reference is measured (no internet for its weights), so
    # reference_accuracy is EfficientNet-Lite0's and this is what a student can expect with ResNet-18.
    resnet18_results: Optional[Tuple[float, float]] = None
    # Grading: the points of the checkpoint's test accuracy (partial credit from `floor`), and whether the
    # accuracy is a column of Gradescope's leaderboard (the parts students compete on).
    accuracy_points: int = 8
    leaderboard: bool = False

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"part {self.name}: unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.design not in DESIGNS:
            raise ValueError(f"part {self.name}: unknown design {self.design!r}; choose one of {', '.join(DESIGNS)}")
        if self.recipe.cache_features and not self.backbone:
            raise ValueError(f"part {self.name}: cache_features=True needs a frozen backbone (backbone=True)")

    @property
    def checkpoint(self) -> str:
        """The file you submit, in model_output/."""
        return f"trained_{self.class_name}_final.pt"

    @property
    def floor(self) -> float:
        """The accuracy below which the checkpoint earns no accuracy points (linear up to the threshold)."""
        return round(self.threshold - PARTIAL_CREDIT_RANGE, 4)

    @property
    def multilabel(self) -> bool:
        return self.task == "multi"

    def estimate(self) -> str:
        """e.g. 'about 2 min of training on a 2-core CPU (less on a GPU), about 72% test accuracy'; a
        backbone part says which backbone its figure is for, and what ResNet-18 gives."""
        minutes = f"about {self.cpu_minutes:.0f} min" if self.cpu_minutes >= 1 else "under a minute"
        text = (f"{minutes} of training on a 2-core CPU (less on a GPU), "
                f"about {self.reference_accuracy:.0%} test accuracy")
        if not self.backbone:
            return text
        text += " with efficientnet_lite0"
        if self.resnet18_results:
            low, high = self.resnet18_results
            text += f"; with resnet18, {low * 100:g}-{high * 100:g}% in the course's published student results"
        return text

    def check_calls(self) -> Tuple[Tuple[str, Optional[str]], ...]:
        """The notebook checks of the part in order, as (check name, argument name or None)."""
        return tuple(check_call(text) for _, checks in self.notebook.checks for text in checks)


def check_call(text: str) -> Tuple[str, Optional[str]]:
    """"my_resnet(BACKBONE)" -> ("my_resnet", "BACKBONE"); "simple_net" -> ("simple_net", None)."""
    name, _, argument = text.partition("(")
    return name, (argument.rstrip(")") or None)


_PRETRAINED = dict(epochs=30, batch_size=64, lr=3e-3, weight_decay=1e-4, augment=False, normalize=False,
                   optimizer="adam", schedule="one_cycle", cache_features=True)

PARTS: Tuple[Part, ...] = (
    Part(
        1, "simple_net", "SimpleNet", "proj4_code.simple_net", task="single", outputs=15, backbone=False,
        design="fixed", trainer="Trainer", threshold=0.45, inp_size=64,
        recipe=Recipe(epochs=15, batch_size=32, lr=3e-3, weight_decay=1e-4, augment=False, normalize=True,
                      optimizer="adam", schedule="one_cycle"),
        notebook=Notebook(
            what="a small CNN trained from scratch",
            intro="Complete these TODOs, in this order, running the check below each one:",
            todos=(("image_loader.py", ("ImageLoader.get_classes", "ImageLoader.load_imagepaths_with_labels",
                                        "ImageLoader.__getitem__", "ImageLoader.__len__")),
                   ("stats_helper.py", ("compute_mean_and_std",)),
                   ("data_transforms.py", ("get_fundamental_transforms", "get_fundamental_normalization_transforms")),
                   ("simple_net.py", ("SimpleNet.__init__", "SimpleNet.forward")),
                   ("dl_utils.py", ("compute_accuracy", "compute_loss")),
                   ("optimizer.py", ("get_optimizer",)),
                   ("runner.py", ("Trainer.training_step", "Trainer.validation_step"))),
            notes="""\
What is checked is what your code does, not how it is written. `SimpleNet` must raise an error for input that
is not (N, 1, 64, 64): torch's own or one of yours, any exception. `training_step` must take one optimizer step
on its batch's loss alone: zero the gradients before `loss.backward()` or after `optimizer.step()`, both work.
`validation_step` only measures (the Trainer runs it in eval mode, without gradients).""",
            checks=(("Loading the images: `ImageLoader`", ("image_loader(DATA_DIR)",)),
                    ("Dataset statistics: `compute_mean_and_std`", ("compute_mean_and_std",)),
                    ("Transforms: `get_fundamental_transforms` and `get_fundamental_normalization_transforms`",
                     ("fundamental_transforms", "fundamental_normalization_transforms")),
                    ("The model: `SimpleNet`", ("simple_net",)),
                    ("Accuracy, loss and optimizer: `compute_accuracy`, `compute_loss`, `get_optimizer`",
                     ("compute_accuracy", "compute_loss", "get_optimizer")),
                    ("The training loop: `Trainer.training_step` and `Trainer.validation_step`", ("trainer",))),
            training="The images are resized to 64 x 64 and normalised with the dataset's mean and standard "
                     "deviation. The learning rate follows a one-cycle schedule: it warms up to `lr`, then decays "
                     "to almost zero by the last epoch. Each epoch is checkpointed in "
                     "`model_output/checkpoints/simple_net/`."),
        tests=("test_image_loader.py", "test_stats_helper.py", "test_data_transforms.py", "test_simple_net.py",
               "test_dl_utils.py", "test_optimizer.py", "test_runner.py", "test_cli.py", "test_data_install.py"),
        reference_accuracy=0.57, cpu_minutes=0.5, bench_target=(0.50, 90)),
    Part(
        2, "simple_net_final", "SimpleNetFinal", "proj4_code.simple_net_final", task="single", outputs=15,
        backbone=False, design="student", trainer="Trainer", threshold=0.55, inp_size=64,
        recipe=Recipe(epochs=20, batch_size=64, lr=3e-3, weight_decay=1e-4, augment=True, normalize=True,
                      optimizer="adam", schedule="one_cycle"),
        notebook=Notebook(
            what="a better CNN with augmentation, normalization, dropout and batch norm",
            intro="More data (through augmentation), a deeper network, batch norm and dropout. Complete:",
            todos=(("data_transforms.py", ("get_fundamental_augmentation_transforms", "get_all_transforms")),
                   ("simple_net_final.py", ("SimpleNetFinal.__init__", "SimpleNetFinal.forward")),
                   ("confusion_matrix.py", ("generate_confusion_data", "generate_confusion_matrix"))),
            notes="""\
**The augmentation** is judged by what it does to synthetic scenes (the check below, the public tests and the
autograder use the same rules, `proj4_lib/rules.py`): random left-right flips half the time, no vertical flips;
a brightness and/or contrast change centred on the image (factors on both sides of 1, within [0.4, 1.6]: e.g.
`ColorJitter(brightness=0.3, contrast=0.3)`, never only darker); any crop, shift, zoom or rotation keeps at
least half of the scene in view, 49 % of its area (e.g. `RandomResizedCrop(inp_size, scale=(0.49, 1.0))`,
`RandomAffine(degrees=10, translate=(0.1, 0.1))`). `torchvision.transforms` or `transforms.v2`, as you like.

**SimpleNetFinal's rules**, checked the moment you build it (the check below), graded by the autograder:
* design: at least 3 `Conv2d`, a `BatchNorm2d`, at least 2 `Linear`, a `Dropout` (`Dropout1d`, `Dropout2d`) with
  p > 0, and a non-linearity after every `Conv2d` (ReLU, LeakyReLU, PReLU, ReLU6, ELU, GELU, SiLU, Mish,
  Hardswish, Softplus, Tanh or Sigmoid);
* the autograder evaluates your checkpoint without running your code: it rebuilds the model from the layer list
  that `save_trained_model_weights` records. So every layer is in `conv_layers` or `fc_layers` (`nn.Sequential`,
  nested ones are fine), `forward` is exactly `fc_layers(torch.flatten(conv_layers(x), 1))`, and every layer is
  a standard one of `proj4_lib/architecture.py`: the layers above and `BatchNorm1d`, `GroupNorm`, `LayerNorm`,
  `InstanceNorm2d`, `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`, `AdaptiveMaxPool2d`, `Flatten`, `Identity`.
  A skip connection is `proj4_lib.architecture.Residual(...)` (x + layers(x)); a module class of your own
  cannot be rebuilt;
* size: at most 5 M parameters, 100 M multiply-adds per image, 4 M values in a layer's output per image.

`save_trained_model_weights` refuses a model the autograder could not rebuild, naming the layer and the rule.""",
            checks=(("Augmentation: `get_fundamental_augmentation_transforms` and `get_all_transforms`",
                     ("fundamental_augmentation_transforms", "all_transforms")),
                    ("The model: `SimpleNetFinal`", ("simple_net_final",)),
                    ("Where the model goes wrong: `generate_confusion_data` and `generate_confusion_matrix`",
                     ("confusion_matrix",))),
            training="Training images are augmented (`get_all_transforms`); test images are only resized and "
                     "normalised. The report's table of what each change does (jitter, normalization, dropout, "
                     "deeper, batch norm) comes from the ablation cell after this part's model is saved.",
            after_training=("confusion_matrix", "ablation")),
        tests=("test_augmentation.py", "test_simple_net_final.py", "test_confusion_matrix.py"),
        reference_accuracy=0.72, cpu_minutes=2, bench_target=(0.65, 300), leaderboard=True),
    Part(
        3, "my_resnet", "MyResNet18", "proj4_code.my_resnet", task="single", outputs=15, backbone=True,
        design="fixed", trainer="Trainer", threshold=0.85, inp_size=224, recipe=Recipe(**_PRETRAINED),
        notebook=Notebook(
            what="a frozen ImageNet-pretrained network with a new head",
            intro="""\
A network pretrained on ImageNet already knows edges, textures and objects. The course calls this part
fine-tuning; what you do is its simplest form, transfer learning with a frozen backbone: every pretrained
weight stays fixed and only a new 15-way head trains. The provided `proj4_lib/backbones.py` builds the frozen
network; complete in `proj4_code/`:""",
            todos=(("my_resnet.py", ("MyResNet18.__init__", "MyResNet18.forward")),),
            notes="""\
The next cell picks the backbone: the one `$PROJ4_BACKBONE` names if it is set; otherwise ResNet-18 when
its ImageNet weights are in torch's cache or can be downloaded now (on Colab, always); otherwise
EfficientNet-Lite0, whose weights come with the project's `[offline]` extra (no internet needed). Both are fine
for the autograder: it rebuilds the backbone your checkpoint names. The accuracy figures below are this
course's EfficientNet-Lite0 runs; for ResNet-18 they come from the course's published student results.
What trains and what stays frozen:

| backbone | features D | MyResNet18 head Linear(D, 15) | MultilabelResNet18 head Linear(D, 7) | frozen |
|---|---|---|---|---|
| ResNet-18 | 512 | 7,695 | 3,591 | 11,176,512 |
| EfficientNet-Lite0 | 1,280 | 19,215 | 8,967 | 3,371,008 |""",
            checks=(("The model: `MyResNet18`", ("my_resnet(BACKBONE)",)),),
            training="""\
The pretrained network normalises its input itself, so the images are only resized to 224 x 224.
The frozen backbone computes every image's features once (`cache_features=True`, the slow step on a
CPU); each epoch then trains only the head, in seconds.""",
            after_training=("confusion_from_outputs", "misclassified"),
            hparams_note="Most of that is the one pass of the backbone over the images."),
        tests=("test_my_resnet.py",),
        reference_accuracy=0.93, cpu_minutes=2, bench_target=(0.90, 300), resnet18_results=(0.86, 0.89),
        leaderboard=True),
    Part(
        4, "multilabel_resnet", "MultilabelResNet18", "proj4_code.multilabel_resnet", task="multi", outputs=7,
        backbone=True, design="fixed", trainer="MultiLabelTrainer", threshold=0.90, inp_size=224,
        recipe=Recipe(**_PRETRAINED),
        notebook=Notebook(
            what="seven yes/no scene attributes at once",
            intro="Seven yes/no questions per outdoor scene (clouds, water, people, animals, natural, man-made, "
                  "vehicles), answered at once by sigmoid outputs on the same frozen backbone. The labels come "
                  "from `data/scene_attributes_train.csv` and `scene_attributes_test.csv`. Complete in "
                  "`proj4_code/`:",
            todos=(("image_loader.py", ("MultiLabelImageLoader.__getitem__", "MultiLabelImageLoader.__len__")),
                   ("multilabel_resnet.py", ("MultilabelResNet18.__init__", "MultilabelResNet18.forward")),
                   ("dl_utils.py", ("compute_multilabel_accuracy",)),
                   ("confusion_matrix.py", ("generate_accuracy_data", "generate_accuracy_table"))),
            notes="",
            checks=(("Loading the attributes: `MultiLabelImageLoader`", ("multilabel_image_loader(DATA_DIR)",)),
                    ("The model: `MultilabelResNet18`", ("multilabel_resnet(BACKBONE)",)),
                    ("Accuracy: `compute_multilabel_accuracy`, `generate_accuracy_data` and "
                     "`generate_accuracy_table`", ("compute_multilabel_accuracy", "accuracy_table"))),
            training="The same frozen backbone and cached features as in Part 3; the head has one sigmoid "
                     "output per attribute and trains with binary cross-entropy.",
            after_training=("attribute_accuracy",)),
        tests=("test_multilabel_image_loader.py", "test_multilabel_resnet.py", "test_multilabel_metrics.py",
               "test_multilabel_trainer.py"),
        reference_accuracy=0.92, cpu_minutes=1, bench_target=(0.92, 300), resnet18_results=(0.90, 0.906),
        leaderboard=True),
)


def names() -> Tuple[str, ...]:
    """The `proj4 train` names of the parts, in order."""
    return tuple(p.name for p in PARTS)


def class_names() -> Tuple[str, ...]:
    return tuple(p.class_name for p in PARTS)


def get_part(key: str) -> Part:
    """The part with this `proj4 train` name or model class name; ValueError names the valid ones."""
    for part in PARTS:
        if key in (part.name, part.class_name):
            return part
    raise ValueError(f"unknown part {key!r}; choose one of {', '.join(names())} (or {', '.join(class_names())})")
