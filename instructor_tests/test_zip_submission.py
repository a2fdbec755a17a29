"""zip_submission.py on small project trees built in tmp_path, with tiny real checkpoints."""
import importlib.util
import shutil
import zipfile
from pathlib import Path

import pytest

from proj4_code.dl_utils import load_trained_model, save_trained_model_weights
from proj4_lib.parts import PARTS
from proj4_tools.models import build_model

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = [f"model_output/{part.checkpoint}" for part in PARTS]
ALLOWED = {"proj4_code/__init__.py", "proj4_code/simple_net.py", "setup.py", "README.md", *MODEL_FILES}
STRAYS = ["data/train/bedroom/image_0001.jpg", "data/scene_attributes_train.csv", "notebooks/proj4.ipynb",
          "proj4_code/.ipynb_checkpoints/simple_net-checkpoint.py", "proj4_code/__pycache__/simple_net.cpython-311.pyc",
          "proj4_code/notes.txt", "model_output/checkpoints/simple_net/checkpoint.pt", "model_output/metrics.json",
          ".git/config", "old_attempt.zip"]


def _load_zip_submission():
    spec = importlib.util.spec_from_file_location("zip_submission", REPO_ROOT / "zip_submission.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


zs = _load_zip_submission()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """Every part's model saved as the notebook saves it; the backbone models without pretrained weights."""
    folder = tmp_path_factory.mktemp("checkpoints")
    for part in PARTS:
        save_trained_model_weights(build_model(part.name, backbone="efficientnet_lite0", pretrained=False), folder)
    return folder


@pytest.fixture
def project(tmp_path, checkpoints) -> Path:
    """A student's project folder: the allow-listed files, the four models, and strays that must stay out."""
    root = tmp_path / "proj4"
    for name in ALLOWED - set(MODEL_FILES):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"# {name}\n")
    shutil.copytree(checkpoints, root / "model_output")
    for name in STRAYS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"stray")
    return root


def _zips_under(folder: Path):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.zip*") if p.name != "old_attempt.zip")


def test_good_tree_gives_exactly_the_allow_list(project, capsys):
    path = zs.build_zip(project, "gburdell3")

    assert path == project / "gburdell3.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted(ALLOWED), f"unexpected entries: {set(names) ^ ALLOWED}"
        for name in MODEL_FILES:
            assert archive.read(name) == (project / name).read_bytes(), f"{name} changed on the way into the zip"
    printed = capsys.readouterr().out
    assert all(name in printed for name in ALLOWED), f"not every file is listed in the output:\n{printed}"
    assert _zips_under(project) == ["gburdell3.zip"], "a temporary file was left behind"


def test_zipped_models_load(project, tmp_path):
    path = zs.build_zip(project, "gburdell3", out_dir=tmp_path / "out")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "unpacked")
    model = load_trained_model(tmp_path / "unpacked" / "model_output" / "trained_MyResNet18_final.pt",
                               expected_class="MyResNet18")
    assert type(model).__name__ == "MyResNet18"


def test_main_writes_the_zip_and_returns_0(project, tmp_path):
    code = zs.main(["--gt_username", "g.burdell-3_x", "--repo-root", str(project), "--out-dir", str(tmp_path / "out")])
    assert code == 0
    assert (tmp_path / "out" / "g.burdell-3_x.zip").is_file()


def test_missing_checkpoint_is_refused_with_how_to_make_it(project, capsys):
    (project / "model_output" / "trained_MyResNet18_final.pt").unlink()

    code = zs.main(["--gt_username", "gburdell3", "--repo-root", str(project)])

    error = capsys.readouterr().err
    assert code != 0
    assert "trained_MyResNet18_final.pt is missing" in error, error
    assert "Part 3" in error and "proj4 train my_resnet" in error, error
    assert "SimpleNet_final" not in error, f"only the missing model should be named:\n{error}"
    assert _zips_under(project) == []


def test_wrong_class_inside_a_checkpoint_is_refused(project):
    # A SimpleNet saved under MyResNet18's file name.
    shutil.copyfile(project / "model_output" / "trained_SimpleNet_final.pt",
                    project / "model_output" / "trained_MyResNet18_final.pt")

    with pytest.raises(zs.SubmissionError, match=r"trained_MyResNet18_final\.pt cannot be loaded as MyResNet18") as err:
        zs.build_zip(project, "gburdell3")
    assert "holds a SimpleNet" in str(err.value)
    assert _zips_under(project) == []


def test_unreadable_checkpoint_is_refused(project):
    (project / "model_output" / "trained_SimpleNetFinal_final.pt").write_bytes(b"not a checkpoint")

    with pytest.raises(zs.SubmissionError, match=r"(?s)trained_SimpleNetFinal_final\.pt cannot be loaded.*Part 2"):
        zs.build_zip(project, "gburdell3")
    assert _zips_under(project) == []


def test_oversize_zip_is_refused_and_nothing_is_overwritten(project, monkeypatch):
    (project / "gburdell3.zip").write_bytes(b"the previous zip")
    monkeypatch.setattr(zs, "MAX_BYTES", 100_000)  # the SimpleNetFinal checkpoint alone is larger

    with pytest.raises(zs.SubmissionError, match=r"over the 0\.1 MB limit \(largest file: model_output/"):
        zs.build_zip(project, "gburdell3")
    assert (project / "gburdell3.zip").read_bytes() == b"the previous zip"
    assert _zips_under(project) == ["gburdell3.zip"], "a temporary file was left behind"


@pytest.mark.parametrize("username", ["a/b", "..", "../evil", ".", ".hidden", "", "a b", "a\\b", "gbürdell", "x:y"])
def test_username_with_path_or_odd_characters_is_refused(project, tmp_path, capsys, username):
    code = zs.main(["--gt_username", username, "--repo-root", str(project)])

    assert code != 0
    assert "invalid --gt_username" in capsys.readouterr().err
    assert _zips_under(tmp_path) == []


def test_colab_package_has_the_project_but_no_data(project, tmp_path):
    (project / "proj4_unit_tests").mkdir()
    (project / "proj4_unit_tests" / "test_simple_net.py").write_text("# tests\n")
    (project / "proj4_lib").mkdir()
    for name in ("__init__.py", "SHA256SUMS"):
        (project / "proj4_lib" / name).write_text("# provided\n")

    path = zs.build_colab_package(project, out_dir=tmp_path / "out")

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    expected = {"setup.py", "README.md", "notebooks/proj4.ipynb", "proj4_code/__init__.py", "proj4_code/simple_net.py",
                "proj4_lib/__init__.py", "proj4_lib/SHA256SUMS", "proj4_unit_tests/test_simple_net.py", *MODEL_FILES}
    assert names == expected, f"unexpected entries: {names ^ expected}"
