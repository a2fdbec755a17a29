"""Part 2: confusion matrices, with a model whose predictions we choose (Part 4's accuracy table is in
test_multilabel_metrics.py)."""
import numpy as np
import pytest
import torch
from torch import nn
from torchvision import transforms

from proj4_code import confusion_matrix as cm
from proj4_code.image_loader import ImageLoader
from proj4_lib import expectations as expect
from proj4_lib.fixtures import write_constant

# Class folder -> the class the toy model predicts for each of its images.
PREDICTIONS = {"a": [0, 0, 1, 2], "b": [1, 1, 1], "c": [0, 2, 2, 2, 1]}


class PredictFromPixels(nn.Module):
    """Reads its answer off the image: a constant image of value 10 * k predicts class k."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, x):
        k = torch.round(x.mean(dim=(1, 2, 3)) * 255 / 10).long()
        return nn.functional.one_hot(k, self.num_classes).float() * 5 - 1


@pytest.fixture
def classification_set(tmp_path):
    for name, preds in PREDICTIONS.items():
        for i, k in enumerate(preds):
            write_constant(tmp_path / "test" / name / f"{i}.png", 10 * k, size=(4, 4))
    return ImageLoader(tmp_path, split="test", transform=transforms.ToTensor())


def test_generate_confusion_matrix_counts_and_rows():
    targets = np.array([0, 0, 0, 1, 1, 3, 3, 3, 3])
    preds = np.array([0, 1, 1, 1, 1, 0, 3, 3, 1])
    expected = np.array([[1, 2, 0, 0],
                         [0, 2, 0, 0],
                         [0, 0, 0, 0],  # class 2 has no samples: its row stays 0
                         [1, 1, 0, 2]], dtype=float)
    expect.confusion_matrix_rows(cm.generate_confusion_matrix, targets, preds, 4, expected)


def test_generate_confusion_data_in_eval_mode(classification_set):
    expect.confusion_data(cm.generate_confusion_data, PredictFromPixels(), classification_set,
                          [i for i, name in enumerate(PREDICTIONS) for _ in PREDICTIONS[name]],
                          [k for name in PREDICTIONS for k in PREDICTIONS[name]], ["a", "b", "c"])


def test_the_course_device_flag_is_accepted(classification_set):
    """device= is the one device argument; the course's use_cuda=False still means the CPU."""
    plain = cm.generate_confusion_data(PredictFromPixels(), classification_set)
    for kwargs in ({"use_cuda": False}, {"device": "cpu"}, {"device": "cpu", "use_cuda": True}):
        got = cm.generate_confusion_data(PredictFromPixels(), classification_set, **kwargs)
        assert [a.tolist() for a in got[:2]] == [a.tolist() for a in plain[:2]], kwargs
    paths = cm.get_pred_images_for_target(PredictFromPixels(), classification_set, 2, 2, use_cuda=False)
    assert len(paths) == 3


def test_get_pred_images_for_target(classification_set, tmp_path):
    model = PredictFromPixels()
    paths = cm.get_pred_images_for_target(model, classification_set, predicted_class=2, target_class=2)
    assert paths == [str(tmp_path / "test" / "c" / f"{i}.png") for i in (1, 2, 3)]
    paths = cm.get_pred_images_for_target(model, classification_set, predicted_class=0, target_class=2)
    assert paths == [str(tmp_path / "test" / "c" / "0.png")]
    assert cm.get_pred_images_for_target(model, classification_set, predicted_class=2, target_class=1) == []


def test_plots_return_figures(classification_set, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    figures = [
        cm.plot_confusion_matrix(np.eye(3), ["a", "b", "c"]),
        cm.generate_and_plot_confusion_matrix(PredictFromPixels(), classification_set),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        plt.close(fig)
    path = tmp_path / "confusion.png"
    assert isinstance(cm.plot_confusion_matrix(np.eye(3), ["a", "b", "c"], path=str(path)), Figure)
    assert path.read_bytes()[:4] == b"\x89PNG"
