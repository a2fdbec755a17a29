"""The shared rules (proj4_lib/rules.py) are fair to every valid solution and catch the invalid ones.

The notebook's checks, the public tests and the autograder judge with these functions, so what is
proven here holds for all three: augmentation presets a student may write (torchvision.transforms or
v2, RandomAffine with its fill, rotations, RandomResizedCrop down to 49 % of the area, jitter first or
last, RandomErasing) pass on every seed and output size tried; the zooms, one-way jitters and missing
flips the handout forbids fail, each with a message naming the rule. The same for SimpleNetFinal's
design rules and the layer types the grader rebuilds (proj4_lib/architecture.py).
"""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torchvision import transforms as T
from torchvision.transforms import v2

from proj4_lib import architecture, rules
from proj4_lib import expectations as expect
from proj4_lib.checkpoints import save_trained_model_weights

SIZES = ((64, 64), (48, 64), (40, 64))
SEEDS = range(4)


def flip():
    return T.RandomHorizontalFlip()


def jitter(b=0.3, c=0.3):
    return T.ColorJitter(brightness=b, contrast=c)


HONEST = {
    "resize_larger_then_crop": lambda s: T.Compose([T.Resize((round(s[0] * 1.15), round(s[1] * 1.15))),
                                                    T.RandomCrop(s), flip(), jitter(), T.ToTensor()]),
    "affine_shift_rotation": lambda s: T.Compose([T.Resize(s), T.RandomAffine(degrees=5, translate=(0.1, 0.1)), flip(),
                                                  jitter(), T.ToTensor()]),
    "jitter_first_affine_15_percent": lambda s: T.Compose([T.Resize(s), jitter(0.5, 0.5), T.RandomAffine(
        degrees=10, translate=(0.15, 0.15)), flip(), T.ToTensor()]),
    "rotation_15": lambda s: T.Compose([T.Resize(s), T.RandomRotation(15), flip(), jitter(), T.ToTensor()]),
    "resized_crop_049": lambda s: T.Compose([T.Resize(s), T.RandomResizedCrop(s, scale=(0.49, 1.0)), flip(),
                                             jitter(), T.ToTensor()]),
    "resized_crop_049_on_the_raw_image": lambda s: T.Compose([T.RandomResizedCrop(s, scale=(0.49, 1.0)), flip(),
                                                              jitter(), T.ToTensor()]),
    "padded_crop": lambda s: T.Compose([T.Resize(s), T.RandomCrop(s, padding=6), flip(), jitter(), T.ToTensor()]),
    "jitter_0_6": lambda s: T.Compose([T.Resize(s), flip(), jitter(0.6, 0.6), T.ToTensor()]),
    "jitter_applied_80_percent": lambda s: T.Compose([T.Resize(s), flip(), T.RandomApply([jitter(0.5, 0.5)], p=0.8),
                                                      T.ToTensor()]),
    "contrast_only": lambda s: T.Compose([T.Resize(s), flip(), T.ColorJitter(contrast=0.4), T.ToTensor()]),
    "erasing": lambda s: T.Compose([T.Resize(s), flip(), jitter(), T.ToTensor(),
                                    T.RandomErasing(p=0.5, scale=(0.02, 0.1))]),
    "perspective": lambda s: T.Compose([T.Resize(s), flip(), jitter(), T.RandomPerspective(0.2), T.ToTensor()]),
    "v2_affine_scale": lambda s: v2.Compose([v2.Resize(s), v2.RandomAffine(degrees=8, translate=(0.1, 0.1),
                                                                           scale=(0.9, 1.1)),
                                             v2.RandomHorizontalFlip(), v2.ColorJitter(0.4, 0.4), v2.ToImage(),
                                             v2.ToDtype(torch.float32, scale=True)]),
}
INVALID = {  # preset -> the rule (kind of rules.augmentation_problems) it breaks
    "zoom_into_a_corner": (lambda s: T.Compose([T.RandomResizedCrop(s), flip(), jitter(), T.ToTensor()]), "view"),
    "crop_100_pixels_then_resize": (lambda s: T.Compose([T.RandomCrop(100), T.Resize(s), flip(), jitter(),
                                                         T.ToTensor()]), "view"),
    "darkens_every_image": (lambda s: T.Compose([T.Resize(s), flip(), T.ColorJitter(brightness=(0.4, 0.9)),
                                                 T.ToTensor()]), "jitter"),
    "brightens_every_image": (lambda s: T.Compose([T.Resize(s), flip(), T.ColorJitter(brightness=(1.2, 1.6)),
                                                   T.ToTensor()]), "jitter"),
    "flattens_every_image": (lambda s: T.Compose([T.Resize(s), flip(), T.ColorJitter(contrast=(0.3, 0.8)),
                                                  T.ToTensor()]), "jitter"),
    "jitter_far_too_strong": (lambda s: T.Compose([T.Resize(s), flip(), jitter(0.9, 0.9), T.ToTensor()]), "jitter"),
    "no_jitter": (lambda s: T.Compose([T.Resize(s), flip(), T.ToTensor()]), "jitter"),
    "no_flip": (lambda s: T.Compose([T.Resize(s), jitter(), T.ToTensor()]), "flip"),
    "always_flip": (lambda s: T.Compose([T.Resize(s), T.RandomHorizontalFlip(p=1.0), jitter(), T.ToTensor()]), "flip"),
}
WORDS = {"view": "half of the scene", "jitter": "ColorJitter", "flip": "RandomHorizontalFlip"}


def problems(make, size, seed):
    summaries, profiles = expect.augmentation_outputs(make(size), size, seed)
    return rules.augmentation_problems(summaries, profiles, expect.STEP_LEVELS[0] / 255, expect.STEP_LEVELS[1] / 255)


@pytest.mark.parametrize("name", HONEST)
def test_honest_augmentation_passes_on_every_seed_and_size(name):
    for size in SIZES:
        for seed in SEEDS:
            found = {kind: text for kind, text in problems(HONEST[name], size, seed).items() if text}
            assert not found, (name, size, seed, found)


@pytest.mark.parametrize("name", INVALID)
def test_invalid_augmentation_fails_naming_the_rule(name):
    make, kind = INVALID[name]
    for size in ((64, 64), (48, 64)):
        for seed in SEEDS[:2]:
            found = problems(make, size, seed)
            assert found[kind], (name, size, seed, found)
            assert WORDS[kind] in found[kind] or kind == "jitter" and "brightness or contrast" in found[kind], (
                found[kind])


def test_the_view_is_measured_within_a_few_per_cent():
    """RandomResizedCrop's own crop boxes against what visible_fraction reads off the plaid's profiles."""
    from torchvision.transforms import functional as F

    size = (64, 64)
    source = T.Resize(size)(expect._pil(rules.plaid_image(210, 410)))
    errors = []
    for seed in range(60):
        torch.manual_seed(seed)
        top, left, height, width = T.RandomResizedCrop.get_params(source, (0.3, 1.0), (3 / 4, 4 / 3))
        out = F.to_tensor(F.resized_crop(source, top, left, height, width, size))[0].tolist()
        across, down = rules.plaid_profiles(out)
        measured = max(rules.visible_fraction(p) for p in across) * max(rules.visible_fraction(p) for p in down)
        errors.append(measured - (width / 64) * (height / 64))
    assert max(abs(e) for e in errors) < rules.VIEW_SLACK, sorted(errors)[:3] + sorted(errors)[-3:]


# -- SimpleNetFinal: the design rules and the layers the grader rebuilds --------------------------------------
class Designed(nn.Module):
    """A SimpleNetFinal of one's own with every newer layer type and a skip connection."""

    def __init__(self):
        super().__init__()
        self.conv_layers = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.PReLU(16), nn.MaxPool2d(2),
            nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.Mish(), nn.MaxPool2d(2)),
            architecture.Residual(nn.Conv2d(32, 32, 3, padding=1), nn.InstanceNorm2d(32, affine=True), nn.Hardswish(),
                                  nn.Conv2d(32, 32, 3, padding=1)),
            nn.ReLU6(), nn.AdaptiveAvgPool2d(2), nn.Dropout2d(0.1))
        self.fc_layers = nn.Sequential(nn.Flatten(), nn.LayerNorm(128), nn.Dropout(0.3), nn.Linear(128, 64),
                                       nn.Softplus(), nn.Linear(64, 15))
        self.loss_criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.fc_layers(self.conv_layers(x).view(x.size(0), -1))


def test_every_rebuilt_layer_type_round_trips_through_the_layer_list(tmp_path):
    model = Designed()
    expect.final_net_design(model)
    expect.rebuildable(model)
    spec = json.loads(json.dumps(architecture.describe(model)))  # what a checkpoint holds, as JSON
    assert {kind for kind, _ in rules.leaves(spec["conv_layers"] + spec["fc_layers"])} >= {
        "GroupNorm", "PReLU", "Mish", "Residual", "InstanceNorm2d", "Hardswish", "ReLU6", "LayerNorm", "Softplus"}
    rebuilt = architecture.rebuilt_copy(model).eval()
    x = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), model.eval()(x), atol=1e-6)


class BuiltInALoop(nn.Module):
    """Another student's SimpleNetFinal: blocks built in a loop (nested Sequentials), LeakyReLU and Dropout2d,
    fc_layers set before conv_layers. (Graded end to end with a trained checkpoint: test_honest_variants.)"""

    def __init__(self):
        super().__init__()
        blocks, width = [], 1
        for out in (16, 32, 64):
            blocks.append(nn.Sequential(nn.Conv2d(width, out, kernel_size=3, padding=1), nn.BatchNorm2d(out),
                                        nn.LeakyReLU(0.1), nn.MaxPool2d(2), nn.Dropout2d(0.1)))
            width = out
        self.fc_layers = nn.Sequential(nn.Dropout(0.4), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 15))
        self.conv_layers = nn.Sequential(*blocks)
        self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")

    def forward(self, x):
        scores = self.conv_layers(x)
        return self.fc_layers(scores.reshape(scores.shape[0], -1))


def test_a_design_built_in_a_loop_with_fc_layers_first_round_trips():
    model = BuiltInALoop()
    expect.final_net_design(model)
    expect.rebuildable(model)
    rebuilt = architecture.rebuilt_copy(model).eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), model.eval()(x), atol=1e-6)


@pytest.mark.parametrize("change, rule", [
    (lambda m: m.conv_layers.__setitem__(5, nn.Identity()), "at least 3 Conv2d"),
    (lambda m: m.conv_layers[4].__setitem__(1, nn.GroupNorm(4, 32)), "at least 1 BatchNorm2d"),
    (lambda m: setattr(m, "fc_layers", nn.Sequential(nn.Flatten(), nn.Linear(128, 15))), "at least 2 Linear"),
    (lambda m: [setattr(d, "p", 0.0) for d in m.modules() if isinstance(d, nn.modules.dropout._DropoutNd)],
     "drops something"),
    (lambda m: m.conv_layers.__setitem__(2, nn.Identity()), "non-linearity"),
])
def test_design_rules_name_what_is_missing(change, rule):
    model = Designed()
    change(model)
    with pytest.raises(AssertionError, match=rule):
        expect.final_net_design(model)


def test_a_model_the_grader_cannot_rebuild_is_not_saved(tmp_path):
    """A layer of one's own, weights outside the two Sequentials, a forward that computes something else:
    save_trained_model_weights refuses each, naming the layer and the rule; the notebook's check too."""
    class Swish(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(x)

    class Extra(Designed):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return super().forward(x) * self.scale

    class Twice(Designed):
        def forward(self, x):
            return 2 * super().forward(x)

    own = Designed()
    own.fc_layers[4] = Swish()
    for model, words in ((own, "fc_layers.4 is a Swish"), (Extra(), "outside conv_layers and fc_layers"),
                         (Twice(), "forward computes something else")):
        with pytest.raises(architecture.ArchitectureError, match="was not saved") as err:
            save_trained_model_weights(_as_final(model), tmp_path)
        assert words in str(err.value), str(err.value)
        assert not list(tmp_path.iterdir())
        with pytest.raises(AssertionError, match="rebuild|computes something else"):
            expect.rebuildable(model)


def _as_final(model: nn.Module) -> nn.Module:
    """The model under the class name the registry knows as the student-designed part."""
    model.__class__ = type("SimpleNetFinal", (model.__class__,), {})
    return model


def test_figure_kinds_read_the_figure_as_the_same_network():
    assert rules.figure_kinds(["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "MaxPool2d", "ReLU", "Flatten"]) == \
        rules.figure_kinds(["Conv2d", "MaxPool2d", "ReLU"] * 2)
    assert rules.figure_kinds(["Conv2d", "ReLU", "Conv2d"]) != rules.figure_kinds(["Conv2d", "Conv2d", "ReLU"])
