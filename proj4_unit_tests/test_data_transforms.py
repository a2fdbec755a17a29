"""Parts 1-2: the four transform presets."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from proj4_code import data_transforms as dt
from proj4_lib.utils import reset_seed

SIZE = (48, 64)  # (H, W): not square, so a swapped H and W shows
MEAN, STD = 0.45, 0.25
PRESETS = {
    "fundamental": lambda: dt.get_fundamental_transforms(SIZE),
    "augmentation": lambda: dt.get_fundamental_augmentation_transforms(SIZE),
    "normalization": lambda: dt.get_fundamental_normalization_transforms(SIZE, MEAN, STD),
    "all": lambda: dt.get_all_transforms(SIZE, MEAN, STD),
}


@pytest.fixture
def image():
    """A grayscale scene-sized image with structure (a left-to-right ramp plus noise)."""
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(0, 200, 120), (90, 1))
    return Image.fromarray((ramp + rng.integers(0, 55, (90, 120))).astype(np.uint8), mode="L")


def kinds(compose):
    return [type(t) for t in compose.transforms]


@pytest.mark.parametrize("preset", PRESETS)
def test_returns_compose_with_shape(preset, image):
    compose = PRESETS[preset]()
    assert isinstance(compose, transforms.Compose), f"{preset}: {type(compose)}"
    out = compose(image)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.shape == (1, *SIZE), f"{preset}: {tuple(out.shape)}"


@pytest.mark.parametrize("preset", ["fundamental", "augmentation"])
def test_unnormalised_range(preset, image):
    reset_seed(0)
    out = PRESETS[preset]()(image)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out.max() > 0.5, "values must be scaled to [0, 1], not all near 0"


def test_fundamental_values(image):
    out = dt.get_fundamental_transforms(SIZE)(image)
    expected = transforms.functional.to_tensor(image.resize(SIZE[::-1], Image.BILINEAR))
    assert torch.allclose(out, expected, atol=0.02)


def test_augmentation_contents():
    for compose in (PRESETS["augmentation"](), PRESETS["all"]()):
        assert transforms.RandomHorizontalFlip in kinds(compose)
        assert transforms.ColorJitter in kinds(compose)


@pytest.mark.parametrize("preset", ["normalization", "all"])
def test_normalize_with_given_stats(preset):
    norms = [t for t in PRESETS[preset]().transforms if isinstance(t, transforms.Normalize)]
    assert len(norms) == 1, f"{preset}: expected one Normalize, found {len(norms)}"
    assert list(norms[0].mean) == pytest.approx([MEAN]) and list(norms[0].std) == pytest.approx([STD])
    assert not any(isinstance(t, transforms.Normalize) for t in PRESETS["fundamental"]().transforms)


def test_normalization_values(image):
    plain = dt.get_fundamental_transforms(SIZE)(image)
    normalized = dt.get_fundamental_normalization_transforms(SIZE, MEAN, STD)(image)
    assert torch.allclose(normalized, (plain - MEAN) / STD, atol=1e-5)


def test_randomness(image):
    """Augmentation differs call to call and repeats under the same seed; the rest is fixed."""
    augmented = PRESETS["all"]()
    reset_seed(0)
    first = [augmented(image) for _ in range(4)]
    assert any(not torch.equal(first[0], other) for other in first[1:]), "augmentation never changes"
    reset_seed(0)
    again = [augmented(image) for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again)), "augmentation must use torch's RNG"

    for preset in ("fundamental", "normalization"):
        compose = PRESETS[preset]()
        assert torch.equal(compose(image), compose(image)), f"{preset} must be deterministic"
