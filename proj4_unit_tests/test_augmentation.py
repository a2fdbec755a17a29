"""Part 2: the augmentation presets (get_fundamental_augmentation_transforms, get_all_transforms), judged by
what they do to synthetic scenes, with the rules the autograder grades by (proj4_lib/rules.py)."""
import pytest

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


def test_augmentation_flips_and_jitters():
    """Random left-right flips about half the time; brightness and/or contrast changes centred on the image
    (factors on both sides of 1) and not too strong; values in [0, 1]; random."""
    expect.augmentation_behaviour(PRESETS["augmentation"](), SIZE)


@pytest.mark.parametrize("size", [SIZE, (64, 64)])
def test_augmentation_keeps_the_scene_on_real_size_images(size):
    """On 15-Scene-sized images every draw keeps at least half the scene in view (49 % of its area: 70 % of
    the width times 70 % of the height), a small shift, crop or rotation, not a zoom into a corner."""
    expect.keeps_the_scene(dt.get_fundamental_augmentation_transforms(size), size)


def test_flips_horizontally_only():
    """Over 20 draws an image with a bright top-left quarter comes out mirrored sometimes, never upside down."""
    expect.flips_horizontally_sometimes(PRESETS["augmentation"]())


def test_all_normalizes_with_given_stats():
    """get_all_transforms is the augmentation preset plus Normalize(MEAN, STD): undone, its outputs look alike."""
    expect.all_transforms_behaviour(PRESETS["all"](), PRESETS["augmentation"](), SIZE, MEAN, STD)


def test_randomness(image):
    """Augmentation differs call to call and repeats under the same seed."""
    expect.random_but_seeded(PRESETS["all"](), image)
