"""Part 4: element-wise multi-label accuracy and the per-attribute accuracy table."""
import numpy as np
import torch
from torch import nn
from torchvision import transforms

from proj4_code import confusion_matrix as cm
from proj4_code.dl_utils import compute_multilabel_accuracy
from proj4_code.image_loader import MultiLabelImageLoader
from proj4_lib import expectations as expect
from proj4_lib.fixtures import write_attribute_csv, write_constant


def test_compute_multilabel_accuracy():
    probs = torch.tensor([[0.9, 0.5, 0.49, 0.1],
                          [0.2, 0.51, 0.5, 1.0]])
    labels = torch.tensor([[1.0, 1.0, 1.0, 0.0],  # 0.5 counts as 1: right, right, wrong, right
                           [1.0, 0.0, 1.0, 1.0]])  # wrong, wrong, right, right
    expect.accuracy_value(compute_multilabel_accuracy, probs, labels, 5 / 8,
                          "element-wise over N x A; probability 0.5 predicts 1")
    assert compute_multilabel_accuracy(torch.zeros(3, 7), torch.zeros(3, 7)) == 1.0


def test_generate_accuracy_table():
    targets = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1]])
    preds = np.array([[1, 0, 0], [1, 0, 1], [1, 0, 0], [0, 0, 0]])
    expect.accuracy_table_rows(cm.generate_accuracy_table, targets, preds, [3 / 4, 2 / 4, 2 / 4])


class ProbabilitiesFromPixels(nn.Module):
    """Image value v: attribute j gets probability 0.5 if bit j of v is set (which counts as 1), else 0.49."""

    def forward(self, x):
        v = torch.round(x.mean(dim=(1, 2, 3)) * 255).long()
        bits = (v.unsqueeze(1) >> torch.arange(7)) & 1
        return torch.where(bits.bool(), torch.tensor(0.5), torch.tensor(0.49))


def test_generate_accuracy_data_and_table(tmp_path):
    values, flags = [0b0000101, 0b1111111, 0b0100000], [[1, 0, 1, 0, 0, 0, 0], [1] * 7, [0] * 7]
    for i, v in enumerate(values):
        write_constant(tmp_path / "test" / "coast" / f"{i}.png", v, size=(4, 4))
    write_attribute_csv(tmp_path / "attributes.csv", [["coast", f"{i}.png", *f] for i, f in enumerate(flags)])
    dataset = MultiLabelImageLoader(tmp_path, tmp_path / "attributes.csv", split="test",
                                    transform=transforms.ToTensor())

    predicted = [[(v >> j) & 1 for j in range(7)] for v in values]
    expect.accuracy_data(cm.generate_accuracy_data, ProbabilitiesFromPixels(), dataset, 7, flags, predicted)
    expect.accuracy_table_rows(cm.generate_accuracy_table, np.array(flags), np.array(predicted),
                               [1, 1, 1, 1, 1, 2 / 3, 1])
