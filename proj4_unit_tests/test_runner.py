"""Part 1: the Trainer on tiny synthetic data (a few seconds in all). Only Part 1 code is used, so
these pass once Part 1 is done; MultiLabelTrainer (Part 4) is tested in test_multilabel_trainer.py."""
import re

import numpy as np
import pytest
import torch
from torch import nn
from torchvision import transforms

from proj4_code import data_transforms
from proj4_code.optimizer import get_optimizer
from proj4_code.runner import Trainer
from proj4_code.simple_net import SimpleNet
from proj4_lib import expectations as expect
from proj4_lib.backbones import FrozenBackboneModel
from proj4_lib.fixtures import class_tree, darker_by_class
from proj4_lib.utils import reset_seed

NUM_CLASSES, PER_CLASS, SIZE = 15, 4, (64, 64)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """data/{train,test}/c00..c14/*.png: 16 x 16 noise images, darker by class, 4 per class and split."""
    return class_tree(tmp_path_factory.mktemp("tiny_scenes"), [f"c{c:02d}" for c in range(NUM_CLASSES)], PER_CLASS,
                      darker_by_class())


class OtherModel(SimpleNet):
    """Another model class with the same layers (its checkpoint must not be mistaken for SimpleNet's)."""


def make_trainer(tree, model_dir, model_class=SimpleNet, augment=False, **kwargs):
    model = model_class()
    optimizer = get_optimizer(model, {"optimizer_type": "adam", "lr": 1e-3})
    val_tf = data_transforms.get_fundamental_normalization_transforms(SIZE, 0.3, 0.2)
    # Random flips: resuming must restore the random state too (torchvision's own, not Part 2's code).
    train_tf = transforms.Compose([transforms.RandomHorizontalFlip(), *val_tf.transforms]) if augment else val_tf
    return Trainer(tree, model, optimizer, model_dir, train_tf, val_tf, batch_size=16, progress=False, **kwargs)


HISTORIES = ("train_loss_history", "validation_loss_history", "train_accuracy_history",
             "validation_accuracy_history")


def test_training_loop_fills_histories_and_checkpoints(tree, tmp_path):
    reset_seed(0)
    trainer = make_trainer(tree, tmp_path)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    for epoch in (1, 2):
        trainer.run_training_loop(epoch)
        state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
        assert state["epoch"] == epoch and len(state["history"]["train_loss"]) == epoch
    assert trainer.epoch == 2
    for name in HISTORIES:
        values = getattr(trainer, name)
        assert len(values) == 2 and all(np.isfinite(values)), f"{name}: {values}"
    for name in ("train_accuracy_history", "validation_accuracy_history"):
        assert all(0.0 <= v <= 1.0 for v in getattr(trainer, name)), name
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters())), "no weight changed"


def test_validate_runs_without_gradients_in_eval_mode(tree, tmp_path):
    reset_seed(0)
    trainer = make_trainer(tree, tmp_path)
    model, seen = trainer.model, []
    forward = model.forward

    def recording_forward(x):
        seen.append((torch.is_grad_enabled(), model.training))
        return forward(x)

    model.forward = recording_forward
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss, accuracy = trainer.validate()
    assert seen and all(state == (False, False) for state in seen), f"(grad enabled, training) per batch: {seen}"
    assert isinstance(loss, float) and loss > 0 and 0.0 <= accuracy <= 1.0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "validate changed the model"

    seen.clear()
    trainer.train_epoch()
    assert seen and all(state == (True, True) for state in seen), f"train_epoch: {seen}"


def test_resume_is_exact(tree, tmp_path):
    """2 epochs in one go == 1 epoch, stop, a new Trainer resumes for the 2nd (augmentation + shuffling)."""
    reset_seed(0)
    straight = make_trainer(tree, tmp_path / "straight", augment=True)
    straight.run_training_loop(2)

    reset_seed(0)
    make_trainer(tree, tmp_path / "resumed", augment=True).run_training_loop(1)
    reset_seed(99)  # whatever ran in between must not matter
    resumed = make_trainer(tree, tmp_path / "resumed", augment=True, load_from_disk=True)
    assert resumed.epoch == 1
    resumed.run_training_loop(2)

    for name in HISTORIES:
        assert getattr(resumed, name) == getattr(straight, name), name
    straight_state, resumed_state = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(straight_state[k], resumed_state[k]) for k in straight_state)


def test_checkpoint_of_another_model_class(tree, tmp_path):
    reset_seed(0)
    make_trainer(tree, tmp_path).run_training_loop(1)
    with pytest.raises(ValueError) as err:
        make_trainer(tree, tmp_path, model_class=OtherModel)
    message = str(err.value)
    assert str(tmp_path / "checkpoint.pt") in message, message
    assert re.search(r"\bSimpleNet\b", message) and "OtherModel" in message, message
    assert make_trainer(tree, tmp_path, model_class=OtherModel, load_from_disk=False).epoch == 0


def test_checkpoint_write_is_atomic(tree, tmp_path, monkeypatch):
    reset_seed(0)
    trainer = make_trainer(tree, tmp_path)
    trainer.run_training_loop(1)
    good = (tmp_path / "checkpoint.pt").read_bytes()

    def crash_mid_write(obj, f, *args, **kwargs):
        with open(f, "wb") as out:
            out.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        trainer.run_training_loop(2)
    monkeypatch.undo()
    assert (tmp_path / "checkpoint.pt").read_bytes() == good
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["epoch"] == 1
    assert not list(tmp_path.glob("*.tmp")), "a temporary file was left behind"


def test_plots(tree, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    trainer = make_trainer(tree, tmp_path)
    trainer.history.update(train_loss=[2.5, 2.0, 1.5], validation_loss=[2.6, 2.2, 2.1],
                           train_accuracy=[0.1, 0.3, 0.5], validation_accuracy=[0.1, 0.2, 0.25])
    for plot, curves in ((trainer.plot_loss_history, HISTORIES[:2]), (trainer.plot_accuracy, HISTORIES[2:])):
        fig = plot()
        assert isinstance(fig, Figure)
        assert [list(line.get_ydata()) for line in fig.axes[0].get_lines()] == [getattr(trainer, c) for c in curves]
        plt.close(fig)
        path = tmp_path / f"{plot.__name__}.png"
        assert isinstance(plot(str(path)), Figure)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


def test_tune_cpu_allocator(monkeypatch):
    import platform
    import sys

    from proj4_lib.utils import tune_cpu_allocator

    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert tune_cpu_allocator() is True, "glibc's mallopt refused the thresholds"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert tune_cpu_allocator() is False


# -- the two steps you write, checked directly ---------------------------------------------------

def batches(tree, n=2):
    """n batches of 8 images from the training split, as the Trainer would give them."""
    val_tf = data_transforms.get_fundamental_normalization_transforms(SIZE, 0.3, 0.2)
    from proj4_code.image_loader import ImageLoader
    dataset = ImageLoader(tree, split="train", transform=val_tf)
    picks = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[: 8 * n].view(n, 8)
    return [(torch.stack([dataset[i][0] for i in idx]), torch.tensor([dataset[i][1] for i in idx])) for idx in picks]


def test_training_step_takes_one_step_on_its_batch(tree, tmp_path):
    """Each training_step moves the weights by one optimizer step on that batch's gradient alone, in train
    mode (a model with batch norm shows a step in eval mode); any order of zero_grad that does this passes."""
    reset_seed(0)
    model = expect.BatchNormNet(NUM_CLASSES)
    trainer = Trainer(tree, model, torch.optim.SGD(model.parameters(), lr=0.1), tmp_path,
                      transforms.ToTensor(), transforms.ToTensor(), batch_size=16, progress=False, device="cpu")
    expect.training_step_is_one_step(trainer, batches(tree, 3))


def test_validation_runs_in_eval_mode_and_changes_nothing(tree, tmp_path):
    """With dropout and batch norm, validate's loss is the eval-mode loss and no statistic moves."""
    reset_seed(0)
    model = expect.BatchNormNet(NUM_CLASSES, dropout=0.5)
    tf = data_transforms.get_fundamental_normalization_transforms(SIZE, 0.3, 0.2)
    trainer = Trainer(tree, model, torch.optim.SGD(model.parameters(), lr=0.1), tmp_path, tf, tf, batch_size=16,
                      progress=False, device="cpu")
    trainer.train_epoch()
    expect.validate_changes_nothing(trainer)


def test_validate_changes_nothing_after_real_training(tree, tmp_path):
    """validate after real training steps (the optimizer holds gradients and momentum now) leaves every
    weight as it was, and its loss is the mean cross-entropy over the test split."""
    reset_seed(0)
    trainer = make_trainer(tree, tmp_path)
    trainer.train_epoch()
    expect.validate_changes_nothing(trainer)


class PooledFeatures(FrozenBackboneModel):
    """A parameter-free 'backbone' (4 x 4 average pooling) and a Linear head: enough for cached features."""

    def __init__(self):
        super().__init__()
        self.conv_layers = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.fc_layers = nn.Linear(16, NUM_CLASSES)
        self.loss_criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.head(self.conv_layers(x))


def test_steps_use_model_output_with_cached_features(tree, tmp_path):
    """With cache_features=True the batches are backbone features: the steps must call self.model_output(x)."""
    reset_seed(0)
    model = PooledFeatures()
    tf = data_transforms.get_fundamental_transforms(SIZE)
    expect.steps_use_model_output(Trainer(tree, model, torch.optim.Adam(model.parameters(), lr=1e-2), tmp_path, tf, tf,
                                          batch_size=16, progress=False, device="cpu", cache_features=True))
