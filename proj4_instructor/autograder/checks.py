"""What earns points: the trusted checks (root-only; the sandbox never reads this file).

Rule: every point comes from comparing an answer of the sandbox (answers.py) with the answer the
reference solution gave when the autograder was built (expected.json), or from a rule applied here
to an answer, or from the test-split labels (accuracy). Each check names the answers it reads as
"probe/key/..." paths; all of them must match for the check's points. Reason: a value can only
match an expected value nobody in the sandbox can read by being computed correctly.

Every check names at least one answer that the handout does not give away: an output computed on
fixed inputs (forward passes with fixed weights, metrics, transformed pixels, an optimizer step).
Reason: a parameter count, a layer shape or a type name is printed in the assignment, so a forged
answer file could state it without any code; it cannot state the outputs without computing them.
The checks of the student's own design choices (SimpleNetFinal's layers, the augmentation presets)
have no reference outputs to match: SimpleNetFinal's layer counts must agree with the layers its
submitted checkpoint holds (facts.py), and the rest of those answers is what the answer process
reports (the README's "what it cannot guarantee").

The weights keep the distribution of the earlier test-based grading: 101 points for the parts'
behaviour (the public tests' points, per module), 8 for the hidden structure checks and 32 for the
test-split accuracy of the four checkpoints; 141 in all.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple


class Check(NamedTuple):
    name: str
    points: float
    paths: Tuple[str, ...]  # answers compared with the reference's
    rule: Optional[Callable[[dict, dict], str]] = None  # or: a rule on (answers, checkpoint facts); "" = fine
    visibility: str = "visible"
    # True: a design choice of the student's with no reference output to match (which augmentations):
    # the check rests on what the answer process reports, and a forged answer file could claim it.
    self_reported: bool = False


def _final_rules(ans: dict, facts: dict) -> str:
    counts = ans.get("counts") or {}
    for kind, least in (("Conv2d", 3), ("BatchNorm2d", 1), ("Linear", 2), ("ReLU", 1)):
        if not isinstance(counts.get(kind), int) or counts[kind] < least:
            return f"SimpleNetFinal needs at least {least} {kind}, found {counts.get(kind)}"
    if ans.get("dropout") is not True:
        return "SimpleNetFinal needs Dropout"
    return _final_checkpoint_agrees(counts, facts.get("trained_SimpleNetFinal_final.pt") or {})


def _final_checkpoint_agrees(counts: dict, facts: dict) -> str:
    """The class's layers must be the ones its submitted checkpoint holds (read by facts.py)."""
    if not facts.get("present") or facts.get("error") or facts.get("class_name") != "SimpleNetFinal":
        return ("SimpleNetFinal's layers are checked against your submitted trained_SimpleNetFinal_final.pt, "
                "which is missing or unreadable")
    layers = facts.get("layers") or {}
    if layers.get("Conv2d") != counts.get("Conv2d") or layers.get("Linear") != counts.get("Linear") \
            or (layers.get("BatchNorm") or 0) < counts.get("BatchNorm2d", 0):
        return (f"SimpleNetFinal has {counts} but its checkpoint holds {layers}: train and save the class you "
                "submit")
    return ""


def _final_output(ans: dict, facts: dict) -> str:
    if ans.get("out_shape") != [3, 15]:
        return f"SimpleNetFinal output shape {ans.get('out_shape')} for (3, 1, 64, 64), expected [3, 15]"
    if ans.get("eval_deterministic") is not True:
        return "SimpleNetFinal in eval mode must give the same output twice"
    return ""


def _final_attributes(ans: dict, facts: dict) -> str:
    if ans.get("attributes") != ["Sequential", "Sequential", "CrossEntropyLoss", "mean"]:
        return ("conv_layers and fc_layers must be nn.Sequential and loss_criterion a mean nn.CrossEntropyLoss; "
                f"found {ans.get('attributes')}")
    return ""


def _frozen(part: str, backbone: str) -> Tuple[str, ...]:
    return tuple(f"{part}/{backbone}/{k}" for k in ("backbone_unchanged", "head_changed", "backbone_eval_in_train",
                                                    "head_after_step"))


SN, SNF, MR, ML, R18, EFF = "simple_net", "simple_net_final", "my_resnet", "multilabel_resnet", "resnet18", \
    "efficientnet_lite0"

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
    # Part 2: SimpleNetFinal (5)
    Check("SimpleNetFinal: attributes", 1, (),
          lambda a, f: _final_attributes(a.get(SNF) or {}, f) or _final_rules(a.get(SNF) or {}, f)),
    Check("SimpleNetFinal: required layers", 2, (), lambda a, f: _final_rules(a.get(SNF) or {}, f)),
    Check("SimpleNetFinal: output shape, deterministic in eval mode", 2, (),
          lambda a, f: _final_output(a.get(SNF) or {}, f) or _final_rules(a.get(SNF) or {}, f)),
    # Part 3: MyResNet18 (11)
    Check("MyResNet18 (resnet18): parameter counts", 2, tuple(f"{MR}/{R18}/{k}" for k in
          ("trainable", "frozen", "first_layer", "forward"))),
    Check("MyResNet18 (efficientnet_lite0): parameter counts", 1, (f"{MR}/{EFF}/trainable", f"{MR}/{EFF}/frozen",
                                                                   f"{MR}/{EFF}/forward")),
    Check("MyResNet18: loss and structure", 1, (f"{MR}/{R18}/loss", f"{MR}/{R18}/conv_layers_trainable",
                                                f"{MR}/{R18}/forward")),
    Check("MyResNet18: forward on gray and RGB input", 2, tuple(f"{MR}/{b}/{k}" for b in (R18, EFF)
          for k in ("out_shape", "forward", "rgb_same_as_gray"))),
    Check("MyResNet18 (resnet18): the frozen backbone stays frozen", 2, _frozen(MR, R18)),
    Check("MyResNet18 (efficientnet_lite0): the frozen backbone stays frozen", 2, _frozen(MR, EFF)),
    Check("MyResNet18: trains and saves through the provided checkpoints module", 1,
          (f"checkpoints/round_trip/MyResNet18-{R18}",)),
    # Part 4: MultilabelResNet18 (11)
    Check("MultilabelResNet18 (resnet18): parameter counts", 2, tuple(f"{ML}/{R18}/{k}" for k in
          ("trainable", "frozen", "first_layer", "forward"))),
    Check("MultilabelResNet18 (efficientnet_lite0): parameter counts", 1, (f"{ML}/{EFF}/trainable",
                                                                           f"{ML}/{EFF}/frozen", f"{ML}/{EFF}/forward")),
    Check("MultilabelResNet18: sigmoid activation and BCE loss", 2, (f"{ML}/{R18}/activation",
          f"{ML}/{R18}/sigmoid_in_fc", f"{ML}/{R18}/loss", f"{ML}/{R18}/forward")),
    Check("MultilabelResNet18: forward gives probabilities", 2, tuple(f"{ML}/{b}/{k}" for b in (R18, EFF)
          for k in ("out_shape", "forward", "rgb_same_as_gray"))),
    Check("MultilabelResNet18 (resnet18): the frozen backbone stays frozen", 2, _frozen(ML, R18)),
    Check("MultilabelResNet18 (efficientnet_lite0): the frozen backbone stays frozen", 2, _frozen(ML, EFF)),
    # dl_utils (19)
    Check("compute_accuracy", 2, ("dl_utils/accuracy",)),
    Check("compute_multilabel_accuracy", 2, ("dl_utils/multilabel_accuracy",)),
    Check("compute_loss with a mean criterion", 2, ("dl_utils/loss/mean",)),
    Check("compute_loss with a sum criterion", 1, ("dl_utils/loss/sum",)),
    Check("compute_loss with BCELoss", 1, ("dl_utils/loss/bce",)),
    *[Check(f"save and load a trained {name}", 2, (f"checkpoints/round_trip/{name}",))
      for name in ("SimpleNet", f"MyResNet18-{EFF}", f"MultilabelResNet18-{R18}", f"MultilabelResNet18-{EFF}")],
    Check("loading refuses another class, a bare state dict and a misfit", 3,
          ("checkpoints/refuses_other_class", "checkpoints/refuses_bare_state_dict", "checkpoints/refuses_misfit",
           "checkpoints/round_trip/SimpleNet")),
    # data_transforms (12)
    *[Check(f"data_transforms: {name} preset returns a Compose of the right shape", 1,
            (f"data_transforms/{name}/compose", f"data_transforms/{name}/shape", f"data_transforms/{name}/dtype",
             *([f"data_transforms/{name}/values"] if name in ("fundamental", "normalization") else [])),
            self_reported=name in ("augmentation", "all"))
      for name in ("fundamental", "augmentation", "normalization", "all")],
    Check("data_transforms: unnormalised presets stay in [0, 1]", 2,
          ("data_transforms/fundamental/range_ok", "data_transforms/augmentation/range_ok",
           "data_transforms/fundamental/values")),
    Check("data_transforms: fundamental values", 1, ("data_transforms/fundamental/values",)),
    Check("data_transforms: augmentation has a flip and a colour jitter", 1,
          ("data_transforms/augmentation/flip_and_jitter", "data_transforms/all/flip_and_jitter"),
          self_reported=True),
    Check("data_transforms: Normalize with the given mean and std", 2,
          ("data_transforms/normalization/normalize", "data_transforms/all/normalize",
           "data_transforms/normalization/values")),
    Check("data_transforms: normalised values", 1, ("data_transforms/normalization/values",)),
    Check("data_transforms: augmentation is random", 1, ("data_transforms/augmentation/random",
                                                         "data_transforms/all/random"), self_reported=True),
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
                                                         "optimizer/defaults")),
    # confusion_matrix (7)
    Check("generate_confusion_matrix: counts", 1, ("confusion_matrix/matrix",)),
    Check("generate_confusion_matrix: normalised rows", 1, ("confusion_matrix/matrix_normalized",)),
    Check("generate_confusion_data", 2, ("confusion_matrix/confusion_data",)),
    Check("get_pred_images_for_target", 1, ("confusion_matrix/pred_images", "confusion_matrix/confusion_data")),
    Check("generate_accuracy_table", 2, ("confusion_matrix/accuracy_table",)),
    # runner (12)
    Check("Trainer: validation changes no weight", 2, ("runner/validate_keeps_weights", "runner/histories")),
    Check("Trainer: the training loop fills the histories", 4, ("runner/histories", "runner/weights")),
    Check("Trainer: resuming from a checkpoint is exact", 6, ("runner/resume",)),
]

# Hidden checks (after_published): structure of the classes, 2 points each.
HIDDEN: List[Check] = [
    Check("SimpleNet: the course's figure, 56,895 parameters", 2,
          (f"{SN}/params", f"{SN}/conv_shapes", f"{SN}/pools", f"{SN}/fc_shapes", f"{SN}/out_shapes", f"{SN}/forward"),
          visibility="after_published"),
    Check("SimpleNetFinal: >= 3 Conv2d, BatchNorm2d, Dropout, >= 2 Linear, ReLU; (N, 15) logits", 2, (),
          lambda a, f: _final_rules(a.get(SNF) or {}, f) or _final_output(a.get(SNF) or {}, f), "after_published"),
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
FIXED_HEAD_INPUTS = {"SimpleNet": 100}  # the figure's head: Linear(100, 15); other heads follow the backbone
FEATURES = {"resnet18": 512, "efficientnet_lite0": 1280}
