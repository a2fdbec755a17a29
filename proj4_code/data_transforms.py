"""Image transforms: PIL grayscale image in, float tensor (1, H, W) out.

Four presets, in the order you need them:
    get_fundamental_transforms               resize + to tensor (Part 1; Parts 3-4, where the
                                             pretrained backbone normalises by itself)
    get_fundamental_augmentation_transforms  + random flips and jitter (Part 2)
    get_fundamental_normalization_transforms resize + to tensor + normalize (evaluation in Part 2)
    get_all_transforms                       augmentation + normalize (training in Part 2)

Rules: use only torchvision.transforms; every function returns a transforms.Compose.
`inp_size` is (H, W); `pixel_mean` and `pixel_std` are floats from stats_helper.compute_mean_and_std.
"""
from __future__ import annotations

from typing import Sequence

from torchvision import transforms


def get_fundamental_transforms(inp_size: Sequence[int]) -> transforms.Compose:
    """Resize to inp_size (H, W), then convert to a float tensor in [0, 1] of shape (1, H, W)."""
    # STUB: return transforms.Compose([...]) with Resize(inp_size) and ToTensor()
    # BEGIN SOLUTION
    return transforms.Compose([transforms.Resize(tuple(inp_size)), transforms.ToTensor()])
    # END SOLUTION


def get_fundamental_augmentation_transforms(inp_size: Sequence[int]) -> transforms.Compose:
    """The fundamental transforms plus random augmentation, for training.

    Judged by what it does (the notebook's check, the public tests and the autograder apply the same
    rules, proj4_lib/rules.py, to synthetic scenes):
      - random left-right flips, half the time (RandomHorizontalFlip()); no vertical flips (why?);
      - a random brightness and/or contrast change centred on the image as it was, by factors within
        [0.4, 1.6] (ColorJitter(brightness=b, contrast=c) with b, c up to 0.6 draws them from
        [1 - b, 1 + b]: never only darker, never only brighter);
      - anything else that keeps a scene a scene may be added: every crop, shift, zoom or rotation
        must keep at least half of the scene in view, 49 % of its area (70 % of its width times 70 %
        of its height; e.g. RandomResizedCrop(inp_size, scale=(0.49, 1.0)), RandomAffine(degrees=10,
        translate=(0.1, 0.1)), or a Resize a little larger and a RandomCrop), whatever the image's
        size (15-Scene images are about 200-411 pixels a side): a zoom into a corner loses the scene.
    torchvision.transforms or transforms.v2, as you like.
    Output: float tensor (1, H, W) in [0, 1].
    """
    # STUB: Resize, then random augmentation (at least RandomHorizontalFlip and ColorJitter), then ToTensor
    # BEGIN SOLUTION
    height, width = inp_size
    return transforms.Compose(
        [
            # Resize a little larger and crop back: a random shift of up to ~10 % each way.
            transforms.Resize((round(height * 1.15), round(width * 1.15))),
            transforms.RandomCrop((height, width)),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(brightness=0.3, contrast=0.3),
            transforms.ToTensor(),
        ]
    )
    # END SOLUTION


def get_fundamental_normalization_transforms(
    inp_size: Sequence[int], pixel_mean: float, pixel_std: float
) -> transforms.Compose:
    """The fundamental transforms plus Normalize(mean, std), for evaluation.

    Output: float tensor (1, H, W), about zero mean and unit variance over the dataset.
    """
    # STUB: Resize, ToTensor, then Normalize with the dataset's mean and std
    # BEGIN SOLUTION
    return transforms.Compose(
        [
            transforms.Resize(tuple(inp_size)),
            transforms.ToTensor(),
            transforms.Normalize(mean=[pixel_mean], std=[pixel_std]),
        ]
    )
    # END SOLUTION


def get_all_transforms(inp_size: Sequence[int], pixel_mean: float, pixel_std: float) -> transforms.Compose:
    """The augmentation transforms plus Normalize(mean, std), for training."""
    # STUB: the augmentation transforms followed by Normalize with the dataset's mean and std
    # BEGIN SOLUTION
    augmentation = get_fundamental_augmentation_transforms(inp_size).transforms
    return transforms.Compose(augmentation + [transforms.Normalize(mean=[pixel_mean], std=[pixel_std])])
    # END SOLUTION
