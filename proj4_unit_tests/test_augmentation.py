"""Part 2: the augmentation presets (get_fundamental_augmentation_transforms, get_all_transforms)."""
import pytest
from torchvision import transforms

from proj4_code import data_transforms as dt
from proj4_lib import expectations as expect
from proj4_lib.utils import reset_seed

SIZE = (48, 64)  # (H, W): not square, so a swapped H and W shows
MEAN, STD = 0.45, 0.25
PRESETS = {
    "augmentation": lambda: dt.get_fundamental_augmentation_transforms(SIZE),
    "all": lambda: dt.get_all_transforms(SIZE, MEAN, STD),
}


@pytest.mark.parametrize("preset", PRESETS)
def test_returns_compose_with_shape(preset, image):
    reset_seed(0)
    expect.preset_output(PRESETS[preset](), image, SIZE, normalized=preset == "all")


def test_augmentation_contents():
    for compose in (PRESETS["augmentation"](), PRESETS["all"]()):
        expect.augmentation_kinds(compose)


def test_augmentation_keeps_the_scene_on_real_size_images():
    """On 15-Scene-sized images the augmentation keeps at least 70 % of the width and of the height in
    view (a small shift or crop, not a zoom into a corner) and always gives (1, H, W)."""
    expect.keeps_the_scene(PRESETS["augmentation"](), SIZE)


def test_flips_horizontally_only():
    """Over 20 draws an image with a bright top-left quarter comes out mirrored sometimes, never upside down."""
    expect.flips_horizontally_sometimes(PRESETS["augmentation"]())


def test_all_normalizes_with_given_stats(image):
    expect.normalize_step(PRESETS["all"](), MEAN, STD)
    assert not any(isinstance(t, transforms.Normalize) for t in PRESETS["augmentation"]().transforms)


def test_randomness(image):
    """Augmentation differs call to call and repeats under the same seed."""
    expect.random_but_seeded(PRESETS["all"](), image)
