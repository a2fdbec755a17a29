"""Part 4: element-wise multi-label accuracy and the per-attribute accuracy table."""
import csv

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from proj4_code import confusion_matrix as cm
from proj4_code.dl_utils import compute_multilabel_accuracy
from proj4_code.image_loader import MultiLabelImageLoader


def write_gray(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, dtype=np.uint8), mode="L").save(path)


def test_compute_multilabel_accuracy():
    probs = torch.tensor([[0.9, 0.5, 0.49, 0.1],
                          [0.2, 0.51, 0.5, 1.0]])
    labels = torch.tensor([[1.0, 1.0, 1.0, 0.0],  # 0.5 counts as 1: right, right, wrong, right
                           [1.0, 0.0, 1.0, 1.0]])  # wrong, wrong, right, right
    accuracy = compute_multilabel_accuracy(probs, labels)
    assert isinstance(accuracy, float)
    assert accuracy == pytest.approx(5 / 8, abs=1e-7), "element-wise over N x A; probability 0.5 predicts 1"
    assert compute_multilabel_accuracy(torch.zeros(3, 7), torch.zeros(3, 7)) == 1.0


def test_generate_accuracy_table():
    targets = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1]])
    preds = np.array([[1, 0, 0], [1, 0, 1], [1, 0, 0], [0, 0, 0]])
    table = cm.generate_accuracy_table(targets, preds, 3)
    assert table.shape == (3,)
    np.testing.assert_allclose(table, [3 / 4, 2 / 4, 2 / 4])


class ProbabilitiesFromPixels(nn.Module):
    """Image value v: attribute j gets probability 0.5 if bit j of v is set (which counts as 1), else 0.49."""

    def forward(self, x):
        v = torch.round(x.mean(dim=(1, 2, 3)) * 255).long()
        bits = (v.unsqueeze(1) >> torch.arange(7)) & 1
        return torch.where(bits.bool(), torch.tensor(0.5), torch.tensor(0.49))


def test_generate_accuracy_data_and_table(tmp_path):
    values, flags = [0b0000101, 0b1111111, 0b0100000], [[1, 0, 1, 0, 0, 0, 0], [1] * 7, [0] * 7]
    rows = []
    for i, (v, f) in enumerate(zip(values, flags)):
        write_gray(tmp_path / "test" / "coast" / f"{i}.png", v)
        rows.append(["coast", f"{i}.png", *f])
    with open(tmp_path / "attributes.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    dataset = MultiLabelImageLoader(tmp_path, tmp_path / "attributes.csv", split="test",
                                    transform=transforms.ToTensor())

    targets, preds = cm.generate_accuracy_data(ProbabilitiesFromPixels(), dataset, 7)
    np.testing.assert_array_equal(targets, flags)
    np.testing.assert_array_equal(preds, [[(v >> j) & 1 for j in range(7)] for v in values])
    table = cm.generate_accuracy_table(targets, preds, 7)
    np.testing.assert_allclose(table, [1, 1, 1, 1, 1, 2 / 3, 1])
