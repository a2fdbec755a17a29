"""Part 4: MultiLabelTrainer (attribute CSVs as labels, element-wise accuracy) on tiny synthetic data."""
import numpy as np
import pytest
import torch
from torch import nn

from proj4_code import data_transforms
from proj4_code.runner import MultiLabelTrainer
from proj4_lib.fixtures import class_tree, write_attribute_csv

HISTORIES = ("train_loss_history", "validation_loss_history", "train_accuracy_history",
             "validation_accuracy_history")
PER_CLASS = 4


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """{train,test}/c00..c02/*.png: 16 x 16 noise images, 4 per class and split."""
    return class_tree(tmp_path_factory.mktemp("tiny_outdoor"), [f"c{c:02d}" for c in range(3)], PER_CLASS)


class ConstantProbabilities(nn.Module):
    """Predicts probability 0.6 (so: 1) for all 7 attributes, whatever the image."""

    def __init__(self):
        super().__init__()
        self.fc_layers = nn.Linear(1, 7)
        nn.init.zeros_(self.fc_layers.weight)
        nn.init.constant_(self.fc_layers.bias, float(np.log(0.6 / 0.4)))
        self.loss_criterion = nn.BCELoss(reduction="mean")

    def forward(self, x):
        return torch.sigmoid(self.fc_layers(x.mean(dim=(1, 2, 3)).unsqueeze(1)))


def test_multilabel_trainer(tree, tmp_path):
    rng = np.random.default_rng(1)
    csvs, ones = {}, {}
    for split in ("train", "test"):
        rows = [[f"c{c:02d}", f"{i}.png", *rng.integers(0, 2, 7).tolist()] for c in range(3) for i in range(PER_CLASS)]
        csvs[split] = write_attribute_csv(tmp_path / f"{split}.csv", rows)
        ones[split] = np.mean([row[2:] for row in rows])

    model = ConstantProbabilities()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the predictions stay all-ones
    tf = data_transforms.get_fundamental_transforms((16, 16))
    trainer = MultiLabelTrainer(tree, model, optimizer, tmp_path / "model", tf, tf, train_labels_csv=str(csvs["train"]),
                                test_labels_csv=str(csvs["test"]), batch_size=5, progress=False)
    trainer.run_training_loop(2)
    for name in HISTORIES:
        assert len(getattr(trainer, name)) == 2, name
    # All-ones predictions are right exactly where a flag is 1: element-wise accuracy, not exact match.
    assert trainer.train_accuracy_history == pytest.approx([ones["train"]] * 2, abs=1e-6)
    assert trainer.validation_accuracy_history == pytest.approx([ones["test"]] * 2, abs=1e-6)
    assert trainer.validation_loss_history[0] == pytest.approx(
        -(ones["test"] * np.log(0.6) + (1 - ones["test"]) * np.log(0.4)), rel=1e-5)
