"""Part 1: ImageLoader (MultiLabelImageLoader, Part 4: test_multilabel_image_loader.py)."""
import numpy as np
import pytest
import torch
from PIL import Image

from proj4_code.data_transforms import get_fundamental_transforms
from proj4_code.image_loader import ImageLoader
from proj4_lib import expectations as expect
from proj4_lib.fixtures import write_constant as write_image
from proj4_lib.fixtures import write_images

# -- real data -------------------------------------------------------------------------------

@pytest.mark.slow
def test_class_dict_on_real_data(data_dir):
    for split in ("train", "test"):
        expect.scene_classes(ImageLoader(data_dir, split=split).class_dict)


@pytest.mark.slow
def test_lengths_on_real_data(data_dir):
    assert len(ImageLoader(data_dir, split="train")) == 2985
    assert len(ImageLoader(data_dir, split="test")) == 1500


@pytest.mark.slow
def test_getitem_on_real_data(data_dir):
    dataset = ImageLoader(data_dir, split="test", transform=get_fundamental_transforms((64, 64)))
    expect.loader_items(dataset, (0, 777, len(dataset) - 1), (64, 64))
    # The last test image belongs to the last class.
    assert dataset[len(dataset) - 1][1] == 14


@pytest.mark.slow
def test_load_img_from_path_on_real_data(data_dir):
    dataset = ImageLoader(data_dir, split="train")
    img = dataset.load_img_from_path(dataset.dataset[0][0])
    assert isinstance(img, Image.Image) and img.mode == "L"
    assert np.asarray(img).max() > 1, "values must be 0-255, not scaled to [0, 1]"
    assert dataset[0][0].mode == "L", "with no transform, __getitem__ returns the PIL image"


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
    """Classes numbered from 0 in alphabetical order; every .jpg/.jpeg/.png (any case), sorted by class,
    then by file name, whatever order the folder is listed in."""
    expect.sorted_image_folders(ImageLoader, tmp_path)


def test_getitem_label_and_transform(tmp_path):
    for i, name in enumerate(("b", "a")):
        write_image(tmp_path / "train" / name / "1.png", value=50 + 100 * i, size=(6, 10))
    dataset = ImageLoader(tmp_path, split="train", transform=get_fundamental_transforms((4, 4)))
    for index, (value, label) in enumerate(((150, 0), (50, 1))):
        img, y = dataset[index]
        assert type(y) is int and y == label, f"the label should be the int {label}, got {y!r}"
        assert isinstance(img, torch.Tensor) and img.shape == (1, 4, 4), "self.transform must be applied"
        assert torch.allclose(img, torch.full((1, 4, 4), value / 255)), "the image of this index"
    dataset.transform = None
    assert isinstance(dataset[0][0], Image.Image) and dataset[0][0].mode == "L"


def test_empty_class_folder(tmp_path):
    write_image(tmp_path / "train" / "a" / "1.png")
    (tmp_path / "train" / "b").mkdir()
    with pytest.raises(ValueError) as err:
        ImageLoader(tmp_path, split="train")
    assert str(tmp_path / "train" / "b") in str(err.value)


@pytest.mark.parametrize("damage", ["random_bytes", "truncated"])
def test_corrupt_jpeg(tmp_path, damage):
    good = write_image(tmp_path / "train" / "a" / "1.jpg")
    bad = tmp_path / "train" / "a" / "2.jpg"
    rng = np.random.default_rng(0)
    write_images(bad.parent, {bad.name: rng.integers(0, 256, (64, 64), dtype=np.uint8)})
    if damage == "random_bytes":
        bad.write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    else:
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    dataset = ImageLoader(tmp_path, split="train")  # paths only: nothing is decoded yet
    assert dataset[0][1] == 0 and str(dataset.dataset[0][0]) == str(good)  # a str or a Path
    with pytest.raises(OSError):  # a broken file is an error, never a silent blank image
        dataset[1]
    with pytest.raises(OSError) as err:  # the provided load_img_from_path also names the file
        dataset.load_img_from_path(str(bad))
    assert str(bad) in str(err.value)
