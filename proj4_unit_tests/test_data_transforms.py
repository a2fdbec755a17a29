"""Part 1: the fundamental transforms (resize + to tensor) and the normalization transforms.
The augmentation presets (Part 2) are tested in test_augmentation.py."""
import pytest
import torch
from torchvision import transforms

from proj4_code import data_transforms as dt
from proj4_lib import expectations as expect

SIZE = (48, 64)  # (H, W): not square, so a swapped H and W shows
MEAN, STD = 0.45, 0.25
PRESETS = {
    "fundamental": lambda: dt.get_fundamental_transforms(SIZE),
    "normalization": lambda: dt.get_fundamental_normalization_transforms(SIZE, MEAN, STD),
}


@pytest.mark.parametrize("preset", PRESETS)
def test_returns_compose_with_shape(preset, image):
    expect.preset_output(PRESETS[preset](), image, SIZE, normalized=preset == "normalization")


def test_fundamental_values(image):
    expect.resizes_whole_image(dt.get_fundamental_transforms(SIZE), image, SIZE)


def test_normalize_with_given_stats(image):
    """(x - MEAN) / STD of the fundamental preset's output, with exactly the mean and std given."""
    plain = transforms.Compose([transforms.Resize(SIZE), transforms.ToTensor()])
    expect.normalizes_with(PRESETS["normalization"](), plain, image, MEAN, STD)


def test_normalization_values(image):
    plain = dt.get_fundamental_transforms(SIZE)(image)
    normalized = dt.get_fundamental_normalization_transforms(SIZE, MEAN, STD)(image)
    assert torch.allclose(normalized, (plain - MEAN) / STD, atol=1e-5)


def test_deterministic(image):
    for preset in PRESETS:
        compose = PRESETS[preset]()
        assert torch.equal(compose(image), compose(image)), f"{preset} must be deterministic"
