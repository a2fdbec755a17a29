"""The machinery around your training step (provided): proj4_code.runner.Trainer builds on it.

Nothing in here is model-specific: a model brings its own `loss_criterion`; the subclass says
what the data is (`make_dataset`), how accuracy is measured (`accuracy`) and what one training
and one validation step do (`training_step`, `validation_step`: the part you write).

What it provides:
- Data: each split is wrapped in DecodedImageCache, so every JPEG is decoded once, in epoch 1.
- Feature cache (cache_features=True, Parts 3-4): the frozen backbone `model.conv_layers` runs once
  over each split, and the batches hold its features instead of images. The model is never
  changed: `model_output(x)` then runs `model.head(features)` (backbones.FrozenBackboneModel),
  the documented second half of forward. The Trainer checks on construction that
  forward(x) == head(conv_layers(x)), so training on cached features is training the real model.
- Checkpoints: model_dir/checkpoint.pt holds the model, optimizer, scheduler, epoch, history and
  random-number state (Python's, torch's on the CPU, CUDA and MPS, the batch order's), written
  atomically after every epoch. A new Trainer on the same model_dir (load_from_disk=True) resumes
  where the last one stopped (or says that there is nothing to resume), and the resumed run gives
  the same numbers as an uninterrupted one. Interrupt training at any time: at most the current
  epoch is lost.
- History: `history` (one dict of lists, one entry per epoch) and plots of it.
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from proj4_lib.checkpoints import atomic_torch_save
from proj4_lib.evaluation import plot_curves
from proj4_lib.utils import course_device, mps_available, pick_device

HISTORY_KEYS = ("train_loss", "train_accuracy", "validation_loss", "validation_accuracy", "epoch_seconds")

# Transforms that give the same output every time (torchvision.transforms' or transforms.v2's): required for
# caching backbone features.
_DETERMINISTIC_TRANSFORMS = ("Resize", "CenterCrop", "ToTensor", "Normalize", "Grayscale", "PILToTensor",
                             "ToImage", "ToDtype", "ConvertImageDtype", "ToPureTensor")


def is_deterministic(transform: Optional[Callable]) -> bool:
    if transform is None:
        return True
    kind = type(transform)
    if not kind.__module__.startswith("torchvision.transforms"):
        return False  # a transform of one's own may be random: not cached
    if kind.__name__ == "Compose":
        return all(is_deterministic(t) for t in transform.transforms)
    return kind.__name__ in _DETERMINISTIC_TRANSFORMS


def one_cycle(lr: float, epochs: int) -> Callable:
    """For the Trainer's scheduler_factory: a one-cycle schedule that warms up to `lr`, then decays to
    almost zero by the last of `epochs` epochs (stepped after every batch)."""
    def make(optimizer, steps_per_epoch: int):
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    return make


# The schedules a part's recipe may name (proj4_lib/parts.py, Recipe.schedule).
SCHEDULES: Dict[str, Callable[[float, int], Callable]] = {"one_cycle": one_cycle}


def scheduler_factory(schedule: str, lr: float, epochs: int) -> Callable:
    """The scheduler_factory of a recipe's schedule; ValueError names the known ones."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    return SCHEDULES[schedule](lr, epochs)


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


@torch.no_grad()
def extract_backbone_features(model: nn.Module, dataset: Dataset, device, batch_size: int,
                              progress: bool = False, desc: str = "backbone features"):
    """Run the frozen `model.conv_layers` once over `dataset`: (features (N, ...), targets (N, ...))."""
    model.conv_layers.eval()
    features, targets = [], []
    batches = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for x, y in tqdm(batches, desc=desc, leave=False, disable=not progress):
        features.append(model.conv_layers(x.to(device)).cpu())
        targets.append(torch.as_tensor(y))
    return torch.cat(features), torch.cat(targets)


class TrainerBase:
    """Trains `model` on data_dir/train and validates on data_dir/test, one epoch at a time.

    Args:
        data_dir: folder with train/ and test/ (see `proj4 data install`)
        model: has `loss_criterion`; Parts 3-4 models also have a frozen `conv_layers` and `head`
        optimizer: from optimizer.get_optimizer
        model_dir: where checkpoint.pt and the plots go
        train_data_transforms / val_data_transforms: from data_transforms
        batch_size: samples per step
        load_from_disk: resume from model_dir/checkpoint.pt if it exists
        cuda: the course's flag, still accepted: True for "cuda", False for "cpu" (see `device`)
    Keyword-only:
        device: "auto" (CUDA, then Apple MPS, then CPU), "cuda", "mps" or "cpu"
        lr_scheduler: a scheduler, stepped after every batch
        scheduler_factory: or a function (optimizer, batches per epoch) -> scheduler, for schedules
            that need the number of steps (e.g. one_cycle below)
        cache_features: compute the frozen backbone's features once instead of every epoch
            (needs a frozen `model.conv_layers`, `model.head` and deterministic transforms)
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
        cuda: Optional[bool] = None,
        *,
        device: str = "auto",
        lr_scheduler=None,
        scheduler_factory: Optional[Callable] = None,
        cache_features: bool = False,
        seed: int = 0,
        progress: bool = True,
    ):
        if lr_scheduler is not None and scheduler_factory is not None:
            raise ValueError("pass lr_scheduler or scheduler_factory, not both")
        self.data_dir = str(data_dir)
        self.model_dir = Path(model_dir)
        self.device = pick_device(course_device(device, cuda))
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.cache_features = cache_features
        self.progress = progress
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0  # epochs completed
        self.history: Dict[str, List[float]] = {key: [] for key in HISTORY_KEYS}

        if cache_features:
            self._check_cacheable(train_data_transforms, val_data_transforms)
        self.train_loader = self._make_loader("train", train_data_transforms, shuffle=True)
        self.val_loader = self._make_loader("test", val_data_transforms, shuffle=False)
        if scheduler_factory is not None:
            lr_scheduler = scheduler_factory(optimizer, len(self.train_loader))
        self.lr_scheduler = lr_scheduler

        if load_from_disk and self.checkpoint_path.exists():
            self._load_checkpoint()
        elif load_from_disk:
            print(f"No checkpoint to resume from at {self.checkpoint_path}: training starts at epoch 1")

    # -- what subclasses say ---------------------------------------------------------------
    def make_dataset(self, split: str, transform: Optional[Callable]) -> Dataset:
        raise NotImplementedError("a Trainer subclass says which dataset to use (make_dataset)")

    def accuracy(self, model_output: torch.Tensor, targets: torch.Tensor) -> float:
        raise NotImplementedError("a Trainer subclass says how accuracy is measured (accuracy)")

    def training_step(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError("Trainer.training_step is yours to write (proj4_code/runner.py)")

    def validation_step(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError("Trainer.validation_step is yours to write (proj4_code/runner.py)")

    def model_output(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output for a batch: self.model(x), or with cached features self.model.head(x)."""
        return self.model.head(x) if self.cache_features else self.model(x)

    # -- data ------------------------------------------------------------------------------
    def _make_loader(self, split: str, transform: Callable, shuffle: bool) -> DataLoader:
        if self.cache_features:
            images = self.make_dataset(split, transform)
            if self.progress:  # the one slow step of Parts 3-4 on a CPU (minutes): say what its bar is
                print(f"Running the frozen backbone once over the {len(images):,} {split} images (their features "
                      "are cached: each epoch then trains only the head)", flush=True)
            features, targets = extract_backbone_features(self.model, images, self.device, self.batch_size,
                                                          self.progress, f"backbone features of {split}")
            dataset = TensorDataset(features, targets)
        else:
            dataset = DecodedImageCache(self.make_dataset(split, None), transform)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle,
                          generator=self.generator if shuffle else None)

    def _check_cacheable(self, *transforms_used) -> None:
        name = type(self.model).__name__
        backbone = getattr(self.model, "conv_layers", None)
        if backbone is None or not hasattr(self.model, "head"):
            raise ValueError(f"cache_features=True needs a model with conv_layers and head (a "
                             f"FrozenBackboneModel); {name} has not")
        if any(p.requires_grad for p in backbone.parameters()):
            raise ValueError(f"cache_features=True needs {name}.conv_layers frozen (requires_grad=False)")
        for t in transforms_used:
            if not is_deterministic(t):
                raise ValueError(f"cache_features=True needs deterministic transforms; {t} is random")
        x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0)).to(self.device)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            whole, split = self.model(x), self.model.head(self.model.conv_layers(x))
        self.model.train(was_training)
        if whole.shape != split.shape or not torch.allclose(whole, split, atol=1e-5):
            raise ValueError(f"cache_features=True trains {name}.head on the backbone's cached features, so "
                             f"forward(x) must equal head(conv_layers(x)), and they differ: forward should be "
                             "conv_layers -> flatten -> fc_layers (-> activation) and nothing else")

    # -- one epoch -------------------------------------------------------------------------
    def train_epoch(self) -> Tuple[float, float]:
        """One pass over the training set in train mode; returns (mean loss, accuracy)."""
        self.model.train()
        # No gradient left from before (a cell that ran backward): then zeroing before loss.backward() or
        # after optimizer.step() in training_step are the same training.
        self.optimizer.zero_grad(set_to_none=True)
        total_loss, total_correct, count = 0.0, 0.0, 0
        for x, y in tqdm(self.train_loader, desc=f"epoch {self.epoch + 1} train", leave=False,
                         disable=not self.progress):
            x, y = x.to(self.device), y.to(self.device)
            output, loss = self.training_step(x, y)
            if self.lr_scheduler is not None:
                self.lr_scheduler.step()
            n = x.shape[0]
            total_loss += loss.item() * n
            total_correct += self.accuracy(output.detach(), y) * n
            count += n
        return total_loss / count, total_correct / count

    @torch.no_grad()  # evaluation needs no gradients: faster and far less memory
    def validate(self) -> Tuple[float, float]:
        """One pass over the validation (test) set in eval mode; returns (mean loss, accuracy)."""
        self.model.eval()
        total_loss, total_correct, count = 0.0, 0.0, 0
        for x, y in tqdm(self.val_loader, desc=f"epoch {self.epoch + 1} validation", leave=False,
                         disable=not self.progress):
            x, y = x.to(self.device), y.to(self.device)
            output, loss = self.validation_step(x, y)
            n = x.shape[0]
            total_loss += loss.item() * n
            total_correct += self.accuracy(output, y) * n
            count += n
        return total_loss / count, total_correct / count

    @torch.no_grad()
    def validation_outputs(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The model's outputs and the targets over the whole validation set, on the CPU."""
        self.model.eval()
        outputs, targets = [], []
        for x, y in self.val_loader:
            outputs.append(self.model_output(x.to(self.device)).cpu())
            targets.append(y)
        return torch.cat(outputs), torch.cat(targets)

    def run_training_loop(self, num_epochs: int) -> None:
        """Train until `num_epochs` epochs are complete (counting resumed ones), checkpointing each."""
        self._check_schedule_length(num_epochs)
        for _ in range(self.epoch, num_epochs):
            start = time.perf_counter()
            train_loss, train_acc = self.train_epoch()
            val_loss, val_acc = self.validate()
            self.epoch += 1
            for key, value in zip(HISTORY_KEYS, (train_loss, train_acc, val_loss, val_acc,
                                                 time.perf_counter() - start)):
                self.history[key].append(value)
            print(f"Epoch {self.epoch}/{num_epochs}  train loss {train_loss:.4f} acc {train_acc:.4f}  "
                  f"val loss {val_loss:.4f} acc {val_acc:.4f}  ({self.history['epoch_seconds'][-1]:.1f} s)",
                  flush=True)
            self.save_model()

    def _check_schedule_length(self, num_epochs: int) -> None:
        """A one-cycle schedule has a fixed number of steps: a resumed run with other epochs or another
        batch size would crash mid-epoch (or end the schedule early), so refuse it up front."""
        total = getattr(self.lr_scheduler, "total_steps", None)
        planned = num_epochs * len(self.train_loader)
        if total is not None and total != planned:
            raise ValueError(f"the learning-rate schedule runs {total} steps, but {num_epochs} epochs of "
                             f"{len(self.train_loader)} batches are {planned}: use the epochs and batch size it "
                             f"was made with, or start over from scratch ({self.checkpoint_path}: `proj4 train "
                             "--restart`, or resume=False in the notebook)")

    # The course's names for the history.
    train_loss_history = property(lambda self: self.history["train_loss"])
    train_accuracy_history = property(lambda self: self.history["train_accuracy"])
    validation_loss_history = property(lambda self: self.history["validation_loss"])
    validation_accuracy_history = property(lambda self: self.history["validation_accuracy"])

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
            "history": self.history,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "mps": torch.mps.get_rng_state() if mps_available() else None,
                "loader": self.generator.get_state(),
                "python": random.getstate(),
            },
        }
        atomic_torch_save(state, self.checkpoint_path)
        return self.checkpoint_path

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
        self.history = {key: list(state["history"].get(key, [])) for key in HISTORY_KEYS}
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        if state["rng"].get("mps") is not None and mps_available():  # .get: checkpoints from before it was saved
            torch.mps.set_rng_state(state["rng"]["mps"])
        self.generator.set_state(state["rng"]["loader"])
        random.setstate(state["rng"]["python"])
        print(f"Resumed from {path} after epoch {self.epoch}")

    # -- plots -----------------------------------------------------------------------------
    def plot_loss_history(self, path: Optional[str] = None):
        """Training and validation loss per epoch; saved to `path` if given. Returns the figure."""
        return plot_curves(self.history["train_loss"], self.history["validation_loss"], "Loss", path)

    def plot_accuracy(self, path: Optional[str] = None):
        """Training and validation accuracy per epoch; saved to `path` if given. Returns the figure."""
        return plot_curves(self.history["train_accuracy"], self.history["validation_accuracy"], "Accuracy", path)

