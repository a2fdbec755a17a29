"""The training loop (Parts 1-4): you write one training step and one validation step.

Everything around them comes from proj4_lib.trainer.TrainerBase (provided; its docstring lists
the constructor's arguments): data loaders over your ImageLoader, caches of decoded images and of
backbone features, a checkpoint after every epoch with exact resuming, the history and the plots.
Its loops call your steps once per batch, with x and y already on self.device:
    train_epoch: model in train mode, training_step(x, y) for every training batch
    validate:    model in eval mode, under torch.no_grad(), validation_step(x, y) for every test batch

Rules: compute the forward pass with self.model_output(x), which is self.model(x), or the model's
head alone when the frozen backbone's features are cached (cache_features=True, Parts 3-4).
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch
from torch.utils.data import Dataset

from proj4_code.dl_utils import compute_accuracy, compute_loss, compute_multilabel_accuracy
from proj4_code.image_loader import ImageLoader, MultiLabelImageLoader
from proj4_lib.files import default_attribute_csv
from proj4_lib.trainer import TrainerBase


class Trainer(TrainerBase):
    """Trains a 15-way classifier on data_dir/train and validates it on data_dir/test."""

    def training_step(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step on one batch.

        Args:
            x: (N, 1, H, W) images, or (N, D) cached backbone features
            y: (N,) class indices (MultiLabelTrainer: (N, 7) 0/1 flags)
        Returns:
            output: the model output for the batch, (N, 15) (MultiLabelTrainer: (N, 7))
            loss: the batch's loss, a scalar tensor

        What is checked is the behaviour: one optimizer step on this batch's loss alone, with the model
        as train_epoch left it (train mode). Zero the gradients before loss.backward() (the usual order)
        or after optimizer.step(): both work; between backward and step they would wipe the gradient.
        """
        output, loss = None, None
        # STUB: output = self.model_output(x); loss = compute_loss(self.model, output, y); then zero the
        # STUB: optimizer's gradients, back-propagate the loss and take an optimizer step
        # BEGIN SOLUTION
        output = self.model_output(x)
        loss = compute_loss(self.model, output, y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        # END SOLUTION
        return output, loss

    def validation_step(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The model output and the loss of one validation batch (shapes as in training_step).

        Only measure: no backward pass, no optimizer and no model.train() here (validate runs the model
        in eval mode, under torch.no_grad()), so validation never changes the model.
        """
        output, loss = None, None
        # STUB: output = self.model_output(x) and loss = compute_loss(self.model, output, y); nothing else
        # BEGIN SOLUTION
        output = self.model_output(x)
        loss = compute_loss(self.model, output, y)
        # END SOLUTION
        return output, loss

    # Provided: the data the Trainer reads, and how its accuracy is measured.
    def make_dataset(self, split: str, transform: Optional[Callable]) -> Dataset:
        return ImageLoader(self.data_dir, split=split, transform=transform)

    def accuracy(self, model_output: torch.Tensor, targets: torch.Tensor) -> float:
        return compute_accuracy(model_output, targets)


class MultiLabelTrainer(Trainer):
    """The Trainer for MultilabelResNet18 (provided): attribute flags as labels, element-wise accuracy.

    Same arguments as Trainer, plus keyword-only train_labels_csv / test_labels_csv (default:
    data_dir/scene_attributes_{train,test}.csv).
    """

    def __init__(self, *args, train_labels_csv: Optional[str] = None, test_labels_csv: Optional[str] = None,
                 **kwargs):
        self.labels_csv = {"train": train_labels_csv, "test": test_labels_csv}
        super().__init__(*args, **kwargs)

    def make_dataset(self, split: str, transform: Optional[Callable]) -> Dataset:
        csv_path = self.labels_csv[split] or default_attribute_csv(self.data_dir, split)
        return MultiLabelImageLoader(self.data_dir, csv_path, split=split, transform=transform)

    def accuracy(self, model_output: torch.Tensor, targets: torch.Tensor) -> float:
        return compute_multilabel_accuracy(model_output, targets)
