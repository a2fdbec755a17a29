"""The training loop: Trainer (Parts 1-3) and MultiLabelTrainer (Part 4).

Nothing in here is model-specific: a model brings its own `loss_criterion`; the trainer moves
batches, steps the optimizer, keeps the history and checkpoints after every epoch.

You complete two pieces, inside train_epoch and validate: the per-batch training step and the
per-batch validation step. The bookkeeping around them is provided.

Checkpoints (model_dir/checkpoint.pt) hold the model, optimizer, scheduler, epoch, history and
random-number state, written atomically after every epoch. A new Trainer on the same model_dir
(load_from_disk=True) resumes where the last one stopped, and the resumed run gives the same
numbers as an uninterrupted one. Interrupt training at any time: at most the current epoch is lost.
"""
from __future__ import annotations

import contextlib
import random
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision import transforms
from tqdm.auto import tqdm

from proj4_code.dl_utils import _atomic_torch_save, compute_accuracy, compute_loss, compute_multilabel_accuracy
from proj4_code.image_loader import ImageLoader, MultiLabelImageLoader, default_attribute_csv
from proj4_code.utils import pick_device

# Transforms that give the same output every time: required for caching backbone features.
_DETERMINISTIC_TRANSFORMS = (transforms.Resize, transforms.CenterCrop, transforms.ToTensor,
                             transforms.Normalize, transforms.Grayscale, transforms.PILToTensor)


class DecodedImageCache(Dataset):
    """Wraps a dataset built with transform=None: decodes each image once and keeps it, so after
    the first epoch no JPEG is decoded again. A random `transform` runs on every access; a
    deterministic one (e.g. for validation) runs once and its output is kept instead."""

    def __init__(self, dataset: Dataset, transform: Optional[Callable]):
        self.dataset = dataset
        self.transform = transform
        self.keep_transformed = is_deterministic(transform)
        self._items: List = [None] * len(dataset)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int):
        if self._items[index] is None:
            image, target = self.dataset[index]
            if self.keep_transformed and self.transform is not None:
                image = self.transform(image)
            self._items[index] = (image, target)
        image, target = self._items[index]
        if not self.keep_transformed:
            image = self.transform(image)
        return image, target


def is_deterministic(transform: Optional[Callable]) -> bool:
    if transform is None:
        return True
    if isinstance(transform, transforms.Compose):
        return all(is_deterministic(t) for t in transform.transforms)
    return isinstance(transform, _DETERMINISTIC_TRANSFORMS)


@torch.no_grad()
def extract_backbone_features(model: nn.Module, dataset: Dataset, device, batch_size: int):
    """Run the frozen `model.conv_layers` once over `dataset`: (features (N, ...), targets (N, ...))."""
    model.conv_layers.eval()
    features, targets = [], []
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        features.append(model.conv_layers(x.to(device)).cpu())
        targets.append(torch.as_tensor(y))
    return torch.cat(features), torch.cat(targets)


class Trainer:
    """Trains `model` on data_dir/train and validates on data_dir/test, one epoch at a time.

    Args:
        data_dir: folder with train/ and test/ (see `proj4 data install`)
        model: has `loss_criterion`; Parts 3-4 models also have a frozen `conv_layers`
        optimizer: from optimizer.get_optimizer
        model_dir: where checkpoint.pt and the plots go
        train_data_transforms / val_data_transforms: from data_transforms
        batch_size: samples per step
        load_from_disk: resume from model_dir/checkpoint.pt if it exists
        cuda: use a CUDA GPU (kept for the course's notebooks; `device` is more general)
        device: "auto" (CUDA, then Apple MPS, then CPU), "cuda", "mps" or "cpu"; overrides `cuda`
        lr_scheduler: optional, stepped after every batch (e.g. OneCycleLR); or a function
            (optimizer, batches per epoch) -> scheduler, for schedules that need the step count
        cache_features: compute the frozen backbone's features once instead of every epoch
            (needs a frozen `model.conv_layers` and deterministic transforms)
        seed: seeds the order in which batches are drawn
        progress: show a tqdm progress bar per epoch
    """

    def __init__(
        self,
        data_dir: str,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        model_dir: str,
        train_data_transforms: Callable,
        val_data_transforms: Callable,
        batch_size: int = 100,
        load_from_disk: bool = True,
        cuda: bool = False,
        *,
        device: Optional[str] = None,
        lr_scheduler=None,
        cache_features: bool = False,
        seed: int = 0,
        progress: bool = True,
    ):
        self.data_dir = str(data_dir)
        self.model_dir = Path(model_dir)
        self.device = pick_device(device if device is not None else ("cuda" if cuda else "cpu"))
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.cache_features = cache_features
        self.progress = progress
        self.generator = torch.Generator().manual_seed(seed)

        self.epoch = 0  # epochs completed
        self.train_loss_history: List[float] = []
        self.validation_loss_history: List[float] = []
        self.train_accuracy_history: List[float] = []
        self.validation_accuracy_history: List[float] = []
        self.epoch_seconds: List[float] = []

        if cache_features:
            self._check_cacheable(train_data_transforms, val_data_transforms)
        self.train_loader = self._make_loader("train", train_data_transforms, shuffle=True)
        self.val_loader = self._make_loader("test", val_data_transforms, shuffle=False)
        if lr_scheduler is not None and not hasattr(lr_scheduler, "step"):
            lr_scheduler = lr_scheduler(optimizer, len(self.train_loader))
        self.lr_scheduler = lr_scheduler

        if load_from_disk and self.checkpoint_path.exists():
            self._load_checkpoint()

    # -- data ------------------------------------------------------------------------------
    def _make_dataset(self, split: str, transform: Optional[Callable]) -> Dataset:
        return ImageLoader(self.data_dir, split=split, transform=transform)

    def _make_loader(self, split: str, transform: Callable, shuffle: bool) -> DataLoader:
        if self.cache_features:
            features, targets = extract_backbone_features(
                self.model, self._make_dataset(split, transform), self.device, self.batch_size)
            dataset = TensorDataset(features, targets)
        else:
            dataset = DecodedImageCache(self._make_dataset(split, None), transform)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle,
                          generator=self.generator if shuffle else None)

    def _check_cacheable(self, *transforms_used) -> None:
        backbone = getattr(self.model, "conv_layers", None)
        if backbone is None or any(p.requires_grad for p in backbone.parameters()):
            raise ValueError("cache_features=True needs a model whose conv_layers are all frozen")
        for t in transforms_used:
            if not is_deterministic(t):
                raise ValueError(f"cache_features=True needs deterministic transforms; {t} is random")

    def _model_input_mode(self):
        """With cached features the batches are conv_layers' outputs, so conv_layers is skipped."""
        return _skip_conv_layers(self.model) if self.cache_features else contextlib.nullcontext()

    def _accuracy(self, model_output: torch.Tensor, targets: torch.Tensor) -> float:
        return compute_accuracy(model_output, targets)

    # -- one epoch -------------------------------------------------------------------------
    def train_epoch(self) -> Tuple[float, float]:
        """One pass over the training set; returns (mean loss, accuracy)."""
        self.model.train()
        total_loss, total_correct, count = 0.0, 0.0, 0
        with self._model_input_mode():
            for x, y in tqdm(self.train_loader, desc=f"epoch {self.epoch + 1} train", leave=False,
                             disable=not self.progress):
                x, y = x.to(self.device), y.to(self.device)
                output, loss = None, None
                # STUB: forward pass, loss with compute_loss, zero the gradients, backward, optimizer step
                # BEGIN SOLUTION
                output = self.model(x)
                loss = compute_loss(self.model, output, y)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                # END SOLUTION
                if self.lr_scheduler is not None:
                    self.lr_scheduler.step()
                n = x.shape[0]
                total_loss += loss.item() * n
                total_correct += self._accuracy(output.detach(), y) * n
                count += n
        return total_loss / count, total_correct / count

    @torch.no_grad()  # the course's original kept gradients here: slower, more memory, same numbers
    def validate(self) -> Tuple[float, float]:
        """One pass over the validation (test) set in eval mode; returns (mean loss, accuracy)."""
        self.model.eval()
        total_loss, total_correct, count = 0.0, 0.0, 0
        with self._model_input_mode():
            for x, y in self.val_loader:
                x, y = x.to(self.device), y.to(self.device)
                output, loss = None, None
                # STUB: forward pass and loss with compute_loss (no optimizer here)
                # BEGIN SOLUTION
                output = self.model(x)
                loss = compute_loss(self.model, output, y)
                # END SOLUTION
                n = x.shape[0]
                total_loss += loss.item() * n
                total_correct += self._accuracy(output, y) * n
                count += n
        return total_loss / count, total_correct / count

    @torch.no_grad()
    def validation_outputs(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The model's outputs and the targets over the whole validation set, on the CPU."""
        self.model.eval()
        outputs, targets = [], []
        with self._model_input_mode():
            for x, y in self.val_loader:
                outputs.append(self.model(x.to(self.device)).cpu())
                targets.append(y)
        return torch.cat(outputs), torch.cat(targets)

    def run_training_loop(self, num_epochs: int) -> None:
        """Train until `num_epochs` epochs are complete (counting resumed ones), checkpointing each."""
        for _ in range(self.epoch, num_epochs):
            start = time.perf_counter()
            train_loss, train_acc = self.train_epoch()
            val_loss, val_acc = self.validate()
            self.epoch += 1
            self.epoch_seconds.append(time.perf_counter() - start)
            self.train_loss_history.append(train_loss)
            self.train_accuracy_history.append(train_acc)
            self.validation_loss_history.append(val_loss)
            self.validation_accuracy_history.append(val_acc)
            print(f"Epoch {self.epoch}/{num_epochs}  train loss {train_loss:.4f} acc {train_acc:.4f}  "
                  f"val loss {val_loss:.4f} acc {val_acc:.4f}  ({self.epoch_seconds[-1]:.1f} s)", flush=True)
            self.save_model()

    # -- checkpoints -----------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.model_dir / "checkpoint.pt"

    def save_model(self) -> Path:
        """Write model_dir/checkpoint.pt atomically (all that resuming needs)."""
        state = {
            "model_class": type(self.model).__name__,
            "model_state": self.model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.lr_scheduler.state_dict() if self.lr_scheduler is not None else None,
            "epoch": self.epoch,
            "history": {name: getattr(self, name) for name in self._history_names()},
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "loader": self.generator.get_state(),
                "python": random.getstate(),
            },
        }
        _atomic_torch_save(state, self.checkpoint_path)
        return self.checkpoint_path

    @staticmethod
    def _history_names() -> Tuple[str, ...]:
        return ("train_loss_history", "validation_loss_history", "train_accuracy_history",
                "validation_accuracy_history", "epoch_seconds")

    def _load_checkpoint(self) -> None:
        path = self.checkpoint_path
        try:
            # Our own file (it holds Python RNG state, which weights_only cannot load).
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:
            raise ValueError(f"cannot resume from {path} ({type(err).__name__}: {err}); delete it "
                             "or pass load_from_disk=False to start over") from err
        if state.get("model_class") != type(self.model).__name__:
            raise ValueError(f"{path} is a checkpoint of {state.get('model_class')}, not "
                             f"{type(self.model).__name__}; use another model_dir or load_from_disk=False")
        try:
            self.model.load_state_dict(state["model_state"])
            self.optimizer.load_state_dict(state["optimizer_state"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise ValueError(f"{path} does not fit this model/optimizer ({err}); use another model_dir "
                             "or load_from_disk=False") from err
        if self.lr_scheduler is not None and state.get("scheduler_state") is not None:
            self.lr_scheduler.load_state_dict(state["scheduler_state"])
        self.epoch = state["epoch"]
        for name in self._history_names():
            setattr(self, name, list(state["history"].get(name, [])))
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.generator.set_state(state["rng"]["loader"])
        random.setstate(state["rng"]["python"])
        print(f"Resumed from {path} after epoch {self.epoch}")

    # -- plots -----------------------------------------------------------------------------
    def plot_loss_history(self, path: Optional[str] = None):
        """Training and validation loss per epoch; saved to `path` if given. Returns the figure."""
        return _plot_curves(self.train_loss_history, self.validation_loss_history, "Loss", path)

    def plot_accuracy(self, path: Optional[str] = None):
        """Training and validation accuracy per epoch; saved to `path` if given. Returns the figure."""
        return _plot_curves(self.train_accuracy_history, self.validation_accuracy_history, "Accuracy", path)


class MultiLabelTrainer(Trainer):
    """The Trainer for MultilabelResNet18: attribute CSVs as labels, element-wise accuracy.

    train_labels_csv / test_labels_csv default to data_dir/scene_attributes_{train,test}.csv.
    """

    def __init__(self, data_dir: str, model: nn.Module, optimizer: torch.optim.Optimizer, model_dir: str,
                 train_data_transforms: Callable, val_data_transforms: Callable,
                 train_labels_csv: Optional[str] = None, test_labels_csv: Optional[str] = None,
                 batch_size: int = 100, load_from_disk: bool = True, cuda: bool = False, **kwargs):
        self.labels_csv = {
            "train": train_labels_csv or default_attribute_csv(data_dir, "train"),
            "test": test_labels_csv or default_attribute_csv(data_dir, "test"),
        }
        super().__init__(data_dir, model, optimizer, model_dir, train_data_transforms, val_data_transforms,
                         batch_size=batch_size, load_from_disk=load_from_disk, cuda=cuda, **kwargs)

    def _make_dataset(self, split: str, transform: Optional[Callable]) -> Dataset:
        return MultiLabelImageLoader(self.data_dir, self.labels_csv[split], split=split, transform=transform)

    def _accuracy(self, model_output: torch.Tensor, targets: torch.Tensor) -> float:
        return compute_multilabel_accuracy(model_output, targets)


@contextlib.contextmanager
def _skip_conv_layers(model: nn.Module):
    backbone = model.conv_layers
    model.conv_layers = nn.Identity()
    try:
        yield
    finally:
        model.conv_layers = backbone


def _plot_curves(train: List[float], val: List[float], what: str, path: Optional[str]):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(train) + 1)
    ax.plot(epochs, train, "-b", label="training")
    ax.plot(epochs, val, "-r", label="validation")
    ax.set_title(f"{what} history")
    ax.set_xlabel("Epoch")
    ax.set_ylabel(what)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig
