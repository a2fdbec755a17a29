"""Part 4: MultiLabelImageLoader, images with their 7 attribute flags from a CSV."""
import csv
import os

import numpy as np
import pytest
import torch
from PIL import Image

from proj4_code.data_transforms import get_fundamental_transforms
from proj4_code.image_loader import ATTRIBUTES, MultiLabelImageLoader, default_attribute_csv


def write_image(path, value=128, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size, value, dtype=np.uint8), mode="L").save(path)
    return path


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.mark.slow
def test_multilabel_loader_on_real_data(data_dir):
    for split, expected in (("train", 1196), ("test", 500)):
        csv_path = default_attribute_csv(data_dir, split)
        dataset = MultiLabelImageLoader(data_dir, csv_path, split=split, transform=get_fundamental_transforms((32, 32)))
        assert len(dataset) == expected, split
        with open(csv_path, newline="") as f:
            rows = [row for row in csv.reader(f) if row]
        for index in (0, expected // 2, expected - 1):
            img, flags = dataset[index]
            assert img.shape == (1, 32, 32)
            assert flags.dtype == torch.float32 and flags.shape == (len(ATTRIBUTES),)
            assert flags.tolist() == [float(v) for v in rows[index][2:]], f"{split} row {index + 1}"
            assert dataset.dataset[index][0].endswith(os.path.join(rows[index][0], rows[index][1]))


def _attribute_tree(tmp_path):
    write_image(tmp_path / "train" / "coast" / "1.png")
    write_image(tmp_path / "train" / "street" / "2.png")
    return tmp_path / "attributes.csv"


def test_multilabel_synthetic_csv(tmp_path):
    csv_path = write_csv(_attribute_tree(tmp_path), [
        ["coast", "1.png", 1, 1, 0, 0, 1, 0, 0],
        [],  # blank lines are skipped
        ["street", "2.png", 0, 0, 1, 0, 0, 1, 1],
    ])
    dataset = MultiLabelImageLoader(tmp_path, csv_path, split="train")
    assert len(dataset) == 2
    img, flags = dataset[1]
    assert img.mode == "L"
    assert isinstance(flags, torch.Tensor) and flags.dtype == torch.float32, f"flags: a float32 tensor, got {flags!r}"
    assert torch.equal(flags, torch.tensor([0.0, 0, 1, 0, 0, 1, 1]))


@pytest.mark.parametrize("bad_row, error", [
    (["street", "2.png", 0, 0, 1, 0, 0, 1], ValueError),  # 8 columns
    (["street", "2.png", 0, 0, 1, 0, 0, 1, 1, 0], ValueError),  # 10 columns
    (["street", "2.png", 0, 0, 2, 0, 0, 1, 1], ValueError),
    (["street", "2.png", 0, 0, "x", 0, 0, 1, 1], ValueError),
    (["street", "3.png", 0, 0, 1, 0, 0, 1, 1], FileNotFoundError),
])
def test_multilabel_csv_errors_name_file_and_line(tmp_path, bad_row, error):
    csv_path = write_csv(_attribute_tree(tmp_path), [["coast", "1.png", 1, 1, 0, 0, 1, 0, 0], bad_row])
    with pytest.raises(error) as err:
        MultiLabelImageLoader(tmp_path, csv_path, split="train")
    assert str(csv_path) in str(err.value) and "line 2" in str(err.value), str(err.value)
