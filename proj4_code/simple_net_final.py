"""Part 2: SimpleNetFinal, a deeper CNN with batch norm and dropout, trained from scratch.

Rules: torch.nn modules only; at least 3 Conv2d, BatchNorm2d, Dropout, at least 2 Linear, ReLU;
input (N, 1, 64, 64), output (N, 15) logits. The threshold and what the reference reaches are
in proj4_lib/parts.py (the notebook prints them).
"""
import torch
from torch import nn


class SimpleNetFinal(nn.Module):
    """Your best from-scratch CNN for (N, 1, 64, 64) input; returns (N, 15) logits."""

    def __init__(self):
        super().__init__()
        self.conv_layers = None  # nn.Sequential: conv blocks with BatchNorm2d, ReLU, pooling
        self.fc_layers = None  # nn.Sequential: Dropout and at least 2 Linear layers
        self.loss_criterion = None  # nn.CrossEntropyLoss(reduction="mean")
        # STUB: design conv_layers and fc_layers (see the rules above) and set loss_criterion
        # BEGIN SOLUTION
        def block(c_in: int, c_out: int) -> list:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                    nn.MaxPool2d(2)]

        self.conv_layers = nn.Sequential(
            *block(1, 16),  # (N, 16, 32, 32)
            *block(16, 32),  # (N, 32, 16, 16)
            *block(32, 64),  # (N, 64, 8, 8)
            *block(64, 128),  # (N, 128, 4, 4)
        )
        self.fc_layers = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(128 * 4 * 4, 256),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(256, 15),
        )
        self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, 64, 64) float -> (N, 15) logits."""
        model_output = None
        # STUB: conv_layers, flatten, fc_layers
        # BEGIN SOLUTION
        model_output = self.fc_layers(torch.flatten(self.conv_layers(x), 1))
        # END SOLUTION
        return model_output
