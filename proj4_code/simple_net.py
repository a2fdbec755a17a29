"""Part 1: SimpleNet, a small CNN trained from scratch on 64 x 64 grayscale scenes.

Rules: build the layers with torch.nn modules only; forward returns raw scores (logits), no softmax.
Input that is not (N, 1, 64, 64) must raise an error: torch raises one by itself (a RuntimeError)
when the shapes do not fit; a check of your own that raises ValueError is as good.
"""
import torch
from torch import nn


class SimpleNet(nn.Module):
    """The course's figure, for input (N, 1, 64, 64):

        Conv2d(1 -> 10, kernel 5)  -> MaxPool2d(3, stride 3) -> ReLU    # (N, 10, 20, 20)
        Conv2d(10 -> 20, kernel 5) -> MaxPool2d(3, stride 3) -> ReLU    # (N, 20, 5, 5)
        flatten                                                         # (N, 500)
        Linear(500 -> 100) -> ReLU -> Linear(100 -> 15)                 # (N, 15)

    56,895 parameters in all.
    """

    def __init__(self):
        super().__init__()
        self.conv_layers = None  # nn.Sequential of the conv / pool / ReLU layers
        self.fc_layers = None  # nn.Sequential of the linear layers (with the ReLU between them)
        self.loss_criterion = None  # nn.CrossEntropyLoss(reduction="mean")
        # STUB: set self.conv_layers, self.fc_layers and self.loss_criterion as in the figure above
        # BEGIN SOLUTION
        self.conv_layers = nn.Sequential(
            nn.Conv2d(1, 10, kernel_size=5),
            nn.MaxPool2d(kernel_size=3, stride=3),
            nn.ReLU(),
            nn.Conv2d(10, 20, kernel_size=5),
            nn.MaxPool2d(kernel_size=3, stride=3),
            nn.ReLU(),
        )
        self.fc_layers = nn.Sequential(nn.Linear(500, 100), nn.ReLU(), nn.Linear(100, 15))
        self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, 64, 64) float -> (N, 15) logits."""
        model_output = None
        # STUB: conv_layers, flatten to (N, 500), fc_layers
        # BEGIN SOLUTION
        features = self.conv_layers(x)  # (N, 20, 5, 5)
        model_output = self.fc_layers(torch.flatten(features, 1))
        # END SOLUTION
        return model_output
