"""Reading the dataset's files (provided): images, split folders and attribute CSVs.

Errors name the file or folder at fault and say how to fix it. Every folder walk here follows
symbolic links, so a linked data folder works the same for every function that reads it.
"""
from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import torch
from PIL import Image

SPLITS = ("train", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
ATTRIBUTES = ("clouds", "water", "people", "animals", "natural", "man-made", "vehicles")


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


class ProgressList(list):
    """A list that shows a progress bar (tqdm) while a loop goes over it, if that loop takes over a second."""

    enabled = True  # False: no bars (`proj4 train --no-progress`; see progress_bars)

    def __init__(self, items, desc: str):
        super().__init__(items)
        self.desc = desc

    def __iter__(self):
        items = super().__iter__()
        if not ProgressList.enabled:
            return items
        from tqdm.auto import tqdm

        return iter(tqdm(items, total=len(self), desc=self.desc, delay=1.0, leave=False))


@contextlib.contextmanager
def progress_bars(enabled: bool) -> Iterator[None]:
    """Within `with`: ProgressList shows its bars only if `enabled`."""
    before, ProgressList.enabled = ProgressList.enabled, enabled
    try:
        yield
    finally:
        ProgressList.enabled = before


def find_images(folder: str, progress: Optional[str] = None) -> List[str]:
    """Every image file under `folder`, searched recursively (following symlinks), sorted.

    progress: a description; then a loop over the returned list shows a progress bar (ProgressList).
    """
    paths = sorted(os.path.join(root, name)
                   for root, _, names in os.walk(os.path.expanduser(str(folder)), followlinks=True)
                   for name in names if is_image_file(name))
    return ProgressList(paths, progress) if progress else paths


def load_grayscale_image(path: str) -> Image.Image:
    """Open an image file as a PIL image in mode "L" (values 0-255); errors name the file."""
    try:
        with Image.open(path) as img:
            return img.convert("L")  # convert() also forces the full decode while the file is open
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except OSError as err:  # PIL raises OSError subclasses for corrupt or truncated files
        raise OSError(f"cannot read image {path}: {err} (is the file corrupt? reinstall the data)") from err


def split_folder(root_dir: str, split: str) -> str:
    """root_dir/split, checked: ValueError for an unknown split, FileNotFoundError for a missing folder."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = os.path.join(os.path.expanduser(str(root_dir)), split)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"data folder {folder} does not exist; install the dataset with `proj4 data install`"
        )
    return folder


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


def default_attribute_csv(data_dir: str, split: str) -> str:
    """Where `proj4 data install` puts the attribute CSV of a split."""
    return str(Path(data_dir) / f"scene_attributes_{split}.csv")
