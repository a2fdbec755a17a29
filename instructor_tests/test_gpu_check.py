"""The GPU check's plumbing, rehearsed on the CPU (this machine has no GPU): `bash .ci/gpu-check` trains
the four parts, runs the notebook in quick mode and evaluates the checkpoints as the autograder does."""
import subprocess
from pathlib import Path

import pytest

from proj4_instructor import gpu_check

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


@pytest.fixture
def data():
    if not (DATA / "train").is_dir():
        pytest.skip("the dataset is not installed")
    return DATA


@pytest.mark.slow
def test_the_gpu_check_rehearsed_on_the_cpu(data):
    done = subprocess.run(["bash", str(REPO / ".ci" / "gpu-check"), str(data), "--device", "cpu", "--per-class", "12"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 4 and "autograder's (CPU)" in table[0]  # the header and one row per part
    assert "notebook in quick mode:" in done.stdout and "gpu-check passed" in done.stdout


def test_a_missing_package_is_named_and_nothing_is_installed(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gpu_check, "NEEDED", (*gpu_check.NEEDED, "no_such_package_here"))
    assert gpu_check.main([str(tmp_path)]) == 2
    assert "missing packages: no_such_package_here" in capsys.readouterr().err


def test_without_cuda_the_check_fails_and_says_why(data, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert gpu_check.main([str(data), "--per-class", "1"]) == 1
    assert "no CUDA device" in capsys.readouterr().err


def test_a_subset_to_carry_keeps_n_per_class_and_their_attribute_rows(data, tmp_path):
    assert gpu_check.main([str(data), str(tmp_path / "subset"), "--make-subset", "3"]) == 0
    subset = tmp_path / "subset"
    classes = sorted(p.name for p in (data / "train").iterdir() if p.is_dir())
    for split in ("train", "test"):
        assert sorted(p.name for p in (subset / split).iterdir()) == classes
        assert all(len(list((subset / split / c).iterdir())) == 3 for c in classes)
    rows = (subset / "scene_attributes_test.csv").read_text().split()
    assert rows and all((subset / "test" / r.split(",")[0] / r.split(",")[1]).is_file() for r in rows)
