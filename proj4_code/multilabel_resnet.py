"""Part 4: predict 7 scene attributes at once (clouds, water, people, animals, natural,
man-made, vehicles) with a frozen pretrained backbone and a multi-label head.

Each attribute is its own yes/no question, so the head ends in a sigmoid per output (not a
softmax across outputs) and the loss is binary cross-entropy.

Rules: `activation` is its own attribute, not inside fc_layers; train only the head Linear(D, 7):
3,591 parameters with ResNet-18 (D = 512), 8,967 with EfficientNet-Lite0 (D = 1,280); forward(x) is
exactly head(conv_layers(x)) (flatten, fc_layers, activation), what the Trainer trains on cached
features and the autograder evaluates.
"""
import torch
from torch import nn

from proj4_lib.backbones import FrozenBackboneModel

NUM_ATTRIBUTES = 7


class MultilabelResNet18(FrozenBackboneModel):
    """Frozen pretrained backbone + Linear(D -> 7) + Sigmoid; forward returns (N, 7) probabilities."""

    def __init__(self, pretrained: bool = True, backbone: str = "resnet18"):
        super().__init__()
        num_features = self.init_backbone(backbone, pretrained)  # sets self.conv_layers
        self.fc_layers = None  # nn.Linear(num_features, 7)
        self.activation = None  # nn.Sigmoid()
        self.loss_criterion = None  # nn.BCELoss(reduction="mean")
        # STUB: freeze self.conv_layers, then set fc_layers, activation and loss_criterion
        # BEGIN SOLUTION
        for param in self.conv_layers.parameters():
            param.requires_grad = False
        self.fc_layers = nn.Linear(num_features, NUM_ATTRIBUTES)
        self.activation = nn.Sigmoid()
        self.loss_criterion = nn.BCELoss(reduction="mean")
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1 or 3, 224, 224) in [0, 1] -> (N, 7) probabilities in [0, 1]."""
        model_output = None
        # STUB: conv_layers, flatten to (N, D), fc_layers, then activation
        # BEGIN SOLUTION
        features = torch.flatten(self.conv_layers(x), 1)  # (N, D)
        model_output = self.activation(self.fc_layers(features))
        # END SOLUTION
        return model_output
