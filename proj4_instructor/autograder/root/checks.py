"""What earns points: the checks (trusted side, standard library; root-only on Gradescope).

Rule: a check earns its points when every answer it names ("probe/key/...") equals the answer the
trusted side computed with the reference solution on this grading's inputs (numbers within a small
tolerance), and its rule, if it has one, finds nothing wrong in the trusted evidence. Every check
names at least one output computed on this grading's inputs (an ANCHOR: a forward pass with weights
the grader chose, a metric, transformed pixels, an optimizer step), or its rule reads such outputs.
Reason: a published fact (56,895 parameters, a layer shape, a type name) can be written into an
answer file without any code; an output on inputs drawn for this grading alone cannot.

Accuracy checks take the test predictions the trusted side made itself from the checkpoint's
weights, and need the student's class to compute what was evaluated (accuracy_gates).

Points: 101 for the parts' behaviour, 8 for the hidden structure checks (after_published), 32
for the test-split accuracy of the four checkpoints; 141 in all.
"""
from typing import Callable, List, NamedTuple, Optional, Tuple

from . import rules


class Check(NamedTuple):
    name: str
    points: float
    paths: Tuple[str, ...]  # answers compared with the trusted side's
    rule: Optional[Callable[[dict], str]] = None  # a rule on the evidence; "" = fine
    visibility: str = "visible"


SN, SNF, MR, ML, R18, EFF = "simple_net", "simple_net_final", "my_resnet", "multilabel_resnet", "resnet18", \
    "efficientnet_lite0"
DT = "data_transforms"

# What a path means, for the feedback (the student sees these words, never an expected value).
WORDS = {
    "forward": "the output for a random batch, with weights the grader set",
    "head": "the head applied to the backbone's features",
    "head_after_step": "the head's weights after one training step the grader ran",
    "loss_value": "the loss of that training step",
    "attributes": "the types of conv_layers, fc_layers and loss_criterion",
    "out_shapes": "the output shapes",
    "wrong_input_raises": "whether a wrong input shape raises an error (any exception)",
    "values": "the transformed pixels of a random image",
    "histories": "the loss and accuracy histories of a short training run",
    "resume": "the histories of a run stopped after one epoch and resumed",
    "round_trip": "the model after saving and loading it",
    "train_forward": "the output in training mode (dropout and batch statistics) for a random batch",
}


# Answers compared with more room than scoring.REL/ABS, and why: the fundamental preset's pixels from
# Resize-then-ToTensor (PIL's resize, rounded to 0-255) and from ToTensor-then-Resize (torch's antialiased
# resize, transforms.v2's usual order) differ by up to 0.004; (rel, abs), the normalised ones divided by std.
TOLERANCES = {"data_transforms/fundamental/values": (1e-3, 0.02),
              "data_transforms/normalization/values": (1e-3, 0.15)}


# -- rules on the trusted evidence -------------------------------------------------------------------
# The rules themselves are proj4_lib/rules.py's (here the autograder's copy, made at release): the notebook
# and the public tests apply the same ones.

def design_rule(class_name: str) -> Callable[[dict], str]:
    """A student-designed part's design rules, on the layer list its checkpoint declares (trusted side)."""
    def rule(ev: dict) -> str:
        entry = ev["checkpoints"].get(class_name, {})
        layers = entry.get("layers")
        if not isinstance(layers, dict):
            return (f"{class_name}'s layers are read from the layer list in its checkpoint, which is not usable: "
                    f"{entry.get('problem', '')}")
        return rules.design_problem_from(layers, entry.get("conv_kinds"), class_name)
    return rule


_final_layers = design_rule("SimpleNetFinal")


def augmentation_rule(preset: str, want: str) -> Callable[[dict], str]:
    """The augmentation presets, judged by what they do to the grader's synthetic scenes (rules.py, through
    scoring.augmentation_evidence)."""
    def rule(ev: dict) -> str:
        return ev["augmentation"].get(preset, {}).get(want, "the augmentation outputs are missing")
    return rule


def _frozen(part: str, backbone: str) -> Tuple[str, ...]:
    return tuple(f"{part}/{backbone}/{k}" for k in ("backbone_unchanged", "head_changed", "backbone_eval_in_train",
                                                    "loss_value", "head_after_step"))


CHECKS: List[Check] = [
    # Part 1: SimpleNet (9)
    Check("SimpleNet: conv_layers, fc_layers and a mean cross-entropy loss", 1, (f"{SN}/attributes", f"{SN}/forward")),
    Check("SimpleNet: 56,895 parameters, all trainable", 2, (f"{SN}/params", f"{SN}/all_trainable", f"{SN}/forward")),
    Check("SimpleNet: layers match the figure", 2,
          (f"{SN}/conv_types", f"{SN}/fc_types", f"{SN}/conv_shapes", f"{SN}/pools", f"{SN}/fc_shapes",
           f"{SN}/forward")),
    Check("SimpleNet: output shapes", 1, (f"{SN}/out_shapes", f"{SN}/conv_out_shape", f"{SN}/forward")),
    Check("SimpleNet: forward computes the logits", 1, (f"{SN}/forward",)),
    Check("SimpleNet: a wrong input shape raises", 2, (f"{SN}/wrong_input_raises", f"{SN}/forward")),
    # Part 2: SimpleNetFinal (5): the trusted side's answers come from the layers its checkpoint declares
    Check("SimpleNetFinal: attributes", 1, (f"{SNF}/attributes", f"{SNF}/forward")),
    Check("SimpleNetFinal: required layers", 2, (f"{SNF}/params", f"{SNF}/forward", f"{SNF}/train_forward"),
          _final_layers),
    Check("SimpleNetFinal: output shape, deterministic in eval mode", 2,
          (f"{SNF}/forward", f"{SNF}/eval_deterministic", f"{SNF}/train_differs")),
    # Part 3: MyResNet18 (11)
    Check("MyResNet18 (resnet18): parameter counts", 2, tuple(f"{MR}/{R18}/{k}" for k in
          ("trainable", "frozen", "first_layer", "forward"))),
    Check("MyResNet18 (efficientnet_lite0): parameter counts", 1, (f"{MR}/{EFF}/trainable", f"{MR}/{EFF}/frozen",
                                                                   f"{MR}/{EFF}/forward")),
    Check("MyResNet18: loss and structure", 1, (f"{MR}/{R18}/loss", f"{MR}/{R18}/conv_layers_trainable",
                                                f"{MR}/{R18}/forward")),
    Check("MyResNet18: forward on gray and RGB input", 2, tuple(f"{MR}/{b}/{k}" for b in (R18, EFF)
          for k in ("out_shape", "forward", "head", "forward_one", "rgb_same_as_gray"))),
    Check("MyResNet18 (resnet18): the frozen backbone stays frozen", 2, _frozen(MR, R18)),
    Check("MyResNet18 (efficientnet_lite0): the frozen backbone stays frozen", 2, _frozen(MR, EFF)),
    Check("MyResNet18: trains and saves through the provided checkpoints module", 1,
          (f"checkpoints/round_trip/MyResNet18-{EFF}",)),
    # Part 4: MultilabelResNet18 (11)
    Check("MultilabelResNet18 (resnet18): parameter counts", 2, tuple(f"{ML}/{R18}/{k}" for k in
          ("trainable", "frozen", "first_layer", "forward"))),
    Check("MultilabelResNet18 (efficientnet_lite0): parameter counts", 1,
          (f"{ML}/{EFF}/trainable", f"{ML}/{EFF}/frozen", f"{ML}/{EFF}/forward")),
    Check("MultilabelResNet18: sigmoid activation and BCE loss", 2, (f"{ML}/{R18}/activation",
          f"{ML}/{R18}/sigmoid_in_fc", f"{ML}/{R18}/loss", f"{ML}/{R18}/forward")),
    Check("MultilabelResNet18: forward gives probabilities", 2, tuple(f"{ML}/{b}/{k}" for b in (R18, EFF)
          for k in ("out_shape", "forward", "head", "forward_one", "rgb_same_as_gray"))),
    Check("MultilabelResNet18 (resnet18): the frozen backbone stays frozen", 2, _frozen(ML, R18)),
    Check("MultilabelResNet18 (efficientnet_lite0): the frozen backbone stays frozen", 2, _frozen(ML, EFF)),
    # dl_utils (19)
    Check("compute_accuracy", 2, ("dl_utils/accuracy",)),
    Check("compute_multilabel_accuracy", 2, ("dl_utils/multilabel_accuracy",)),
    Check("compute_loss with a mean criterion", 2, ("dl_utils/loss/mean",)),
    Check("compute_loss with a sum criterion", 1, ("dl_utils/loss/sum",)),
    Check("compute_loss with BCELoss", 1, ("dl_utils/loss/bce_mean", "dl_utils/loss/bce_sum")),
    Check("save and load a trained SimpleNet", 2, ("checkpoints/round_trip/SimpleNet",)),
    *[Check(f"save and load a trained {name}", 3, (f"checkpoints/round_trip/{name}",))
      for name in (f"MyResNet18-{EFF}", f"MultilabelResNet18-{EFF}")],
    Check("loading refuses another class and a bare state dict", 3,
          ("checkpoints/refuses_other_class", "checkpoints/refuses_bare_state_dict",
           "checkpoints/round_trip/SimpleNet")),
    # data_transforms (12)
    Check("data_transforms: fundamental preset returns a Compose of the right shape", 1,
          (f"{DT}/fundamental/compose", f"{DT}/fundamental/shape", f"{DT}/fundamental/dtype",
           f"{DT}/fundamental/values")),
    # The augmentation outputs are random: no reference output exists for them, and the sandbox can
    # write any outputs that flip and jitter. So each check of a random preset also needs the
    # anchored output of the fixed preset it builds on (fundamental: Resize + ToTensor; normalization:
    # + Normalize) on this grading's image: made-up outputs alone earn nothing.
    Check("data_transforms: augmentation preset returns a Compose of the right shape, half the scene in view", 1,
          (f"{DT}/augmentation/compose", f"{DT}/augmentation/dtype", f"{DT}/fundamental/values"),
          lambda ev: augmentation_rule("augmentation", "shape")(ev) or augmentation_rule("augmentation", "view")(ev)),
    Check("data_transforms: normalization preset returns a Compose of the right shape", 1,
          (f"{DT}/normalization/compose", f"{DT}/normalization/shape", f"{DT}/normalization/dtype",
           f"{DT}/normalization/values")),
    Check("data_transforms: all preset returns a Compose of the right shape", 1,
          (f"{DT}/all/compose", f"{DT}/all/dtype", f"{DT}/normalization/values"), augmentation_rule("all", "shape")),
    Check("data_transforms: unnormalised presets stay in [0, 1]", 2, (f"{DT}/fundamental/values",),
          augmentation_rule("augmentation", "range")),
    Check("data_transforms: fundamental values", 1, (f"{DT}/fundamental/values",)),
    Check("data_transforms: augmentation flips left-right and jitters brightness/contrast around the image", 1,
          (f"{DT}/fundamental/values", f"{DT}/normalization/values"),
          lambda ev: augmentation_rule("augmentation", "flip_and_jitter")(ev)
          or augmentation_rule("all", "flip_and_jitter")(ev)),
    Check("data_transforms: Normalize with the given mean and std", 2, (f"{DT}/normalization/values",),
          lambda ev: augmentation_rule("all", "range")(ev) or augmentation_rule("all", "normalize")(ev)),
    Check("data_transforms: normalised values", 1, (f"{DT}/normalization/values",)),
    Check("data_transforms: augmentation is random", 1, (f"{DT}/fundamental/values", f"{DT}/normalization/values"),
          lambda ev: augmentation_rule("augmentation", "random")(ev) or augmentation_rule("all", "random")(ev)),
    # image_loader (5)
    Check("ImageLoader: sorted classes, other files ignored", 1, ("image_loader/class_dict", "image_loader/items",
                                                                   "image_loader/getitem")),
    Check("ImageLoader: length and items", 1, ("image_loader/len", "image_loader/getitem")),
    Check("ImageLoader: an empty class folder is an error", 1, ("image_loader/empty_class_folder",
                                                                 "image_loader/getitem")),
    Check("read_attribute_csv and MultiLabelImageLoader", 2, ("image_loader/csv", "image_loader/multilabel")),
    # stats_helper (3)
    Check("compute_mean_and_std: constant images", 1, ("stats_helper/constant",)),
    Check("compute_mean_and_std: random images", 2, ("stats_helper/random",)),
    # optimizer (7)
    Check("get_optimizer: SGD", 1, ("optimizer/sgd/type", "optimizer/sgd/lr", "optimizer/sgd/momentum",
                                    "optimizer/sgd/weight_decay", "optimizer/sgd/after_step")),
    Check("get_optimizer: Adam", 1, ("optimizer/adam/type", "optimizer/adam/lr", "optimizer/adam/weight_decay",
                                     "optimizer/adam/after_step")),
    Check("get_optimizer: only trainable parameters", 4, ("optimizer/sgd/params", "optimizer/adam/params",
                                                          "optimizer/sgd/after_step", "optimizer/adam/after_step")),
    Check("get_optimizer: a step moves the weights", 1, ("optimizer/sgd/after_step", "optimizer/adam/after_step",
                                                         "optimizer/defaults", "optimizer/unknown_raises")),
    # confusion_matrix (7)
    Check("generate_confusion_matrix: counts", 1, ("confusion_matrix/matrix",)),
    Check("generate_confusion_matrix: normalised rows", 1, ("confusion_matrix/matrix_normalized",)),
    Check("generate_confusion_data", 2, ("confusion_matrix/confusion_data",)),
    Check("get_pred_images_for_target", 1, ("confusion_matrix/pred_images", "confusion_matrix/confusion_data")),
    Check("generate_accuracy_data", 1, ("confusion_matrix/accuracy_data",)),
    Check("generate_accuracy_table", 1, ("confusion_matrix/accuracy_table",)),
    # runner (12)
    Check("Trainer: validation changes no weight", 2, ("runner/validate_keeps_weights", "runner/histories")),
    Check("Trainer: the training loop fills the histories", 4, ("runner/histories", "runner/weights",
                                                               "runner/cached_features")),
    Check("Trainer: resuming from a checkpoint is exact", 6, ("runner/resume", "runner/histories")),
]

# Hidden checks (after_published): structure of the classes, 2 points each.
HIDDEN: List[Check] = [
    Check("SimpleNet: the course's figure, 56,895 parameters", 2,
          (f"{SN}/params", f"{SN}/conv_shapes", f"{SN}/pools", f"{SN}/fc_shapes", f"{SN}/out_shapes", f"{SN}/forward"),
          visibility="after_published"),
    Check("SimpleNetFinal: >= 3 Conv2d, BatchNorm2d, Dropout, >= 2 Linear, a non-linearity per conv; (N, 15) logits", 2,
          (f"{SNF}/forward", f"{SNF}/eval_deterministic", f"{SNF}/train_forward"), _final_layers, "after_published"),
    Check("MyResNet18: frozen backbone and a Linear(D, 15) head (resnet18 and efficientnet_lite0)", 2,
          tuple(f"{MR}/{b}/{k}" for b in (R18, EFF) for k in ("trainable", "conv_layers_trainable",
                                                            "backbone_eval_in_train", "out_shape", "forward")),
          visibility="after_published"),
    Check("MultilabelResNet18: frozen backbone, Linear(D, 7) head, separate Sigmoid, BCELoss", 2,
          tuple(f"{ML}/{b}/{k}" for b in (R18, EFF) for k in ("trainable", "conv_layers_trainable",
                                                            "backbone_eval_in_train", "out_shape", "activation",
                                                            "sigmoid_in_fc", "loss", "forward")),
          visibility="after_published"),
]

ACCURACY_POINTS = 8  # per checkpoint; partial credit between the floor and the threshold


def accuracy_gates(part: dict, backbone: Optional[str]) -> Tuple[str, ...]:
    """The answers that show the submitted class computes what the trusted side evaluated: a
    from-scratch class loaded with its own checkpoint reproduces the evaluated model's outputs; a
    frozen-backbone class computes the reference's forward and head for the checkpoint's backbone."""
    if not part["backbone"]:
        return (f"checkpoint_outputs/{part['class_name']}",)
    module = part["module"].rsplit(".", 1)[-1]
    return (f"{module}/{backbone}/forward", f"{module}/{backbone}/head")
