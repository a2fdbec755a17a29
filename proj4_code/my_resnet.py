"""Part 3: transfer learning from an ImageNet-pretrained ResNet-18 to the 15 scenes.

The course calls this fine-tuning; here it is its simplest form: the pretrained backbone stays
frozen and only a new head trains.

The pretrained backbone comes from backbones.load_backbone (provided): `conv_layers` is every
layer of torchvision's resnet18 but its 1,000-class `fc` (conv1 ... avgpool), preceded by a
module that turns grayscale input into normalised 3-channel input. You freeze it and put a new
15-way head on top. Input: (N, 1, 224, 224) or (N, 3, 224, 224) in [0, 1].

Rules: train only the head Linear(D, 15): 7,695 parameters with ResNet-18 (D = 512; 11,176,512
stay frozen), 19,215 with EfficientNet-Lite0 (D = 1,280; 3,371,008 stay frozen); fc_layers holds that
Linear (an nn.Sequential around it, with a Dropout before it, is fine) and forward(x) is exactly
head(conv_layers(x)) (FrozenBackboneModel.head: flatten, fc_layers): the Trainer trains the head on
the backbone's cached features and the autograder evaluates it there. The autograder accepts either
backbone: it rebuilds the one your checkpoint names.
"""
import torch
from torch import nn

from proj4_lib.backbones import FrozenBackboneModel


class MyResNet18(FrozenBackboneModel):
    """Frozen pretrained backbone + Linear(D -> 15); forward returns (N, 15) logits.

    backbone: "resnet18" (the course's) or "efficientnet_lite0" (works offline; D = 1280).
    pretrained=False: same architecture, random weights, no network (graders use it).
    """

    def __init__(self, pretrained: bool = True, backbone: str = "resnet18"):
        super().__init__()
        num_features = self.init_backbone(backbone, pretrained)  # sets self.conv_layers; D = 512 for resnet18
        self.fc_layers = None  # nn.Linear(num_features, 15)
        self.loss_criterion = None  # nn.CrossEntropyLoss(reduction="mean")
        # STUB: freeze every parameter of self.conv_layers (requires_grad = False),
        # STUB: then set fc_layers and loss_criterion
        # BEGIN SOLUTION
        for param in self.conv_layers.parameters():
            param.requires_grad = False
        self.fc_layers = nn.Linear(num_features, 15)
        self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1 or 3, 224, 224) in [0, 1] -> (N, 15) logits."""
        model_output = None
        # STUB: features = self.conv_layers(x), flattened to (N, D), then self.fc_layers
        # BEGIN SOLUTION
        features = torch.flatten(self.conv_layers(x), 1)  # (N, D)
        model_output = self.fc_layers(features)
        # END SOLUTION
        return model_output
