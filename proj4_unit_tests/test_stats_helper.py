"""Part 1: dataset mean and standard deviation."""
from pathlib import Path

import numpy as np
import pytest

from proj4_code.stats_helper import compute_mean_and_std
from proj4_lib import expectations as expect


# A tolerance of 1e-6: float32 sums of each image are as good as float64 ones; n against n - 1 is 1e-4 off here.
def test_two_constant_images(tmp_path):
    # Mean 0.5; the sample standard deviation (n - 1) is 0.50125..., not the population 0.5.
    images = {Path("train", "a", "black.png"): np.zeros((10, 10), np.uint8),
              Path("test", "b", "white.png"): np.full((10, 10), 255, np.uint8)}
    expect.mean_and_std_match_numpy(compute_mean_and_std, tmp_path, images, tolerance=1e-6)


def test_random_images_match_numpy(tmp_path):
    rng = np.random.default_rng(0)
    images = {Path("train", f"c{i}", f"{i}.png"): rng.integers(0, 256, size, dtype=np.uint8)
              for i, size in enumerate(((7, 13), (20, 9), (16, 16)))}
    # An RGB image counts with its grayscale conversion, and sub-folders are searched.
    images[Path("test", "deep", "er", "rgb.png")] = rng.integers(0, 256, (11, 5, 3), dtype=np.uint8)
    expect.mean_and_std_match_numpy(compute_mean_and_std, tmp_path, images, tolerance=1e-6)


def test_empty_dir(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "readme.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        compute_mean_and_std(str(tmp_path))


@pytest.mark.slow
def test_real_data(data_dir):
    mean, std = compute_mean_and_std(str(data_dir))
    assert mean == pytest.approx(0.4555, abs=1e-3)
    assert std == pytest.approx(0.2532, abs=1e-3)
