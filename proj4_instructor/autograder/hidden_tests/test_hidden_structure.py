"""Hidden tests: the structure of each submitted model class (built with pretrained=False).

Student code is imported inside the tests only (see grader_support). Messages say what is wrong
without showing this file.
"""
import pytest
import torch
from torch import nn

from grader_support import fail, student_class

pytestmark = pytest.mark.visibility("after_published")

# Parameters of the head each backbone needs: (D * outputs + outputs).
FEATURES = {"resnet18": 512, "efficientnet_lite0": 1280}
FROZEN = {"resnet18": 11_176_512}


def count(params) -> int:
    return sum(p.numel() for p in params)


def layers(module, kind):
    return [m for m in module.modules() if isinstance(m, kind)]


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


@pytest.mark.points(2)
def test_simple_net_structure():
    """SimpleNet: the course's figure, 56,895 parameters"""
    torch.manual_seed(0)
    model = student_class("SimpleNet")()
    total = count(model.parameters())
    check(total == 56_895, f"SimpleNet has {total:,} parameters, expected 56,895")
    convs, pools = layers(model.conv_layers, nn.Conv2d), layers(model.conv_layers, nn.MaxPool2d)
    check([(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [(1, 10, (5, 5)), (10, 20, (5, 5))],
          f"SimpleNet.conv_layers needs Conv2d(1, 10, 5) and Conv2d(10, 20, 5), found {convs}")
    check(len(pools) == 2 and all(p.kernel_size == 3 and p.stride == 3 for p in pools),
          f"SimpleNet.conv_layers needs two MaxPool2d(3, stride=3), found {pools}")
    check(len(layers(model.conv_layers, nn.ReLU)) == 2, "SimpleNet.conv_layers needs a ReLU after each pooling")
    linears = [(m.in_features, m.out_features) for m in layers(model.fc_layers, nn.Linear)]
    check(linears == [(500, 100), (100, 15)],
          f"SimpleNet.fc_layers needs Linear(500, 100) and Linear(100, 15), found {linears}")
    check(isinstance(model.loss_criterion, nn.CrossEntropyLoss), "SimpleNet.loss_criterion must be nn.CrossEntropyLoss")
    out = model.eval()(torch.rand(3, 1, 64, 64))
    check(tuple(out.shape) == (3, 15), f"SimpleNet output shape {tuple(out.shape)} for (3, 1, 64, 64), "
                                       "expected (3, 15)")
    check(not torch.allclose(out.sum(dim=1), torch.ones(3)), "SimpleNet.forward must return logits, not probabilities")


@pytest.mark.points(2)
def test_simple_net_final_rules():
    """SimpleNetFinal: >= 3 Conv2d, BatchNorm2d, Dropout, >= 2 Linear, ReLU; (N, 15) logits"""
    torch.manual_seed(0)
    model = student_class("SimpleNetFinal")()
    for kind, least in ((nn.Conv2d, 3), (nn.BatchNorm2d, 1), (nn.Linear, 2), (nn.ReLU, 1)):
        found = len(layers(model, kind))
        check(found >= least, f"SimpleNetFinal needs at least {least} {kind.__name__}, found {found}")
    check(any(isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules()), "SimpleNetFinal needs Dropout")
    check(isinstance(model.loss_criterion, nn.CrossEntropyLoss),
          "SimpleNetFinal.loss_criterion must be nn.CrossEntropyLoss")
    out = model.eval()(torch.rand(3, 1, 64, 64))
    check(tuple(out.shape) == (3, 15), f"SimpleNetFinal output shape {tuple(out.shape)} for (3, 1, 64, 64), "
                                       "expected (3, 15)")


def check_frozen_backbone_model(class_name: str, outputs: int):
    cls = student_class(class_name)
    for backbone, features in FEATURES.items():
        torch.manual_seed(0)
        model = cls(pretrained=False, backbone=backbone)
        where = f"{class_name}(pretrained=False, backbone={backbone!r})"
        frozen = [p for p in model.conv_layers.parameters() if p.requires_grad]
        check(not frozen, f"{where}: conv_layers must be frozen (requires_grad=False on every parameter)")
        trainable = count(p for p in model.parameters() if p.requires_grad)
        expected = features * outputs + outputs
        check(trainable == expected, f"{where}: {trainable:,} trainable parameters, expected {expected:,} "
                                     f"(Linear({features}, {outputs}) only)")
        if backbone in FROZEN:
            check(count(model.conv_layers.parameters()) == FROZEN[backbone],
                  f"{where}: conv_layers has {count(model.conv_layers.parameters()):,} parameters, "
                  f"expected {FROZEN[backbone]:,}")
        model.train()
        check(not any(m.training for m in model.conv_layers.modules()),
              f"{where}: train() must keep the frozen backbone in eval mode (BatchNorm statistics)")
        with torch.no_grad():
            out = model.eval()(torch.rand(2, 1, 224, 224))
        check(tuple(out.shape) == (2, outputs), f"{where}: output shape {tuple(out.shape)}, expected (2, {outputs})")
        yield model, out


@pytest.mark.points(2)
def test_my_resnet_structure():
    """MyResNet18: frozen backbone and a Linear(D, 15) head (resnet18 and efficientnet_lite0)"""
    for model, _ in check_frozen_backbone_model("MyResNet18", 15):
        check(isinstance(model.loss_criterion, nn.CrossEntropyLoss),
              "MyResNet18.loss_criterion must be nn.CrossEntropyLoss")


@pytest.mark.points(2)
def test_multilabel_resnet_structure():
    """MultilabelResNet18: frozen backbone, Linear(D, 7) head, separate Sigmoid, BCELoss"""
    for model, out in check_frozen_backbone_model("MultilabelResNet18", 7):
        check(isinstance(model.activation, nn.Sigmoid), "MultilabelResNet18.activation must be nn.Sigmoid")
        check(not layers(model.fc_layers, nn.Sigmoid), "MultilabelResNet18: the Sigmoid belongs in .activation, "
                                                      "not inside fc_layers")
        check(isinstance(model.loss_criterion, nn.BCELoss), "MultilabelResNet18.loss_criterion must be nn.BCELoss")
        check(bool(((out >= 0) & (out <= 1)).all()), "MultilabelResNet18 must return probabilities in [0, 1]")
