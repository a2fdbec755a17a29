"""Test-split accuracy of the checkpoints you submit (model_output/trained_<ClassName>_final.pt).

Every part of proj4_lib/parts.py is tested: its threshold (a multi-label part: element-wise over
the attributes), the data and transforms it is evaluated with and its accuracy function come from
there; the failure message prints the threshold. A checkpoint that is not there yet is skipped with
the command that makes it (in CI it is a failure: CI trains them first).
"""
import pytest
import torch
from torch.utils.data import DataLoader

from proj4_code.dl_utils import load_trained_model
from proj4_lib.parts import PARTS
from proj4_tools.train import accuracy_function, evaluation_set

pytestmark = pytest.mark.slow


def evaluate_accuracy(model, dataset, accuracy_fn) -> float:
    """Mean accuracy of `model` over `dataset` (eval mode, no gradients)."""
    model.eval()
    correct, count = 0.0, 0
    with torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=100):
            correct += accuracy_fn(model(x), y) * len(y)
            count += len(y)
    return correct / count


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.class_name)
def test_checkpoint_accuracy(part, data_dir, checkpoint_path):
    model = load_trained_model(checkpoint_path(part.class_name, part.name), expected_class=part.class_name)
    accuracy = evaluate_accuracy(model, evaluation_set(part, str(data_dir)), accuracy_function(part))
    backbone = f" (backbone {model.backbone_name})" if hasattr(model, "backbone_name") else ""
    print(f"{part.class_name}{backbone}: test accuracy {accuracy:.4f} (threshold {part.threshold})")
    assert accuracy >= part.threshold, (
        f"{part.class_name}{backbone} reaches {accuracy:.4f} test accuracy, below its threshold {part.threshold}")
