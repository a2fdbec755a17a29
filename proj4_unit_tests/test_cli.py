"""`proj4 train` through proj4_tools.cli.main, on a tiny synthetic dataset."""
import json

import pytest

from proj4_lib.fixtures import class_tree
from proj4_tools import cli


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """{train,test}/c00..c14/*.png: 16 x 16 noise images, 3 per class and split."""
    return class_tree(tmp_path_factory.mktemp("tiny_scenes"), [f"c{c:02d}" for c in range(15)], 3)


def train_args(tree, out, epochs=1):
    return ["train", "simple_net", "--epochs", str(epochs), "--batch-size", "16", "--data-dir", str(tree),
            "--out", str(out), "--device", "cpu", "--no-progress"]


def test_train_writes_outputs_and_resumes(tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(train_args(tree, out)) == 0
    assert (out / "trained_SimpleNet_final.pt").is_file()
    for name in ("simple_net_loss.png", "simple_net_accuracy.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name
    metrics = json.loads((out / "metrics.json").read_text())["simple_net"]
    assert {"model", "epochs", "test_accuracy", "train_seconds", "seed"} <= set(metrics)
    assert metrics["model"] == "simple_net" and metrics["epochs"] == 1 and metrics["seed"] == 0
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["train_seconds"] > 0
    assert "Resumed" not in capsys.readouterr().out

    assert cli.main(train_args(tree, out)) == 0
    assert "Resumed" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["simple_net"]["test_accuracy"] == metrics["test_accuracy"]

    # The one-cycle schedule of the checkpoint cannot be stretched: say so instead of crashing mid-epoch.
    with pytest.raises(ValueError, match="--restart"):
        cli.main(train_args(tree, out, epochs=2))


def test_unknown_model(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "alexnet"])
    assert exit_info.value.code == 2
    assert "alexnet" in capsys.readouterr().err


def test_student_command_has_no_instructor_tools(capsys):
    """Releasing and grading are the instructor's (`proj4-instructor`), not subcommands of `proj4`."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["grade", "x.zip"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["train", "--help"], ["data", "install", "--help"]])
def test_help_states_each_default_once(command, capsys):
    """Every option says its default at most once, never "(default: None)" or a flag's True/False."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command)
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for meaningless in ("(default: None)", "(default: True)", "(default: False)"):
        assert meaningless not in text, text
    for option in text.split(" --")[1:]:
        assert option.count("default") <= 1, f"--{option}"
    assert "shared" not in text, "the course machines' ../shared/data is not a student's default"
