"""Part 1: dataset mean and standard deviation."""
import numpy as np
import pytest
from PIL import Image

from proj4_code.stats_helper import compute_mean_and_std


def save(array, path, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def test_two_constant_images(tmp_path):
    save(np.zeros((10, 10), np.uint8), tmp_path / "train" / "a" / "black.png")
    save(np.full((10, 10), 255, np.uint8), tmp_path / "test" / "b" / "white.png")
    mean, std = compute_mean_and_std(str(tmp_path))
    pixels = np.concatenate([np.zeros(100), np.ones(100)])
    assert mean == pytest.approx(0.5, abs=1e-12)
    # Sample standard deviation (n - 1): 0.50125..., not the population 0.5.
    assert std == pytest.approx(np.std(pixels, ddof=1), abs=1e-9)
    assert isinstance(mean, float) and isinstance(std, float)


def test_random_images_match_numpy(tmp_path):
    rng = np.random.default_rng(0)
    grays = [rng.integers(0, 256, size, dtype=np.uint8) for size in ((7, 13), (20, 9), (16, 16))]
    for i, gray in enumerate(grays):
        save(gray, tmp_path / "train" / f"c{i}" / f"{i}.png")
    # An RGB image counts with its grayscale conversion, and sub-folders are searched.
    rgb = rng.integers(0, 256, (11, 5, 3), dtype=np.uint8)
    save(rgb, tmp_path / "test" / "deep" / "er" / "rgb.png", mode="RGB")
    grays.append(np.asarray(Image.fromarray(rgb, mode="RGB").convert("L")))
    (tmp_path / "train" / "labels.csv").write_text("not,an,image\n")

    pixels = np.concatenate([g.ravel() for g in grays]).astype(np.float64) / 255.0
    mean, std = compute_mean_and_std(str(tmp_path))
    assert mean == pytest.approx(pixels.mean(), abs=1e-9)
    assert std == pytest.approx(pixels.std(ddof=1), abs=1e-9)


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
