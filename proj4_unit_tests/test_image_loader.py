"""Part 1 and Part 4 datasets: ImageLoader and MultiLabelImageLoader."""
import csv
import os

import numpy as np
import pytest
import torch
from PIL import Image

from proj4_code.data_transforms import get_fundamental_transforms
from proj4_code.image_loader import ATTRIBUTES, ImageLoader, MultiLabelImageLoader, default_attribute_csv

CLASSES = ["bedroom", "coast", "forest", "highway", "industrial", "insidecity", "kitchen", "livingroom",
           "mountain", "office", "opencountry", "store", "street", "suburb", "tallbuilding"]


def write_image(path, value=128, size=(8, 8), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size, value, dtype=np.uint8), mode="L").save(path, format=fmt)
    return path


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


# -- real data -------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.points(2)
def test_class_dict_on_real_data(data_dir):
    for split in ("train", "test"):
        class_dict = ImageLoader(data_dir, split=split).class_dict
        assert class_dict == {name: i for i, name in enumerate(CLASSES)}, f"{split}: {class_dict}"
        assert class_dict["industrial"] == 4 and class_dict["suburb"] == 13


@pytest.mark.slow
def test_lengths_on_real_data(data_dir):
    assert len(ImageLoader(data_dir, split="train")) == 2985
    assert len(ImageLoader(data_dir, split="test")) == 1500


@pytest.mark.slow
def test_getitem_on_real_data(data_dir):
    dataset = ImageLoader(data_dir, split="test", transform=get_fundamental_transforms((64, 64)))
    for index in (0, 777, len(dataset) - 1):
        img, label = dataset[index]
        assert isinstance(img, torch.Tensor) and img.shape == (1, 64, 64) and img.dtype == torch.float32
        assert 0.0 <= img.min() and img.max() <= 1.0
        assert isinstance(label, int) and label == dataset.dataset[index][1]
    # The last test image belongs to the last class.
    assert dataset[len(dataset) - 1][1] == 14


@pytest.mark.slow
def test_load_img_from_path_on_real_data(data_dir):
    dataset = ImageLoader(data_dir, split="train")
    path = dataset.dataset[0][0]
    img = dataset.load_img_from_path(path)
    assert isinstance(img, Image.Image) and img.mode == "L"
    pixels = np.asarray(img)
    assert pixels.dtype == np.uint8 and pixels.max() > 1, "values must be 0-255, not scaled to [0, 1]"
    assert dataset[0][0].mode == "L", "with no transform, __getitem__ returns the PIL image"


@pytest.mark.slow
@pytest.mark.points(2)
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


# -- bad input on synthetic trees -------------------------------------------------------------

def test_missing_data_dir(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        ImageLoader(missing, split="train")
    assert str(missing / "train") in str(err.value) and "proj4 data install" in str(err.value)


def test_unknown_split(tmp_path):
    write_image(tmp_path / "val" / "a" / "1.png")
    with pytest.raises(ValueError, match="'val'"):
        ImageLoader(tmp_path, split="val")


def test_sorted_classes_and_ignores_other_files(tmp_path):
    for name in ("b", "c", "a"):
        write_image(tmp_path / "train" / name / "2.png")
        write_image(tmp_path / "train" / name / "1.jpg", fmt="JPEG")
    (tmp_path / "train" / "a" / "notes.txt").write_text("not an image")
    dataset = ImageLoader(tmp_path, split="train")
    assert dataset.class_dict == {"a": 0, "b": 1, "c": 2}
    assert [(os.path.relpath(p, tmp_path / "train"), y) for p, y in dataset.dataset] == [
        (os.path.join(c, f), i) for i, c in enumerate("abc") for f in ("1.jpg", "2.png")]


def test_empty_class_folder(tmp_path):
    write_image(tmp_path / "train" / "a" / "1.png")
    (tmp_path / "train" / "b").mkdir()
    with pytest.raises(ValueError) as err:
        ImageLoader(tmp_path, split="train")
    assert str(tmp_path / "train" / "b") in str(err.value)


@pytest.mark.parametrize("damage", ["random_bytes", "truncated"])
def test_corrupt_jpeg(tmp_path, damage):
    good = write_image(tmp_path / "train" / "a" / "1.jpg", fmt="JPEG")
    bad = tmp_path / "train" / "a" / "2.jpg"
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8), mode="L")
    image.save(bad, format="JPEG")
    if damage == "random_bytes":
        bad.write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    else:
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    dataset = ImageLoader(tmp_path, split="train")  # paths only: nothing is decoded yet
    assert dataset[0][1] == 0 and dataset.dataset[0][0] == str(good)
    with pytest.raises(OSError) as err:
        dataset[1]
    assert str(bad) in str(err.value)


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
