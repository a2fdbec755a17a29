"""Part 1: the fundamental transforms (resize + to tensor) and the normalization transforms.
The augmentation presets (Part 2) are tested in test_augmentation.py."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from proj4_code import data_transforms as dt
from proj4_lib import expectations as expect

SIZE = (48, 64)  # (H, W): not square, so a swapped H and W shows
MEAN, STD = 0.45, 0.25
PRESETS = {
    "fundamental": lambda: dt.get_fundamental_transforms(SIZE),
    "normalization": lambda: dt.get_fundamental_normalization_transforms(SIZE, MEAN, STD),
}


@pytest.fixture
def image():
    """A grayscale image with structure (a left-to-right ramp plus noise), of another aspect ratio than SIZE
    (so Resize(int), which keeps the aspect ratio, shows)."""
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(0, 200, 120), (100, 1))
    return Image.fromarray((ramp + rng.integers(0, 55, (100, 120))).astype(np.uint8), mode="L")


@pytest.mark.parametrize("preset", PRESETS)
def test_returns_compose_with_shape(preset, image):
    compose = PRESETS[preset]()
    expect.transform_types(compose)
    expect.image_tensor(compose(image), SIZE, in_unit_range=preset == "fundamental")


def test_unnormalised_range(image):
    out = PRESETS["fundamental"]()(image)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out.max() > 0.5, "values must be scaled to [0, 1], not all near 0"


def test_fundamental_values(image):
    out = dt.get_fundamental_transforms(SIZE)(image)
    expected = transforms.functional.to_tensor(image.resize(SIZE[::-1], Image.BILINEAR))
    assert torch.allclose(out, expected, atol=0.02)


def test_normalize_with_given_stats():
    expect.normalize_step(PRESETS["normalization"](), MEAN, STD)
    assert not any(isinstance(t, transforms.Normalize) for t in PRESETS["fundamental"]().transforms)


def test_normalization_values(image):
    plain = dt.get_fundamental_transforms(SIZE)(image)
    normalized = dt.get_fundamental_normalization_transforms(SIZE, MEAN, STD)(image)
    assert torch.allclose(normalized, (plain - MEAN) / STD, atol=1e-5)


def test_deterministic(image):
    for preset in PRESETS:
        compose = PRESETS[preset]()
        assert torch.equal(compose(image), compose(image)), f"{preset} must be deterministic"
