"""Realistic student bugs: the public tests AND the notebook check of the bug's part must catch each one.

Each bug is ONE change inside ONE solution block of proj4_code (file, exact old text, new text),
applied to a copy of proj4_code in a temporary folder. For every bug we assert that
  (a) the public tests of its TODO (files of its part) fail on the mutated code, and
  (b) the notebook check(s) right after its TODO say something other than "Correct".
The reference must pass both (no false alarm), and parts must be isolated: with the solution blocks
of Parts 1..k filled in and the later ones stubbed, every public test of Parts 1..k passes.

Speed: one worker process imports torch, torchvision, pytest, ... once, then forks a fresh child per
run; the child puts the mutated copy first on sys.path (proj4_lib comes from the repository), runs
the checks and `pytest -x -m "not slow"` on the bug's test files, and reports back. Each child
imports proj4_code afresh, so no module caching crosses bugs.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest
from pool import result, run_all

from proj4_instructor import markers
from proj4_lib import parts
from proj4_lib.backbones import BACKBONES

REPO = Path(__file__).resolve().parents[1]
CODE = REPO / "proj4_code"
TESTS = REPO / "proj4_unit_tests"
DATA_DIR = REPO / "data"

# -- which public tests, notebook checks and solution blocks belong to which part: the registry's -------
PART_TESTS: Dict[int, Tuple[str, ...]] = {p.number: p.tests for p in parts.PARTS}
PART_CHECKS: Dict[int, Tuple[str, ...]] = {p.number: tuple(name for name, _ in p.check_calls()) for p in parts.PARTS}
CHECK_ARGUMENTS = {name: argument for p in parts.PARTS for name, argument in p.check_calls()}
# What the notebook's arguments stand for: the data folder, and every backbone (the notebook passes one).
ARGUMENT_VALUES = {"DATA_DIR": (str(DATA_DIR),), "BACKBONE": BACKBONES}


def block_part(file: str, function: str) -> int:
    """The part whose TODOs (Notebook.todos) list this solution block."""
    matches = [p.number for p in parts.PARTS for name, functions in p.notebook.todos
               if name == file and function in functions]
    assert len(matches) == 1, f"{file}:{function} is a TODO of {len(matches)} parts in proj4_lib/parts.py"
    return matches[0]


def check_calls(names: Sequence[str]) -> List[Tuple[str, object]]:
    """The calls the notebook makes, each argument (the data folder, a backbone) with every value it takes."""
    calls = []
    for name in names:
        argument = CHECK_ARGUMENTS[name]
        calls += [(name, None)] if argument is None else [(name, value) for value in ARGUMENT_VALUES[argument]]
    return calls


# -- the bug table -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bug:
    id: str
    part: int
    file: str
    old: str
    new: str
    tests: Tuple[str, ...]  # public test files of the TODO (all of the bug's part)
    checks: Tuple[str, ...]  # the notebook check(s) after the TODO
    where: str = ""  # the function whose solution block holds `old` (default: any block of the file)


def bug(id, part, file, old, new, tests, checks, where="") -> Bug:
    tests = (tests,) if isinstance(tests, str) else tuple(tests)
    checks = (checks,) if isinstance(checks, str) else tuple(checks)
    return Bug(id, part, file, old, new, tests, checks, where)


def apply_bug(b: Bug, text: str) -> Tuple[str, str]:
    """(mutated text, function of the block): `old` must occur exactly once in the solution blocks
    (of function `where`, if given) of the file, so the table cannot silently rot."""
    lines = text.splitlines(keepends=True)
    hits = []
    for k in markers.parse_blocks(lines, b.file):
        if b.where and k.function != b.where:
            continue
        body = "".join(lines[k.begin_line:k.end_line - 1])
        hits += [(k, body)] * body.count(b.old)
    assert len(hits) == 1, f"{b.id}: the old text occurs {len(hits)} times in the solution blocks of {b.file}"
    k, body = hits[0]
    mutated = "".join(lines[:k.begin_line]) + body.replace(b.old, b.new) + "".join(lines[k.end_line - 1:])
    return mutated, k.function


IL, DT, DL, RUN = "image_loader.py", "data_transforms.py", "dl_utils.py", "runner.py"
CM = "confusion_matrix.py"
RUNNER_TESTS = ("test_runner.py",)
BUGS: List[Bug] = [
    # Part 1: ImageLoader
    bug("unsorted_classes", 1, IL,
        "names = sorted(entry.name for entry in os.scandir(self.curr_folder) if entry.is_dir())",
        "names = [entry.name for entry in os.scandir(self.curr_folder) if entry.is_dir()]",
        "test_image_loader.py", "image_loader"),
    bug("unsorted_files", 1, IL, "for file_name in sorted(os.listdir(folder)):", "for file_name in os.listdir(folder):",
        "test_image_loader.py", "image_loader"),
    bug("labels_from_one", 1, IL, "return {name: idx for idx, name in enumerate(names)}",
        "return {name: idx for idx, name in enumerate(names, start=1)}", "test_image_loader.py", "image_loader"),
    bug("only_jpg", 1, IL, "if file_name.lower().endswith(IMAGE_EXTENSIONS):", 'if file_name.endswith(".jpg"):',
        "test_image_loader.py", "image_loader"),
    bug("transform_forgotten", 1, IL,
        "        if self.transform is not None:\n            img = self.transform(img)\n        return img, class_idx",
        "        return img, class_idx", "test_image_loader.py", "image_loader"),
    bug("tensor_label", 1, IL, "return img, class_idx", "return img, torch.tensor(class_idx)",
        "test_image_loader.py", "image_loader"),
    # os.listdir lists files too: a stray .DS_Store at the top of a split becomes a class.
    bug("listdir_classes", 1, IL,
        "names = sorted(entry.name for entry in os.scandir(self.curr_folder) if entry.is_dir())",
        "names = sorted(os.listdir(self.curr_folder))", "test_image_loader.py", "image_loader"),
    bug("jpeg_dropped", 1, IL, "if file_name.lower().endswith(IMAGE_EXTENSIONS):",
        'if file_name.lower().endswith((".jpg", ".png")):', "test_image_loader.py", "image_loader"),
    # Part 1: stats
    bug("population_std", 1, "stats_helper.py", "(count - 1))", "count)", "test_stats_helper.py",
        "compute_mean_and_std"),
    bug("not_scaled", 1, "stats_helper.py", "dtype=np.float64) / 255.0", "dtype=np.float64)", "test_stats_helper.py",
        "compute_mean_and_std"),
    bug("std_of_image_means", 1, "stats_helper.py", "total_sq += np.square(pixels).sum()",
        "total_sq += pixels.size * pixels.mean() ** 2", "test_stats_helper.py", "compute_mean_and_std"),
    # Part 1: transforms
    bug("resize_int", 1, DT, "[transforms.Resize(tuple(inp_size)), transforms.ToTensor()]",
        "[transforms.Resize(inp_size[0]), transforms.ToTensor()]", "test_data_transforms.py", "fundamental_transforms"),
    bug("resize_w_h", 1, DT, "[transforms.Resize(tuple(inp_size)), transforms.ToTensor()]",
        "[transforms.Resize((inp_size[1], inp_size[0])), transforms.ToTensor()]", "test_data_transforms.py",
        "fundamental_transforms"),
    bug("no_to_tensor", 1, DT, "[transforms.Resize(tuple(inp_size)), transforms.ToTensor()]",
        "[transforms.Resize(tuple(inp_size)), transforms.PILToTensor()]", "test_data_transforms.py",
        "fundamental_transforms"),
    bug("center_crop_for_resize", 1, DT, "[transforms.Resize(tuple(inp_size)), transforms.ToTensor()]",
        "[transforms.CenterCrop(tuple(inp_size)), transforms.ToTensor()]", "test_data_transforms.py",
        "fundamental_transforms"),
    bug("normalize_swapped", 1, DT, "            transforms.Normalize(mean=[pixel_mean], std=[pixel_std]),\n",
        "            transforms.Normalize(mean=[pixel_std], std=[pixel_mean]),\n", "test_data_transforms.py",
        "fundamental_normalization_transforms"),
    bug("normalize_missing", 1, DT, "            transforms.Normalize(mean=[pixel_mean], std=[pixel_std]),\n", "",
        "test_data_transforms.py", "fundamental_normalization_transforms"),
    bug("normalize_before_to_tensor", 1, DT,
        "            transforms.ToTensor(),\n            transforms.Normalize(mean=[pixel_mean], std=[pixel_std]),\n",
        "            transforms.Normalize(mean=[pixel_mean], std=[pixel_std]),\n            transforms.ToTensor(),\n",
        "test_data_transforms.py", "fundamental_normalization_transforms"),
    # Part 1: SimpleNet
    # (A ReLU before its MaxPool2d is no bug: max and ReLU commute, so the outputs are the figure's, bit for
    # bit; test_honest_variants.py grades it as an honest variant.)
    bug("conv_padding", 1, "simple_net.py", "nn.Conv2d(1, 10, kernel_size=5),",
        "nn.Conv2d(1, 10, kernel_size=5, padding=2),", "test_simple_net.py", "simple_net"),
    bug("pool_stride_1", 1, "simple_net.py",
        "nn.Conv2d(10, 20, kernel_size=5),\n            nn.MaxPool2d(kernel_size=3, stride=3),",
        "nn.Conv2d(10, 20, kernel_size=5),\n            nn.MaxPool2d(kernel_size=3, stride=1),",
        "test_simple_net.py", "simple_net"),
    bug("no_relu_in_conv_block", 1, "simple_net.py",
        "nn.Conv2d(10, 20, kernel_size=5),\n            nn.MaxPool2d(kernel_size=3, stride=3),\n"
        "            nn.ReLU(),\n",
        "nn.Conv2d(10, 20, kernel_size=5),\n            nn.MaxPool2d(kernel_size=3, stride=3),\n",
        "test_simple_net.py", "simple_net"),
    bug("no_relu_between_linears", 1, "simple_net.py", "nn.Linear(500, 100), nn.ReLU(), nn.Linear(100, 15)",
        "nn.Linear(500, 100), nn.Linear(100, 15)", "test_simple_net.py", "simple_net"),
    bug("softmax_layer", 1, "simple_net.py", "nn.Linear(100, 15))", "nn.Linear(100, 15), nn.Softmax(dim=1))",
        "test_simple_net.py", "simple_net"),
    bug("softmax_forward", 1, "simple_net.py", "model_output = self.fc_layers(torch.flatten(features, 1))",
        "model_output = torch.softmax(self.fc_layers(torch.flatten(features, 1)), dim=1)",
        "test_simple_net.py", "simple_net"),
    bug("sum_criterion", 1, "simple_net.py", 'self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")',
        'self.loss_criterion = nn.CrossEntropyLoss(reduction="sum")',
        "test_simple_net.py", "simple_net"),
    # Part 1: metrics and loss
    bug("accuracy_argmax_dim0", 1, DL, "(logits.argmax(dim=1) == labels)", "(logits.argmax(dim=0) == labels)",
        "test_dl_utils.py", "compute_accuracy"),
    bug("accuracy_tensor", 1, DL, "batch_accuracy = (logits.argmax(dim=1) == labels).float().mean().item()",
        "batch_accuracy = (logits.argmax(dim=1) == labels).float().mean()", "test_dl_utils.py", "compute_accuracy"),
    bug("accuracy_count", 1, DL, "batch_accuracy = (logits.argmax(dim=1) == labels).float().mean().item()",
        "batch_accuracy = float((logits.argmax(dim=1) == labels).sum())", "test_dl_utils.py", "compute_accuracy"),
    bug("loss_double_normalised", 1, DL,
        '    reduction = getattr(model.loss_criterion, "reduction", "mean")\n'
        '    if reduction == "mean" and not is_normalize:\n        loss = loss * target_labels.numel()\n'
        '    elif reduction == "sum" and is_normalize:\n        loss = loss / target_labels.numel()\n',
        "    if is_normalize:\n        loss = loss / target_labels.shape[0]\n", "test_dl_utils.py", "compute_loss"),
    bug("sum_not_normalised", 1, DL,
        '    elif reduction == "sum" and is_normalize:\n        loss = loss / target_labels.numel()\n', "",
        "test_dl_utils.py", "compute_loss"),
    bug("sum_normalised_by_batch", 1, DL, "        loss = loss / target_labels.numel()",
        "        loss = loss / target_labels.shape[0]", "test_dl_utils.py", "compute_loss"),
    bug("mean_never_summed", 1, DL,
        '    if reduction == "mean" and not is_normalize:\n        loss = loss * target_labels.numel()\n    elif',
        "    if", "test_dl_utils.py", "compute_loss"),
    # A multi-label (N, A) sum divided by the N rows instead of the N x A entries.
    bug("multilabel_sum_normalised_by_rows", 1, DL, "        loss = loss / target_labels.numel()",
        "        loss = loss / len(target_labels)", "test_dl_utils.py", "compute_loss"),
    bug("summed_loss_detached", 1, DL, "        loss = loss * target_labels.numel()",
        "        loss = (loss * target_labels.numel()).detach()", "test_dl_utils.py", "compute_loss"),
    # Part 1: optimizer
    bug("all_parameters", 1, "optimizer.py", "params = [p for p in model.parameters() if p.requires_grad]",
        "params = list(model.parameters())", "test_optimizer.py", "get_optimizer"),
    bug("momentum_ignored", 1, "optimizer.py", ', momentum=config.get("momentum", 0.0))', ")",
        "test_optimizer.py", "get_optimizer"),
    bug("momentum_default", 1, "optimizer.py", 'config.get("momentum", 0.0)', 'config.get("momentum", 0.9)',
        "test_optimizer.py", "get_optimizer"),
    bug("sgd_weight_decay_ignored", 1, "optimizer.py", "torch.optim.SGD(params, lr=lr, weight_decay=weight_decay,",
        "torch.optim.SGD(params, lr=lr,", "test_optimizer.py", "get_optimizer"),
    bug("adam_weight_decay_ignored", 1, "optimizer.py", "torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)",
        "torch.optim.Adam(params, lr=lr)", "test_optimizer.py", "get_optimizer"),
    bug("adam_sgd_swapped", 1, "optimizer.py", 'if optimizer_type == "sgd":', 'if optimizer_type == "adam":',
        "test_optimizer.py", "get_optimizer"),
    # Part 1: Trainer steps
    bug("no_zero_grad", 1, RUN, "        self.optimizer.zero_grad()\n", "", RUNNER_TESTS, "trainer"),
    bug("zero_grad_after_backward", 1, RUN, "        self.optimizer.zero_grad()\n        loss.backward()\n",
        "        loss.backward()\n        self.optimizer.zero_grad()\n", RUNNER_TESTS, "trainer"),
    bug("step_before_backward", 1, RUN, "        loss.backward()\n        self.optimizer.step()\n",
        "        self.optimizer.step()\n        loss.backward()\n", RUNNER_TESTS, "trainer"),
    bug("no_step", 1, RUN, "        loss.backward()\n        self.optimizer.step()\n", "        loss.backward()\n",
        RUNNER_TESTS, "trainer"),
    # The Trainer steps the scheduler after every batch already: this steps it twice.
    bug("step_scheduler_too", 1, RUN, "        self.optimizer.step()\n",
        "        self.optimizer.step()\n        if self.lr_scheduler is not None:\n"
        "            self.lr_scheduler.step()\n",
        RUNNER_TESTS, "trainer", where="Trainer.training_step"),
    bug("train_self_model", 1, RUN,
        "        output = self.model_output(x)\n        loss = compute_loss(self.model, output, y)\n"
        "        self.optimizer.zero_grad()",
        "        output = self.model(x)\n        loss = compute_loss(self.model, output, y)\n"
        "        self.optimizer.zero_grad()", RUNNER_TESTS, "trainer"),
    bug("validate_self_model", 1, RUN, "output = self.model_output(x)", "output = self.model(x)", RUNNER_TESTS,
        "trainer", where="Trainer.validation_step"),
    bug("validate_steps", 1, RUN, "        loss = compute_loss(self.model, output, y)\n",
        "        loss = compute_loss(self.model, output, y)\n        self.optimizer.step()\n", RUNNER_TESTS, "trainer",
        where="Trainer.validation_step"),
    # Validation in training mode (copied from training_step): dropout on, batch-norm statistics move.
    bug("validate_train_mode", 1, RUN, "output = self.model_output(x)",
        "self.model.train()\n        output = self.model_output(x)", RUNNER_TESTS, "trainer",
        where="Trainer.validation_step"),
    # A training step in eval mode: dropout off and batch norm on running statistics while training.
    bug("train_eval_mode", 1, RUN,
        "        output = self.model_output(x)\n        loss = compute_loss(self.model, output, y)\n"
        "        self.optimizer.zero_grad()",
        "        self.model.eval()\n        output = self.model_output(x)\n"
        "        loss = compute_loss(self.model, output, y)\n        self.optimizer.zero_grad()", RUNNER_TESTS,
        "trainer"),
    bug("validate_summed_loss", 1, RUN, "loss = compute_loss(self.model, output, y)",
        "loss = compute_loss(self.model, output, y, is_normalize=False).detach()", RUNNER_TESTS, "trainer",
        where="Trainer.validation_step"),
    # Part 2: augmentation
    bug("no_flip", 2, DT, "            transforms.RandomHorizontalFlip(),\n", "", "test_augmentation.py",
        "fundamental_augmentation_transforms"),
    bug("vertical_flip", 2, DT, "            transforms.RandomHorizontalFlip(),\n",
        "            transforms.RandomVerticalFlip(),\n", "test_augmentation.py",
        "fundamental_augmentation_transforms"),
    bug("flip_always", 2, DT, "            transforms.RandomHorizontalFlip(),\n",
        "            transforms.RandomHorizontalFlip(p=1.0),\n", "test_augmentation.py",
        "fundamental_augmentation_transforms"),
    bug("no_jitter", 2, DT, "            transforms.ColorJitter(brightness=0.3, contrast=0.3),\n", "",
        "test_augmentation.py", "fundamental_augmentation_transforms"),
    # A jitter range that darkens every training image (factors all below 1).
    bug("jitter_darkens", 2, DT, "transforms.ColorJitter(brightness=0.3, contrast=0.3)",
        "transforms.ColorJitter(brightness=(0.4, 0.9), contrast=0.3)", "test_augmentation.py",
        "fundamental_augmentation_transforms"),
    bug("shrinking_crop", 2, DT, "            transforms.Resize((round(height * 1.15), round(width * 1.15))),\n"
        "            transforms.RandomCrop((height, width)),\n",
        "            transforms.RandomCrop(100),\n            transforms.Resize((height, width)),\n",
        "test_augmentation.py", "fundamental_augmentation_transforms"),
    bug("augmentation_resize_int", 2, DT, "transforms.Resize((round(height * 1.15), round(width * 1.15))),",
        "transforms.Resize(round(height * 1.15)),", "test_augmentation.py", "fundamental_augmentation_transforms"),
    bug("all_without_normalize", 2, DT,
        "return transforms.Compose(augmentation + [transforms.Normalize(mean=[pixel_mean], std=[pixel_std])])",
        "return transforms.Compose(augmentation)", "test_augmentation.py", "all_transforms"),
    bug("all_normalize_first", 2, DT, "augmentation + [transforms.Normalize(mean=[pixel_mean], std=[pixel_std])]",
        "[transforms.Normalize(mean=[pixel_mean], std=[pixel_std])] + augmentation", "test_augmentation.py",
        "all_transforms"),
    # Part 2: SimpleNetFinal
    bug("final_no_batchnorm", 2, "simple_net_final.py", "nn.BatchNorm2d(c_out), nn.ReLU(),", "nn.ReLU(),",
        "test_simple_net_final.py", "simple_net_final"),
    bug("final_no_dropout", 2, "simple_net_final.py",
        "            nn.Dropout(0.5),\n            nn.Linear(128 * 4 * 4, 256),\n            nn.ReLU(),\n"
        "            nn.Dropout(0.5),\n", "            nn.Linear(128 * 4 * 4, 256),\n            nn.ReLU(),\n",
        "test_simple_net_final.py", "simple_net_final"),
    bug("final_no_relu_in_blocks", 2, "simple_net_final.py", "nn.BatchNorm2d(c_out), nn.ReLU(),",
        "nn.BatchNorm2d(c_out),", "test_simple_net_final.py", "simple_net_final"),
    bug("final_softmax", 2, "simple_net_final.py", "            nn.Linear(256, 15),\n",
        "            nn.Linear(256, 15),\n            nn.Softmax(dim=1),\n", "test_simple_net_final.py",
        "simple_net_final"),
    bug("final_sum_criterion", 2, "simple_net_final.py", 'self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")',
        'self.loss_criterion = nn.CrossEntropyLoss(reduction="sum")', "test_simple_net_final.py", "simple_net_final"),
    # Part 2: confusion matrix
    bug("confusion_transposed", 2, CM, "(np.asarray(targets, dtype=int), np.asarray(preds, dtype=int))",
        "(np.asarray(preds, dtype=int), np.asarray(targets, dtype=int))", "test_confusion_matrix.py",
        "confusion_matrix"),
    bug("confusion_by_column", 2, CM, "row_sums = confusion_matrix.sum(axis=1, keepdims=True)",
        "row_sums = confusion_matrix.sum(axis=0, keepdims=True)", "test_confusion_matrix.py", "confusion_matrix"),
    bug("confusion_empty_row_nan", 2, CM,
        "        confusion_matrix = np.divide(confusion_matrix, row_sums, out=np.zeros_like(confusion_matrix),\n"
        "                                     where=row_sums > 0)",
        "        confusion_matrix = confusion_matrix / row_sums", "test_confusion_matrix.py", "confusion_matrix"),
    bug("confusion_argmax_dim0", 2, CM, "preds.append(logits.argmax(dim=1))", "preds.append(logits.argmax(dim=0))",
        "test_confusion_matrix.py", "confusion_matrix"),
    # The model run as it is (in train mode) and with gradients, instead of through model_outputs.
    bug("confusion_train_mode", 2, CM, "    for logits, y in model_outputs(model, dataset, device):\n",
        "    for x, y in torch.utils.data.DataLoader(dataset, batch_size=32):\n        logits = model(x)\n",
        "test_confusion_matrix.py", "confusion_matrix"),
    bug("confusion_with_gradients", 2, CM, "    for logits, y in model_outputs(model, dataset, device):\n",
        "    model.eval()\n    for x, y in torch.utils.data.DataLoader(dataset, batch_size=32):\n"
        "        logits = model(x)\n",
        "test_confusion_matrix.py", "confusion_matrix"),
    # Part 3: MyResNet18
    bug("resnet_not_frozen", 3, "my_resnet.py",
        "        for param in self.conv_layers.parameters():\n            param.requires_grad = False\n", "",
        "test_my_resnet.py", "my_resnet"),
    bug("resnet_hard_coded_512", 3, "my_resnet.py", "nn.Linear(num_features, 15)\n", "nn.Linear(512, 15)\n",
        "test_my_resnet.py", "my_resnet"),
    bug("resnet_1000_classes", 3, "my_resnet.py", "nn.Linear(num_features, 15)\n", "nn.Linear(num_features, 1000)\n",
        "test_my_resnet.py", "my_resnet"),
    bug("resnet_no_flatten", 3, "my_resnet.py", "features = torch.flatten(self.conv_layers(x), 1)  # (N, D)",
        "features = self.conv_layers(x)", "test_my_resnet.py", "my_resnet"),
    # squeeze() drops the batch dimension too when the batch is one image: (1, 512, 1, 1) -> (512,).
    bug("resnet_squeeze", 3, "my_resnet.py", "features = torch.flatten(self.conv_layers(x), 1)  # (N, D)",
        "features = self.conv_layers(x).squeeze()  # (N, D)", "test_my_resnet.py", "my_resnet"),
    # forward rescales the input again: the head trained on cached features is not what forward computes.
    bug("resnet_forward_rescales", 3, "my_resnet.py", "features = torch.flatten(self.conv_layers(x), 1)  # (N, D)",
        "features = torch.flatten(self.conv_layers((x - 0.5) / 0.5), 1)  # (N, D)", "test_my_resnet.py", "my_resnet"),
    bug("resnet_softmax", 3, "my_resnet.py", "model_output = self.fc_layers(features)",
        "model_output = torch.softmax(self.fc_layers(features), dim=1)", "test_my_resnet.py", "my_resnet"),
    bug("resnet_sum_criterion", 3, "my_resnet.py", 'self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")',
        'self.loss_criterion = nn.CrossEntropyLoss(reduction="sum")', "test_my_resnet.py", "my_resnet"),
    # Part 4: multi-label
    bug("flags_as_list", 4, IL, "return img, flags", "return img, flags.tolist()", "test_multilabel_image_loader.py",
        "multilabel_image_loader"),
    bug("flags_as_ints", 4, IL, "return img, flags", "return img, flags.long()", "test_multilabel_image_loader.py",
        "multilabel_image_loader"),
    bug("multilabel_softmax", 4, "multilabel_resnet.py", "        self.activation = nn.Sigmoid()\n        self.loss",
        "        self.activation = nn.Softmax(dim=1)\n        self.loss", "test_multilabel_resnet.py",
        "multilabel_resnet"),
    bug("sigmoid_in_fc_layers", 4, "multilabel_resnet.py", "self.fc_layers = nn.Linear(num_features, NUM_ATTRIBUTES)\n",
        "self.fc_layers = nn.Sequential(nn.Linear(num_features, NUM_ATTRIBUTES), nn.Sigmoid())\n",
        "test_multilabel_resnet.py", "multilabel_resnet"),
    bug("multilabel_cross_entropy", 4, "multilabel_resnet.py", 'self.loss_criterion = nn.BCELoss(reduction="mean")',
        'self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")', "test_multilabel_resnet.py",
        "multilabel_resnet"),
    bug("multilabel_hard_coded_512", 4, "multilabel_resnet.py", "nn.Linear(num_features, NUM_ATTRIBUTES)\n",
        "nn.Linear(512, NUM_ATTRIBUTES)\n", "test_multilabel_resnet.py", "multilabel_resnet"),
    bug("multilabel_no_activation", 4, "multilabel_resnet.py",
        "model_output = self.activation(self.fc_layers(features))", "model_output = self.fc_layers(features)",
        "test_multilabel_resnet.py", "multilabel_resnet"),
    bug("multilabel_squeeze", 4, "multilabel_resnet.py", "features = torch.flatten(self.conv_layers(x), 1)  # (N, D)",
        "features = self.conv_layers(x).squeeze()  # (N, D)", "test_multilabel_resnet.py", "multilabel_resnet"),
    bug("multilabel_forward_rescales", 4, "multilabel_resnet.py",
        "features = torch.flatten(self.conv_layers(x), 1)  # (N, D)",
        "features = torch.flatten(self.conv_layers(x * 255), 1)  # (N, D)", "test_multilabel_resnet.py",
        "multilabel_resnet"),
    bug("multilabel_not_frozen", 4, "multilabel_resnet.py",
        "        for param in self.conv_layers.parameters():\n            param.requires_grad = False\n", "",
        "test_multilabel_resnet.py", "multilabel_resnet"),
    bug("threshold_strict", 4, DL, "((probs >= 0.5).float() == labels)", "((probs > 0.5).float() == labels)",
        "test_multilabel_metrics.py", "compute_multilabel_accuracy"),
    bug("multilabel_accuracy_exact_match", 4, DL, "((probs >= 0.5).float() == labels).float().mean().item()",
        "((probs >= 0.5).float() == labels).all(dim=1).float().mean().item()", "test_multilabel_metrics.py",
        "compute_multilabel_accuracy"),
    bug("multilabel_accuracy_tensor", 4, DL, "((probs >= 0.5).float() == labels).float().mean().item()",
        "((probs >= 0.5).float() == labels).float().mean()", "test_multilabel_metrics.py",
        "compute_multilabel_accuracy"),
    bug("accuracy_data_strict", 4, CM, "preds.append((probs >= 0.5).to(torch.int64))",
        "preds.append((probs > 0.5).to(torch.int64))", "test_multilabel_metrics.py", "accuracy_table"),
    bug("accuracy_table_over_rows", 4, CM, ".mean(axis=0)", ".mean(axis=1)", "test_multilabel_metrics.py",
        "accuracy_table"),
]
BUG_IDS = [b.id for b in BUGS]


def test_bug_table_is_well_formed():
    """Unique ids, each old text exactly once in the file and inside one solution block of the bug's part."""
    assert len(BUGS) >= 45 and len(set(BUG_IDS)) == len(BUGS)
    for b in BUGS:
        text = (CODE / b.file).read_text()
        mutated, function = apply_bug(b, text)
        assert mutated != text and markers.parse_blocks(mutated.splitlines(keepends=True), b.file)
        assert block_part(b.file, function) == b.part, f"{b.id}: {function} is another part"
        assert set(b.tests) <= set(PART_TESTS[b.part]), f"{b.id}: {b.tests} are not Part {b.part}'s tests"
        assert set(b.checks) <= set(PART_CHECKS[b.part]), f"{b.id}: {b.checks} are not Part {b.part}'s checks"
        assert all((TESTS / t).is_file() for t in b.tests), b.id


# -- the worker: imports the heavy libraries once, forks a clean child per run ------------------------
WORKER = r'''
import io, json, os, sys
import numpy, PIL.Image, torch, torchvision, pytest, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot
torch.set_num_threads(1)

class Failures:
    def __init__(self):
        self.failed = []
    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.append(report.nodeid)
    def pytest_collectreport(self, report):
        if report.failed:
            self.failed.append(report.nodeid or "collection")

for line in sys.stdin:
    job = json.loads(line)
    result_file = job["result"]
    pid = os.fork()
    if pid == 0:
        result = {}
        try:
            log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.chdir(job["root"])
            sys.path.insert(0, job["root"])
            import proj4_code
            result["imported_from"] = proj4_code.__file__
            import proj4_lib
            result["lib_from"] = proj4_lib.__file__
            from proj4_lib.utils import verify
            import importlib
            checks = importlib.import_module(job["checks_module"])
            result["checks"] = []
            for name, argument in job["checks"]:
                function = getattr(checks, name)
                verdict = verify(function if argument is None else (lambda: function(argument)))
                result["checks"].append([name, argument, verdict])
            if job["tests"]:
                plugin = Failures()
                code = pytest.main([*job["pytest_args"], *job["tests"]], plugins=[plugin])
                result["pytest"] = int(code)
                result["failed"] = plugin.failed
        except BaseException as err:
            result["error"] = repr(err)
        with open(result_file, "w") as f:
            json.dump(result, f)
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    print(json.dumps({"done": result_file}), flush=True)
'''


class Worker:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        # proj4_lib (and the tests' helpers) come from this repository, whichever copy pip installed;
        # each child puts its mutated proj4_code before it on sys.path.
        env = {**os.environ, "MPLBACKEND": "Agg", "PROJ4_DATA_DIR": str(DATA_DIR),
               "PROJ4_MODEL_DIR": str(tmp / "no_checkpoints"), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": str(REPO)}
        env.pop("CI", None)
        self.process = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, cwd=tmp, env=env)
        self.count = 0

    def run(self, root: Path, tests: Sequence[Path], checks, checks_module="proj4_tools.notebook_checks",
            exitfirst=True) -> dict:
        self.count += 1
        result, log = self.tmp / f"result-{self.count}.json", self.tmp / f"log-{self.count}.txt"
        args = ["-q", "-p", "no:cacheprovider", "-m", "not slow", "-W", "ignore", "--timeout", "120"]
        job = {"root": str(root), "tests": [str(t) for t in tests], "checks": checks, "checks_module": checks_module,
               "result": str(result), "log": str(log), "pytest_args": args + (["-x"] if exitfirst else [])}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        assert json.loads(self.process.stdout.readline())["done"] == str(result)
        answer = json.loads(result.read_text())
        answer["log"] = str(log)
        assert "error" not in answer, f"{answer['error']} (log: {log})"
        assert Path(answer["imported_from"]).resolve().is_relative_to(root.resolve()), answer["imported_from"]
        assert Path(answer["lib_from"]).resolve().is_relative_to(REPO.resolve()), answer["lib_from"]
        return answer

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


WORKERS = 2  # one per core: each child runs single-threaded


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    pool = [Worker(tmp_path_factory.mktemp(f"student_bugs_{k}")) for k in range(WORKERS)]
    yield pool
    for w in pool:
        w.close()


@pytest.fixture(scope="module")
def worker(workers):
    return workers[0]


@pytest.fixture(scope="module")
def bug_answers(workers, tmp_path_factory) -> dict:
    """{bug id: the worker's answer} of every bug, run on the workers at once."""
    tmp = tmp_path_factory.mktemp("bugs")

    def job(b):
        def run(w):
            root = code_copy(tmp / b.id, lambda name, text: apply_bug(b, text)[0] if name == b.file else text)
            return w.run(root, [TESTS / t for t in b.tests], check_calls(b.checks))
        return b.id, run

    return run_all(workers, [job(b) for b in BUGS])


def code_copy(dest: Path, mutate=None) -> Path:
    """dest/proj4_code: a copy of the reference, with `mutate(file name, text) -> text` applied."""
    target = dest / "proj4_code"
    shutil.copytree(CODE, target, ignore=shutil.ignore_patterns("__pycache__"))
    if mutate is not None:
        for path in target.glob("*.py"):
            text = path.read_text()
            changed = mutate(path.name, text)
            if changed != text:
                path.write_text(changed)
    return dest


def flagged(answer: dict) -> List[Tuple[str, object, str]]:
    return [c for c in answer["checks"] if c[2] != "Correct"]


# -- the reference: no false alarm ------------------------------------------------------------------
def test_reference_passes_every_test_and_check(worker, tmp_path):
    root = code_copy(tmp_path)
    tests = [TESTS / t for part in PART_TESTS.values() for t in part]
    answer = worker.run(root, tests, check_calls([c for p in PART_CHECKS.values() for c in p]), exitfirst=False)
    assert not flagged(answer), f"the reference is flagged: {flagged(answer)}"
    assert answer["pytest"] == 0 and not answer["failed"], f"the reference fails {answer['failed']} ({answer['log']})"


# -- every bug is caught ----------------------------------------------------------------------------
@pytest.mark.parametrize("b", BUGS, ids=BUG_IDS)
def test_bug_is_caught(bug_answers, b):
    answer = result(bug_answers, b.id)
    missed = [f"{name}({argument or ''})" for name, argument, verdict in answer["checks"] if verdict == "Correct"]
    assert not missed, f"the notebook check says Correct for bug {b.id}: {missed}"
    assert answer["failed"], f"the public tests {b.tests} pass with bug {b.id} ({answer['log']})"


# -- part isolation: Parts 1..k done, the rest stubs ---------------------------------------------------
def stub_later_parts(done: int):
    def mutate(name: str, text: str) -> str:
        lines = text.splitlines(keepends=True)
        blocks = [k for k in markers.parse_blocks(lines, name) if block_part(name, k.function) > done]
        for k in sorted(blocks, key=lambda k: k.begin_line, reverse=True):
            first = k.begin_line - len(k.hints)
            lines[first - 1:k.end_line] = [line + "\n" for line in markers.stub_lines(k)]
        return "".join(lines)
    return mutate


@pytest.mark.parametrize("done", [1, 2, 3])
def test_parts_are_isolated(worker, tmp_path, done):
    """A student who has finished Parts 1..done sees every test and check of those parts pass."""
    root = code_copy(tmp_path, stub_later_parts(done))
    tests = [TESTS / t for part in range(1, done + 1) for t in PART_TESTS[part]]
    checks = check_calls([c for part in range(1, done + 1) for c in PART_CHECKS[part]])
    later = check_calls(PART_CHECKS[done + 1])
    answer = worker.run(root, tests, checks + later, exitfirst=False)
    verdicts = answer["checks"]
    assert not [c for c in verdicts[:len(checks)] if c[2] != "Correct"], verdicts[:len(checks)]
    assert all(c[2] == "Not implemented yet" for c in verdicts[len(checks):]), verdicts[len(checks):]
    assert answer["pytest"] == 0 and not answer["failed"], f"failing with Parts 1-{done} done: {answer['failed']}"


def test_every_test_file_has_a_part():
    """Every public test file belongs to exactly one part (test_accuracy.py: the checkpoints, slow)."""
    listed = [t for part in PART_TESTS.values() for t in part]
    on_disk = sorted(p.name for p in TESTS.glob("test_*.py") if p.name != "test_accuracy.py")
    assert sorted(listed) == on_disk


def test_every_solution_block_is_a_todo_of_one_part():
    """The registry's TODO tables list every solution block of proj4_code exactly once, and nothing else."""
    blocks = {(path.name, block.function) for path in CODE.glob("*.py") for block in markers.file_blocks(path)}
    listed = [(name, function) for p in parts.PARTS for name, functions in p.notebook.todos for function in functions]
    assert len(listed) == len(set(listed)), "a TODO is listed twice in proj4_lib/parts.py"
    assert set(listed) == blocks, (
        f"not TODOs: {sorted(blocks - set(listed))}; not blocks: {sorted(set(listed) - blocks)}")
