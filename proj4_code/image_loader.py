"""Datasets over the 15-Scene folders.

    data/<split>/<class>/<image>.jpg           ImageLoader: (image tensor, class index)
    data/scene_attributes_<split>.csv          MultiLabelImageLoader: (image tensor, 7 attribute flags)

Rules: class indices are the lowercase class folder names sorted alphabetically (bedroom = 0 ...
tallbuilding = 14); images are returned as PIL grayscale ("L", values 0-255) before the transform.
Do not read images in __init__: only their paths; images are opened in __getitem__.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
from PIL import Image
from torch.utils import data

SPLITS = ("train", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
ATTRIBUTES = ("clouds", "water", "people", "animals", "natural", "man-made", "vehicles")


def load_grayscale_image(path: str) -> Image.Image:
    """Open an image file as a PIL image in mode "L" (values 0-255); errors name the file."""
    try:
        with Image.open(path) as img:
            return img.convert("L")  # convert() also forces the full decode while the file is open
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except OSError as err:  # PIL raises OSError subclasses for corrupt or truncated files
        raise OSError(f"cannot read image {path}: {err} (is the file corrupt? reinstall the data)") from err


def _split_folder(root_dir: str, split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = os.path.join(os.path.expanduser(str(root_dir)), split)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"data folder {folder} does not exist; install the dataset with `proj4 data install`"
        )
    return folder


class ImageLoader(data.Dataset):
    """15-Scene images of one split: dataset[i] -> (transform(image), class index)."""

    def __init__(self, root_dir: str, split: str = "train", transform: Optional[Callable] = None):
        self.root = os.path.expanduser(str(root_dir))
        self.split = split
        self.transform = transform
        self.curr_folder = _split_folder(root_dir, split)

        self.class_dict = self.get_classes()
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


def read_attribute_csv(csv_path: str, image_folder: str) -> List[Tuple[str, torch.Tensor]]:
    """Parse a scene-attribute CSV: rows of class folder, file name, then 7 flags (0 or 1).

    Returns [(image path, float tensor (7,) of 0./1.), ...] in file order. A malformed row or a
    row naming a missing image raises ValueError / FileNotFoundError naming the CSV line.
    """
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"attribute CSV {csv_path} does not exist; run `proj4 data install`")
    rows = []
    with open(csv_path, newline="") as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"{csv_path}, line {line_no}"
            if len(row) != 2 + len(ATTRIBUTES):
                raise ValueError(f"{where}: expected {2 + len(ATTRIBUTES)} columns "
                                 f"(class, file, {', '.join(ATTRIBUTES)}), got {len(row)}: {row}")
            class_name, file_name, flags = row[0].strip(), row[1].strip(), [c.strip() for c in row[2:]]
            bad = [c for c in flags if c not in ("0", "1")]
            if bad:
                raise ValueError(f"{where} ({class_name}/{file_name}): attribute flags must be 0 or 1, got {bad}")
            path = os.path.join(image_folder, class_name, file_name)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{where}: image {path} does not exist")
            rows.append((path, torch.tensor([float(c) for c in flags])))
    if not rows:
        raise ValueError(f"attribute CSV {csv_path} has no rows")
    return rows


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
        self.curr_folder = _split_folder(root_dir, split)
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


def default_attribute_csv(data_dir: str, split: str) -> str:
    """Where `proj4 data install` puts the attribute CSV of a split."""
    return str(Path(data_dir) / f"scene_attributes_{split}.csv")
