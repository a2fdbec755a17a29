"""Dataset statistics for normalisation.

Rules: compute over every pixel of every image (all splits) under the folder, after converting to
grayscale and scaling to [0, 1]. No torchvision transforms here; numpy is fine.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from proj4_lib.files import find_images, load_grayscale_image  # provided


def compute_mean_and_std(dir_name: str) -> Tuple[float, float]:
    """Mean and standard deviation of all grayscale pixels, in [0, 1], of all images under dir_name.

    Args:
        dir_name: a folder searched recursively for .jpg/.jpeg/.png files (e.g. "data"),
            following symbolic links.
    Returns:
        mean: float, the mean pixel value
        std: float, the sample standard deviation (divide by n - 1)
    15-Scene (train + test) gives about 0.4555 and 0.2532.
    """
    # Follows symlinks, like ImageLoader. A loop over `paths` shows a progress bar: reading every image takes a while.
    paths = find_images(dir_name, progress="mean and std: reading every image")
    if not paths:
        raise FileNotFoundError(f"no images found under {dir_name}")
    # STUB: accumulate the pixel count, sum and sum of squares over all images (in float64), then mean and std (n - 1)
    # BEGIN SOLUTION
    count, total, total_sq = 0, 0.0, 0.0
    for path in paths:
        pixels = np.asarray(load_grayscale_image(path), dtype=np.float64) / 255.0
        count += pixels.size
        total += pixels.sum()
        total_sq += np.square(pixels).sum()
    mean = total / count
    std = np.sqrt((total_sq - count * mean * mean) / (count - 1))
    return float(mean), float(std)
    # END SOLUTION
