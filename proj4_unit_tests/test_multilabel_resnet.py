"""Part 4: MultilabelResNet18, a frozen backbone with a 7-attribute sigmoid head (pretrained=False here)."""
import pytest
import torch
from model_checks import BACKBONES, assert_only_head_trains, assert_save_load_round_trip, needs_timm

from proj4_code.multilabel_resnet import MultilabelResNet18
from proj4_lib import backbones
from proj4_lib import expectations as expect


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return MultilabelResNet18(pretrained=False, backbone="resnet18")


def test_parameter_counts_resnet18(resnet):
    expect.parameter_counts(resnet, trainable=3_591, frozen=11_176_512)  # the head: Linear(512 -> 7)
    assert isinstance(resnet.conv_layers[0], backbones.BackboneInput)


@needs_timm
def test_parameter_counts_efficientnet():
    expect.parameter_counts(MultilabelResNet18(pretrained=False, backbone="efficientnet_lite0"), trainable=1280 * 7 + 7)


def test_activation_and_loss(resnet):
    """`activation` is its own nn.Sigmoid, forward = activation(fc_layers(features)), a mean BCELoss."""
    expect.sigmoid_head(resnet)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_output_is_probabilities(backbone):
    torch.manual_seed(0)
    model = MultilabelResNet18(pretrained=False, backbone=backbone).eval()
    gray = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        probs = model(gray)
        from_rgb = model(gray.expand(-1, 3, -1, -1))
        head = model.fc_layers(torch.flatten(model.conv_layers(gray), 1))
    assert probs.shape == (3, 7)
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    assert torch.allclose(probs, torch.sigmoid(head), atol=1e-6), "forward = activation(fc_layers(features))"
    assert torch.allclose(probs, from_rgb, atol=1e-5)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_frozen_backbone_stays_frozen(backbone):
    torch.manual_seed(0)
    model = MultilabelResNet18(pretrained=False, backbone=backbone)
    assert_only_head_trains(model, torch.rand(4, 1, 64, 64), torch.randint(0, 2, (4, 7)).float())


@pytest.mark.parametrize("backbone", BACKBONES)
def test_head_follows_the_backbone(backbone):
    """The head is Linear(D, 7) with D the backbone's feature size (512 or 1,280), never a constant."""
    expect.head_follows_the_backbone(MultilabelResNet18(pretrained=False, backbone=backbone), 7)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_forward_is_the_head_on_the_backbone_features(backbone):
    """forward(x) == head(conv_layers(x)): the Trainer trains the head on cached features, the autograder
    evaluates it there."""
    torch.manual_seed(0)
    expect.forward_is_head_on_features(MultilabelResNet18(pretrained=False, backbone=backbone), 7)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_batch_of_one(backbone):
    """One image in, (1, 7) out: squeeze() on the features would drop the batch dimension too."""
    torch.manual_seed(0)
    expect.batch_of_one(MultilabelResNet18(pretrained=False, backbone=backbone).eval(), 7)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_save_and_load_round_trip(tmp_path, backbone):
    assert_save_load_round_trip(tmp_path, lambda: MultilabelResNet18(pretrained=False, backbone=backbone),
                                (2, 3, 64, 64))
