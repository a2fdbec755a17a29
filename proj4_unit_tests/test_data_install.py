"""`proj4 data install` on a small synthetic archive (folder, zip path and local http sources)."""
import hashlib
import zipfile
from pathlib import Path

import pytest

from proj4_lib import course, data_install
from proj4_lib.data_install import (
    ARCHIVE,
    CSV_FILES,
    MARKER,
    DataInstallError,
    has_kept_files,
    install_data,
    keep_files,
)
from proj4_lib.fixtures import serve_folder
from proj4_tools import cli

pytestmark = pytest.mark.provided  # the data command is provided code: the autograder leaves this file out

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # conftest.REPO_ROOT/../shared/data


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_source(folder, members=None, tag="v1"):
    """folder/proj4_data.zip (train/ and test/ with a few small files) + the two CSVs; returns checksums."""
    folder.mkdir(parents=True, exist_ok=True)
    members = members or {f"{split}/{c}/image_000{i}.jpg": f"{tag} {split} {c} {i}".encode()
                          for split in ("train", "test") for c in ("coast", "forest") for i in (1, 2)}
    with zipfile.ZipFile(folder / ARCHIVE, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    for name in CSV_FILES:
        (folder / name).write_text(f"coast,image_0001.jpg,0,1,0,0,1,0,0\n# {tag}\n")
    return {name: sha256(folder / name) for name in (ARCHIVE, *CSV_FILES)}


def assert_installed(dest, checksums):
    assert sorted(p.relative_to(dest).as_posix() for p in (dest / "train").rglob("*.jpg")) == [
        f"train/{c}/image_000{i}.jpg" for c in ("coast", "forest") for i in (1, 2)]
    assert (dest / "test" / "forest" / "image_0002.jpg").read_bytes().startswith(b"v1 test forest 2")
    assert all((dest / name).is_file() for name in CSV_FILES)
    assert (dest / MARKER).read_text().strip() == checksums[ARCHIVE]
    assert not list(dest.glob(".staging-*")), "staging folder left behind"


def snapshot(dest):
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in dest.rglob("*") if p.is_file()}


def test_install_from_folder_then_noop(tmp_path, capsys):
    checksums = make_source(tmp_path / "src")
    dest = tmp_path / "data"
    assert install_data(str(tmp_path / "src"), dest, checksums=checksums) == dest
    assert_installed(dest, checksums)
    before = snapshot(dest)
    capsys.readouterr()
    install_data(str(tmp_path / "src"), dest, checksums=checksums)
    assert "nothing to do" in capsys.readouterr().out
    assert snapshot(dest) == before, "a second run must not touch the installed files"


def test_install_from_zip_path(tmp_path):
    checksums = make_source(tmp_path / "src")
    install_data(str(tmp_path / "src" / ARCHIVE), tmp_path / "data", checksums=checksums)
    assert_installed(tmp_path / "data", checksums)


@pytest.fixture
def http_folder(tmp_path, monkeypatch):
    """Serve tmp_path/src on 127.0.0.1 for the test; yields the base URL."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    (tmp_path / "src").mkdir()
    with serve_folder(tmp_path / "src") as url:
        yield url


@pytest.mark.parametrize("url_path", ["/", "/" + ARCHIVE])
def test_install_from_url(tmp_path, http_folder, url_path):
    checksums = make_source(tmp_path / "src")
    install_data(http_folder + url_path, tmp_path / "data", checksums=checksums)
    assert_installed(tmp_path / "data", checksums)


def test_missing_url_names_it(tmp_path, http_folder):
    checksums = make_source(tmp_path / "src")
    (tmp_path / "src" / CSV_FILES[1]).unlink()
    with pytest.raises(DataInstallError, match=CSV_FILES[1]):
        install_data(http_folder + "/", tmp_path / "data", checksums=checksums)
    assert not (tmp_path / "data" / "train").exists()


def test_checksum_mismatch(tmp_path):
    checksums = make_source(tmp_path / "src")
    checksums[CSV_FILES[0]] = "0" * 64
    dest = tmp_path / "data"
    with pytest.raises(DataInstallError) as err:
        install_data(str(tmp_path / "src"), dest, checksums=checksums)
    assert CSV_FILES[0] in str(err.value) and "SHA-256" in str(err.value)
    assert not (dest / "train").exists() and not (dest / "test").exists()
    assert not list(dest.glob(".staging-*"))


def test_zip_slip_refused(tmp_path):
    members = {"train/a/1.jpg": b"x", "test/a/1.jpg": b"x", "../evil.txt": b"gotcha"}
    checksums = make_source(tmp_path / "src", members=members)
    dest = tmp_path / "data"
    with pytest.raises(DataInstallError, match="evil"):
        install_data(str(tmp_path / "src"), dest, checksums=checksums)
    assert not (tmp_path / "evil.txt").exists() and not (dest / "evil.txt").exists()
    assert not (dest / "train").exists() and not list(dest.glob(".staging-*"))


def test_failed_extraction_keeps_previous_install(tmp_path, monkeypatch):
    old_sums = make_source(tmp_path / "v1", tag="v1")
    dest = tmp_path / "data"
    install_data(str(tmp_path / "v1"), dest, checksums=old_sums)
    before = snapshot(dest)
    new_sums = make_source(tmp_path / "v2", tag="v2")

    real_extract = zipfile.ZipFile.extract

    def extractall_then_crash(self, path=None, members=None, pwd=None):
        real_extract(self, self.namelist()[0], path)  # part of the archive is out ...
        raise OSError("No space left on device")  # ... when the disk fills up

    monkeypatch.setattr(zipfile.ZipFile, "extractall", extractall_then_crash)
    with pytest.raises(OSError, match="No space left"):
        install_data(str(tmp_path / "v2"), dest, checksums=new_sums)
    assert snapshot(dest) == before, "the previous install must stay as it was"
    assert not list(dest.glob(".staging-*"))


@pytest.mark.slow
def test_cli_installs_the_real_data(tmp_path):
    if not (SHARED_DATA / ARCHIVE).is_file():
        pytest.skip("tests the provided data command on the course's own copy of the data (not on this computer)")
    dest = tmp_path / "data"
    assert cli.main(["data", "install", "--from", str(SHARED_DATA), "--dest", str(dest)]) == 0
    assert sum(1 for _ in (dest / "train").rglob("*.jpg")) == 2985
    assert sum(1 for _ in (dest / "test").rglob("*.jpg")) == 1500
    assert data_install.is_installed(dest, data_install.read_checksums())


def test_cli_reports_errors(tmp_path, capsys):
    assert cli.main(["data", "install", "--from", str(tmp_path / "nowhere"), "--dest", str(tmp_path / "d")]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_without_a_source_it_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.delenv("PROJ4_DATA_SOURCE", raising=False)
    monkeypatch.setattr(course, "DATA_URL", "")
    with pytest.raises(DataInstallError, match="--from") as err:
        install_data(None, tmp_path / "data")
    assert "PROJ4_DATA_SOURCE" in str(err.value) and "shared" not in str(err.value)


def test_the_course_url_is_the_default_source(monkeypatch):
    monkeypatch.delenv("PROJ4_DATA_SOURCE", raising=False)
    monkeypatch.setattr(course, "DATA_URL", "https://example.edu/proj4/data/")
    assert data_install.default_source() == "https://example.edu/proj4/data/"
    monkeypatch.setenv("PROJ4_DATA_SOURCE", "/somewhere")
    assert data_install.default_source() == "/somewhere"


@pytest.mark.parametrize("link", ["https://drive.google.com/drive/folders/1AbCdEf?usp=sharing",
                                  "https://www.dropbox.com/scl/fo/abc/proj4?dl=0"])
def test_a_share_link_is_refused_with_what_works_instead(tmp_path, link):
    with pytest.raises(DataInstallError, match="share link") as err:
        install_data(link, tmp_path / "data", checksums={})
    assert ARCHIVE in str(err.value) and "folder" in str(err.value)
    assert not (tmp_path / "data" / "train").exists() and not list((tmp_path / "data").glob(".staging-*"))


def test_keep_files_downloads_once(tmp_path, http_folder, capsys):
    """The notebook keeps the three files on Google Drive: fetched once, then no source is needed."""
    checksums = make_source(tmp_path / "src")
    kept = tmp_path / "drive" / "data_files"
    assert keep_files(http_folder + "/", kept, checksums=checksums) == kept
    assert has_kept_files(kept, checksums)
    assert {p.name for p in kept.iterdir()} == {ARCHIVE, *CSV_FILES, data_install.KEPT_MARKER}
    for path in (tmp_path / "src").iterdir():
        path.unlink()  # the server has nothing now: a second download would fail
    capsys.readouterr()
    keep_files(http_folder + "/", kept, checksums=checksums)
    assert "nothing to download" in capsys.readouterr().out
    install_data(str(kept), tmp_path / "data", checksums=checksums)
    assert_installed(tmp_path / "data", checksums)


def test_keep_files_from_a_folder_and_a_bad_copy(tmp_path):
    checksums = make_source(tmp_path / "src")
    keep_files(str(tmp_path / "src"), tmp_path / "kept", checksums=checksums)
    assert (tmp_path / "kept" / ARCHIVE).read_bytes() == (tmp_path / "src" / ARCHIVE).read_bytes()
    (tmp_path / "src" / CSV_FILES[1]).write_text("not the course's\n")
    with pytest.raises(DataInstallError, match="SHA-256"):
        keep_files(str(tmp_path / "src"), tmp_path / "other", checksums=checksums)
    assert not has_kept_files(tmp_path / "other", checksums)


def test_without_dest_it_installs_into_the_project_folder(tmp_path, monkeypatch, capsys):
    """Run from a folder inside the project (notebooks/, say): the data goes to the project's data/."""
    project = tmp_path / "proj4"
    (project / "proj4_code").mkdir(parents=True)
    (project / "setup.py").write_text("")
    (project / "notebooks").mkdir()
    checksums = make_source(tmp_path / "src")
    monkeypatch.chdir(project / "notebooks")
    monkeypatch.setattr(data_install, "read_checksums", lambda: checksums)
    assert cli.main(["data", "install", "--from", str(tmp_path / "src")]) == 0
    assert_installed(project / "data", checksums)
    assert not (project / "notebooks" / "data").exists()
    assert str(project / "data") in capsys.readouterr().out


def test_outside_a_project_folder_it_says_where_to_run(tmp_path, monkeypatch, capsys):
    """Neither the current folder nor the one proj4 is installed from is a project: no second copy anywhere."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data_install, "__file__", str(tmp_path / "site-packages" / "proj4_lib" / "data_install.py"))
    assert cli.main(["data", "install", "--from", str(tmp_path / "src")]) == 1
    err = capsys.readouterr().err
    assert "project folder" in err and "cd into it" in err and "--dest" in err
    assert not (tmp_path / "data").exists()
