"""The provided trainer machinery (proj4_lib.trainer): caches, the feature-cache contract, schedules, devices.

A tiny frozen-backbone model stands in for Parts 3-4 and a subclass with its own steps stands in
for the student's Trainer, so these tests depend on no student code.
"""
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset
from torchvision import transforms

from proj4_lib.backbones import FrozenBackboneModel
from proj4_lib.files import load_grayscale_image
from proj4_lib.fixtures import class_tree, darker_by_class
from proj4_lib.trainer import DecodedImageCache, TrainerBase, one_cycle
from proj4_lib.utils import course_device, pick_device

CLASSES, PER_CLASS = 3, 6


class Folder(Dataset):
    """data_dir/<split>/<class>/*.png -> (PIL image or transform(image), class index); counts decodes."""

    decodes = 0

    def __init__(self, root, split, transform=None):
        folder = root / split
        self.items = [(p, i) for i, c in enumerate(sorted(folder.iterdir())) for p in sorted(c.iterdir())]
        self.transform = transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        Folder.decodes += 1
        path, label = self.items[index]
        image = load_grayscale_image(str(path))
        return (self.transform(image) if self.transform else image), label


class StepTrainer(TrainerBase):
    """What a student's Trainer adds: the data, the accuracy and the two steps."""

    def make_dataset(self, split, transform):
        return Folder(Path(self.data_dir), split, transform)

    def accuracy(self, output, targets):
        return (output.argmax(1) == targets).float().mean().item()

    def training_step(self, x, y):
        output = self.model_output(x)
        loss = self.model.loss_criterion(output, y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return output, loss

    def validation_step(self, x, y):
        output = self.model_output(x)
        return output, self.model.loss_criterion(output, y)


class TinyFrozen(FrozenBackboneModel):
    """A frozen conv backbone that counts its calls, and a Linear head (the Parts 3-4 shape)."""

    def __init__(self, extra_in_forward: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.conv_layers = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1))
        self.conv_layers.requires_grad_(False)
        self.fc_layers = nn.Linear(4, CLASSES)
        self.loss_criterion = nn.CrossEntropyLoss()
        self.extra_in_forward = extra_in_forward
        self.backbone_calls = 0
        self.conv_layers.register_forward_hook(lambda *_: setattr(self, "backbone_calls", self.backbone_calls + 1))

    def forward(self, x):
        out = self.fc_layers(torch.flatten(self.conv_layers(x), 1))
        return out * 2 if self.extra_in_forward else out


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return class_tree(tmp_path_factory.mktemp("three_classes"), [f"c{c}" for c in range(CLASSES)], PER_CLASS,
                      darker_by_class((20, 20)))


TO_TENSOR = transforms.Compose([transforms.Resize((16, 16)), transforms.ToTensor()])


def trainer(tree, tmp_path, model, **kwargs):
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    kwargs.setdefault("load_from_disk", False)
    return StepTrainer(tree, model, optimizer, tmp_path, TO_TENSOR, TO_TENSOR, batch_size=4, device="cpu",
                       progress=False, **kwargs)


def test_decoded_image_cache_decodes_each_image_once(tree):
    Folder.decodes = 0
    flip = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor()])
    cache = DecodedImageCache(Folder(tree, "train"), flip)
    for _ in range(3):
        images = [cache[i][0] for i in range(len(cache))]
    assert Folder.decodes == len(cache), "each JPEG must be decoded once, however many epochs"
    assert all(isinstance(img, torch.Tensor) for img in images), "the random transform runs on every access"

    kept = DecodedImageCache(Folder(tree, "test"), TO_TENSOR)
    assert kept[0][0] is kept[0][0], "a deterministic transform's output is kept, not recomputed"


def test_feature_cache_trains_the_same_model_with_one_backbone_pass(tree, tmp_path):
    cached_model, plain_model = TinyFrozen(), TinyFrozen()
    torch.manual_seed(1)
    cached = trainer(tree, tmp_path / "cached", cached_model, cache_features=True)
    torch.manual_seed(1)
    plain = trainer(tree, tmp_path / "plain", plain_model, cache_features=False)
    backbone_before = cached_model.conv_layers
    calls_after_setup = cached_model.backbone_calls
    cached.run_training_loop(3)
    plain.run_training_loop(3)

    assert cached_model.conv_layers is backbone_before, "the cache must not swap the model's backbone"
    assert cached_model.backbone_calls == calls_after_setup, "after the one pass, epochs run the head only"
    assert cached.history["validation_accuracy"] == pytest.approx(plain.history["validation_accuracy"])
    for (name, a), b in zip(cached_model.state_dict().items(), plain_model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), f"{name} differs between cached and uncached training"


def test_feature_cache_refuses_what_it_cannot_cache(tree, tmp_path):
    with pytest.raises(ValueError, match=r"head\(conv_layers\(x\)\)"):
        trainer(tree, tmp_path, TinyFrozen(extra_in_forward=True), cache_features=True)
    unfrozen = TinyFrozen()
    unfrozen.conv_layers.requires_grad_(True)
    with pytest.raises(ValueError, match="frozen"):
        trainer(tree, tmp_path, unfrozen, cache_features=True)
    model = TinyFrozen()
    optimizer = torch.optim.SGD(model.fc_layers.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="deterministic"):
        StepTrainer(tree, model, optimizer, tmp_path, transforms.Compose([transforms.RandomHorizontalFlip(),
                                                                          TO_TENSOR]), TO_TENSOR,
                    cache_features=True, device="cpu", progress=False)


def test_schedule_of_another_length_is_refused_before_training(tree, tmp_path):
    model = TinyFrozen()
    run = trainer(tree, tmp_path, model, scheduler_factory=one_cycle(0.1, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="--restart"):
        run.run_training_loop(3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "nothing may train first"
    with pytest.raises(ValueError, match="not both"):
        trainer(tree, tmp_path, TinyFrozen(), scheduler_factory=one_cycle(0.1, 2),
                lr_scheduler=torch.optim.lr_scheduler.StepLR(torch.optim.SGD(model.parameters(), lr=1), 1))


def test_one_device_convention():
    assert pick_device("cpu") == torch.device("cpu")
    assert course_device("auto", False) == "cpu", "the course's cuda=False means the CPU"
    assert course_device("cpu", True) == "cpu", "an explicit device wins over the flag"
    assert course_device("mps", None) == "mps" and course_device("auto", None) == "auto"
    with pytest.raises(ValueError, match="'tpu'"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            pick_device(course_device("auto", True))
    with pytest.raises(TypeError):  # below the entry points there is one device argument
        pick_device("auto", use_cuda=False)


def test_trainer_takes_the_course_flag_and_device(tree, tmp_path):
    """The Trainer is an entry point: cuda= (the course's) and device= both work, device wins."""
    model = TinyFrozen()
    assert trainer(tree, tmp_path, model).device == torch.device("cpu")
    optimizer = torch.optim.SGD(model.fc_layers.parameters(), lr=0.1)
    cpu = StepTrainer(tree, model, optimizer, tmp_path, TO_TENSOR, TO_TENSOR, cuda=False, progress=False)
    assert cpu.device == torch.device("cpu")
    explicit = StepTrainer(tree, model, optimizer, tmp_path, TO_TENSOR, TO_TENSOR, cuda=True, device="cpu",
                           progress=False)
    assert explicit.device == torch.device("cpu"), "an explicit device wins over cuda="


def test_trainer_extras_are_keyword_only(tree, tmp_path):
    model = TinyFrozen()
    optimizer = torch.optim.SGD(model.fc_layers.parameters(), lr=0.1)
    args = (tree, model, optimizer, tmp_path, TO_TENSOR, TO_TENSOR, 4, False, False)
    assert StepTrainer(*args, progress=False).device == torch.device("cpu"), "cuda=False (9th) means the CPU"
    with pytest.raises(TypeError):
        StepTrainer(*args, "cpu")


def test_resume_without_a_checkpoint_says_so(tree, tmp_path, capsys):
    """load_from_disk=True (the notebook's resume=True) with nothing to resume: a message, not a silent epoch 1."""
    run = trainer(tree, tmp_path, TinyFrozen(), load_from_disk=True)
    assert run.epoch == 0
    assert f"No checkpoint to resume from at {tmp_path / 'checkpoint.pt'}" in capsys.readouterr().out
    run.run_training_loop(1)
    resumed = trainer(tree, tmp_path, TinyFrozen(), load_from_disk=True)
    assert resumed.epoch == 1 and "Resumed from" in capsys.readouterr().out


def test_mps_random_state_is_saved_and_restored(tree, tmp_path, monkeypatch):
    """On Apple silicon the MPS generator's state goes into the checkpoint and comes back on resume (no MPS
    here: torch.mps is replaced by a recorder)."""
    import proj4_lib.trainer as trainer_module

    state = torch.arange(8, dtype=torch.uint8)
    restored = []
    monkeypatch.setattr(trainer_module, "mps_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda *args: state.clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda new, *args: restored.append(new.clone()))
    trainer(tree, tmp_path, TinyFrozen()).run_training_loop(1)
    assert torch.equal(torch.load(tmp_path / "checkpoint.pt", weights_only=False)["rng"]["mps"], state)
    trainer(tree, tmp_path, TinyFrozen(), load_from_disk=True)
    assert len(restored) == 1 and torch.equal(restored[0], state)


def test_progress_bars_for_backbone_features_and_validation(tree, tmp_path, capsys):
    """The slow steps say what they are: the one backbone pass (a line, then a bar) and each validation."""
    optimizer = torch.optim.SGD(TinyFrozen().fc_layers.parameters(), lr=0.1)
    run = StepTrainer(tree, TinyFrozen(), optimizer, tmp_path, TO_TENSOR, TO_TENSOR, batch_size=4, device="cpu",
                      load_from_disk=False, cache_features=True, progress=True)
    run.run_training_loop(1)
    out, err = capsys.readouterr()
    assert f"Running the frozen backbone once over the {CLASSES * PER_CLASS} train images" in out, out
    for bar in ("backbone features of train", "backbone features of test", "epoch 1 train", "epoch 1 validation"):
        assert bar in err, f"no progress bar {bar!r} in {err!r}"
    quiet = StepTrainer(tree, TinyFrozen(), optimizer, tmp_path / "quiet", TO_TENSOR, TO_TENSOR, batch_size=4,
                        device="cpu", load_from_disk=False, cache_features=True, progress=False)
    quiet.run_training_loop(1)
    out, err = capsys.readouterr()
    assert "Running the frozen backbone" not in out and "backbone features" not in err, (out, err)  # the checks'
    # trainers: a notebook check prints its verdict only
