"""Datasets over the 15-Scene folders.

    data/<split>/<class>/<image>.jpg           ImageLoader: (image tensor, class index)
    data/scene_attributes_<split>.csv          MultiLabelImageLoader: (image tensor, 7 attribute flags)

Rules: class indices are the lowercase class folder names sorted alphabetically (bedroom = 0 ...
tallbuilding = 14); images are returned as PIL grayscale ("L", values 0-255) before the transform.
Do not read images in __init__: only their paths; images are opened in __getitem__.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional, Tuple

import torch
from PIL import Image
from torch.utils import data

# Provided helpers (proj4_lib/files.py): they read files and name the file at fault on errors.
from proj4_lib.files import (  # noqa: F401 (provided)
    ATTRIBUTES,
    IMAGE_EXTENSIONS,
    SPLITS,
    default_attribute_csv,
    load_grayscale_image,
    read_attribute_csv,
    split_folder,
)


class ImageLoader(data.Dataset):
    """15-Scene images of one split: dataset[i] -> (transform(image), class index)."""

    def __init__(self, root_dir: str, split: str = "train", transform: Optional[Callable] = None):
        self.root = os.path.expanduser(str(root_dir))
        self.split = split
        self.transform = transform
        self.curr_folder = split_folder(root_dir, split)

        self.class_dict = self.get_classes()
        # A file beside the class folders (macOS leaves .DS_Store files everywhere) is not a class.
        files = sorted(name for name in self.class_dict if not os.path.isdir(os.path.join(self.curr_folder, name)))
        if files:
            raise ValueError(f"get_classes returned {files}, which are files in {self.curr_folder}, not class "
                             "folders: number the sub-folders only")
        self.dataset = self.load_imagepaths_with_labels(self.class_dict)

        # An empty class folder would silently shift nothing but break every per-class statistic.
        found = {label for _, label in self.dataset}
        for name, idx in self.class_dict.items():
            if idx not in found:
                raise ValueError(f"class folder {os.path.join(self.curr_folder, name)} holds no images")

    def get_classes(self) -> Dict[str, int]:
        """Map each class folder name in self.curr_folder to its index.

        Returns:
            {class name: index}, indices 0..C-1 in alphabetical order of the folder names
            (15-Scene: {"bedroom": 0, "coast": 1, ..., "tallbuilding": 14}).
        """
        # STUB: list the sub-folders of self.curr_folder, sort them, and number them from 0
        # BEGIN SOLUTION
        names = sorted(entry.name for entry in os.scandir(self.curr_folder) if entry.is_dir())
        return {name: idx for idx, name in enumerate(names)}
        # END SOLUTION

    def load_imagepaths_with_labels(self, class_labels: Dict[str, int]) -> List[Tuple[str, int]]:
        """Every image path of the split with its class index.

        Args:
            class_labels: {class name: index}, as from get_classes().
        Returns:
            [(path to image, class index), ...] for every .jpg/.jpeg/.png file in each class
            folder, in a fixed order (sorted by class, then by file name).
        """
        # STUB: walk each class folder of self.curr_folder and collect (path, class index) pairs
        # BEGIN SOLUTION
        pairs = []
        for name in sorted(class_labels):
            folder = os.path.join(self.curr_folder, name)
            for file_name in sorted(os.listdir(folder)):
                if file_name.lower().endswith(IMAGE_EXTENSIONS):
                    pairs.append((os.path.join(folder, file_name), class_labels[name]))
        return pairs
        # END SOLUTION

    def load_img_from_path(self, path: str) -> Image.Image:
        """Open one image as PIL grayscale ("L", values 0-255)."""
        return load_grayscale_image(path)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, int]:
        """The index-th image, transformed (if self.transform is set), and its class index.

        Returns:
            img: transform(PIL image), e.g. a float tensor (1, H, W); the PIL image if no transform
            class_idx: int in 0..14
        """
        # STUB: look up (path, class_idx) in self.dataset, load the image, apply self.transform if set
        # BEGIN SOLUTION
        path, class_idx = self.dataset[index]
        img = self.load_img_from_path(path)
        if self.transform is not None:
            img = self.transform(img)
        return img, class_idx
        # END SOLUTION

    def __len__(self) -> int:
        """Number of images in the split (15-Scene: 2,985 train, 1,500 test)."""
        # STUB: the number of (path, label) pairs
        # BEGIN SOLUTION
        return len(self.dataset)
        # END SOLUTION


class MultiLabelImageLoader(data.Dataset):
    """Outdoor 15-Scene images with 7 attribute flags: dataset[i] -> (transform(image), (7,) float)."""

    def __init__(
        self,
        root_dir: str,
        labels_csv: str,
        split: str = "train",
        transform: Optional[Callable] = None,
    ):
        self.root = os.path.expanduser(str(root_dir))
        self.split = split
        self.transform = transform
        self.curr_folder = split_folder(root_dir, split)
        self.labels_csv = str(labels_csv)
        self.dataset = read_attribute_csv(self.labels_csv, self.curr_folder)

    def load_img_from_path(self, path: str) -> Image.Image:
        """Open one image as PIL grayscale ("L", values 0-255)."""
        return load_grayscale_image(path)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """The index-th image, transformed, and its attribute flags as a float tensor (7,)."""
        # STUB: look up (path, flags) in self.dataset, load the image, apply self.transform if set
        # BEGIN SOLUTION
        path, flags = self.dataset[index]
        img = self.load_img_from_path(path)
        if self.transform is not None:
            img = self.transform(img)
        return img, flags
        # END SOLUTION

    def __len__(self) -> int:
        """Number of rows (15-Scene attributes: 1,196 train, 500 test)."""
        # STUB: the number of rows
        # BEGIN SOLUTION
        return len(self.dataset)
        # END SOLUTION
