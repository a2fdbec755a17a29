"""Part 4: MultiLabelImageLoader, images with their 7 attribute flags from a CSV."""
import csv

import pytest
import torch

from proj4_code.data_transforms import get_fundamental_transforms
from proj4_code.image_loader import MultiLabelImageLoader, default_attribute_csv
from proj4_lib import expectations as expect
from proj4_lib.fixtures import write_attribute_csv as write_csv
from proj4_lib.fixtures import write_constant


@pytest.mark.slow
def test_multilabel_loader_on_real_data(data_dir):
    for split, expected in (("train", 1196), ("test", 500)):
        csv_path = default_attribute_csv(data_dir, split)
        dataset = MultiLabelImageLoader(data_dir, csv_path, split=split, transform=get_fundamental_transforms((32, 32)))
        assert len(dataset) == expected, split
        with open(csv_path, newline="") as f:
            rows = [row for row in csv.reader(f) if row]
        expect.attribute_items(dataset, rows, (0, expected // 2, expected - 1))
        assert dataset[0][0].shape == (1, 32, 32)


def _attribute_tree(tmp_path):
    write_constant(tmp_path / "train" / "coast" / "1.png")
    write_constant(tmp_path / "train" / "street" / "2.png")
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
