"""Part 2: the augmentation presets (get_fundamental_augmentation_transforms, get_all_transforms)."""
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
    "augmentation": lambda: dt.get_fundamental_augmentation_transforms(SIZE),
    "all": lambda: dt.get_all_transforms(SIZE, MEAN, STD),
}
CYCLES = 8  # stripes across the whole image


@pytest.fixture
def image():
    """A grayscale scene-sized image with structure (a left-to-right ramp plus noise)."""
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(0, 200, 120), (90, 1))
    return Image.fromarray((ramp + rng.integers(0, 55, (90, 120))).astype(np.uint8), mode="L")


def kinds(compose):
    return [type(t) for t in compose.transforms]


def stripes(height, width, vertical):
    """CYCLES dark/light stripes across the width (vertical=True) or the height."""
    n = width if vertical else height
    wave = 128 + 100 * np.sin(2 * np.pi * CYCLES * (np.arange(n) + 0.5) / n)
    pixels = np.tile(wave, (height, 1)) if vertical else np.tile(wave[:, None], (1, width))
    return Image.fromarray(pixels.astype(np.uint8), mode="L")


def cycles_seen(out, vertical):
    """How many stripe cycles the output shows (half the number of sign changes of the profile)."""
    profile = out[0].mean(dim=0 if vertical else 1)
    signs = torch.sign(profile - profile.mean())
    return int((signs[1:] != signs[:-1]).sum()) / 2


@pytest.mark.parametrize("preset", PRESETS)
def test_returns_compose_with_shape(preset, image):
    compose = PRESETS[preset]()
    assert isinstance(compose, transforms.Compose), f"{preset}: {type(compose)}"
    out = compose(image)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.shape == (1, *SIZE), f"{preset}: {tuple(out.shape)}"


def test_unnormalised_range(image):
    reset_seed(0)
    out = PRESETS["augmentation"]()(image)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out.max() > 0.5, "values must be scaled to [0, 1], not all near 0"


def test_augmentation_contents():
    for compose in (PRESETS["augmentation"](), PRESETS["all"]()):
        assert transforms.RandomHorizontalFlip in kinds(compose)
        assert transforms.ColorJitter in kinds(compose)
        assert transforms.RandomVerticalFlip not in kinds(compose), "an upside-down scene is not a scene"


@pytest.mark.parametrize("height, width", [(256, 256), (200, 411)])
def test_augmentation_keeps_the_scene_on_real_size_images(height, width):
    """On 15-Scene-sized images the augmentation keeps at least 70 % of the width and of the height in
    view (a small shift or crop, not a zoom into a corner) and always gives (1, H, W)."""
    compose = PRESETS["augmentation"]()
    reset_seed(0)
    for vertical in (True, False):
        source = stripes(height, width, vertical)
        for _ in range(8):
            out = compose(source)
            assert out.shape == (1, *SIZE), f"{width} x {height} image: shape {tuple(out.shape)}"
            seen = cycles_seen(out, vertical)
            assert seen >= 0.7 * CYCLES, (
                f"a {width} x {height} image with {CYCLES} stripes across its {'width' if vertical else 'height'} "
                f"came out with {seen} of them: the augmentation keeps only about {seen / CYCLES:.0%} of the scene")


def test_flips_horizontally_only():
    """Over 20 draws an image with a bright left half comes out mirrored sometimes, never upside down."""
    pixels = np.zeros((200, 300), np.uint8)
    pixels[:100, :150] = 220  # bright top-left quarter
    compose = PRESETS["augmentation"]()
    reset_seed(0)
    mirrored = 0
    for _ in range(20):
        out = compose(Image.fromarray(pixels, mode="L"))[0]
        h, w = out.shape
        top, left = out[: h // 2].mean() > out[h // 2:].mean(), out[:, : w // 2].mean() > out[:, w // 2:].mean()
        assert top, "the bright top came out at the bottom: no vertical flips"
        mirrored += not left
    assert 0 < mirrored < 20, f"mirrored {mirrored} of 20 times: RandomHorizontalFlip flips half the time"


def test_all_normalizes_with_given_stats(image):
    norms = [t for t in PRESETS["all"]().transforms if isinstance(t, transforms.Normalize)]
    assert len(norms) == 1, f"expected one Normalize, found {len(norms)}"
    assert list(norms[0].mean) == pytest.approx([MEAN]) and list(norms[0].std) == pytest.approx([STD])
    assert isinstance(PRESETS["all"]().transforms[-1], transforms.Normalize), "Normalize comes last"
    assert not any(isinstance(t, transforms.Normalize) for t in PRESETS["augmentation"]().transforms)


def test_randomness(image):
    """Augmentation differs call to call and repeats under the same seed."""
    augmented = PRESETS["all"]()
    reset_seed(0)
    first = [augmented(image) for _ in range(4)]
    assert any(not torch.equal(first[0], other) for other in first[1:]), "augmentation never changes"
    reset_seed(0)
    again = [augmented(image) for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again)), "augmentation must use torch's RNG"
