"""Test-split accuracy of the checkpoints you submit (model_output/trained_<ClassName>_final.pt).

Each part's threshold is in proj4_lib/parts.py (Part 4: element-wise over the 7 attributes); the
failure message prints it. A checkpoint that is not there yet is skipped with the command that
makes it (in CI it is a failure: CI trains them first).
"""
import pytest
import torch
from torch.utils.data import DataLoader

from proj4_code.data_transforms import get_fundamental_normalization_transforms, get_fundamental_transforms
from proj4_code.dl_utils import compute_accuracy, compute_multilabel_accuracy, load_trained_model
from proj4_code.image_loader import ImageLoader, MultiLabelImageLoader, default_attribute_csv
from proj4_code.stats_helper import compute_mean_and_std
from proj4_lib.parts import PARTS

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


def evaluation_set(part, data_dir):
    """The test split as the part's model is evaluated on it (the recipe's evaluation transforms)."""
    size = (part.inp_size, part.inp_size)
    if part.recipe.normalize:
        transform = get_fundamental_normalization_transforms(size, *compute_mean_and_std(str(data_dir)))
    else:  # the pretrained backbones normalise by themselves
        transform = get_fundamental_transforms(size)
    if part.multilabel:
        return MultiLabelImageLoader(str(data_dir), default_attribute_csv(str(data_dir), "test"), "test", transform)
    return ImageLoader(str(data_dir), "test", transform)


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.class_name)
def test_checkpoint_accuracy(part, data_dir, checkpoint_path):
    model = load_trained_model(checkpoint_path(part.class_name, part.name), expected_class=part.class_name)
    accuracy_fn = compute_multilabel_accuracy if part.multilabel else compute_accuracy
    accuracy = evaluate_accuracy(model, evaluation_set(part, data_dir), accuracy_fn)
    backbone = f" (backbone {model.backbone_name})" if hasattr(model, "backbone_name") else ""
    print(f"{part.class_name}{backbone}: test accuracy {accuracy:.4f} (threshold {part.threshold})")
    assert accuracy >= part.threshold, (
        f"{part.class_name}{backbone} reaches {accuracy:.4f} test accuracy, below its threshold {part.threshold}")
