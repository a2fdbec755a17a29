"""`proj4 data install`: put the 15-Scene data into data/ safely.

Source (`--from`, else $PROJ4_DATA_SOURCE, else the course's proj4_lib.course.DATA_URL): where the
course's three files are, proj4_data.zip and the two attribute CSVs:
    a folder holding them                  /content/drive/MyDrive/proj4_files, ~/Downloads/proj4
    the path of proj4_data.zip             (the CSVs beside it)
    the http(s) URL of a web folder        https://example.edu/cs/proj4/data/ (each file name is
                                           appended to it: .../proj4_data.zip and so on)
    the http(s) URL of proj4_data.zip      https://example.edu/cs/proj4/data/proj4_data.zip (the CSVs
                                           are fetched from beside it)
A Google Drive, Dropbox or OneDrive share link cannot work: it names a web page, not the files, and
each file has its own link. Copy the three files into one folder instead (on Colab, a folder of
your Drive) and give its path.

Guarantees: every file is checked against the SHA-256 sums shipped in proj4_lib/SHA256SUMS
before anything is unpacked; the archive is unpacked into a staging folder inside data/ and
moved into place only when complete, so data/ never holds a half-unpacked tree; a second run
with the same files is a no-op. `keep_files` copies the three files into a folder once (the
notebook keeps them on Google Drive, so a new Colab runtime unpacks them without a download).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Dict, Optional

from proj4_lib import course

ARCHIVE = "proj4_data.zip"
CSV_FILES = ("scene_attributes_train.csv", "scene_attributes_test.csv")
SPLITS = ("train", "test")
MARKER = ".installed"  # written last; holds the archive's SHA-256
KEPT_MARKER = ".verified"  # keep_files: written once the three files are there and verified
SHARE_LINK_HOSTS = ("drive.google.com", "docs.google.com", "dropbox.com", "1drv.ms", "onedrive.live.com")
CHECKSUMS_FILE = Path(__file__).with_name("SHA256SUMS")


class DataInstallError(RuntimeError):
    """The data could not be installed; nothing in data/ was changed."""


def project_folder(start: Optional[Path] = None) -> Optional[Path]:
    """The project folder (the one with setup.py and proj4_code/): the current folder (or `start`) or one
    above it, else the one this proj4_lib is installed from (`pip install -e .`); None if neither is."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents, Path(__file__).resolve().parents[1]):
        if (folder / "setup.py").is_file() and (folder / "proj4_code").is_dir():
            return folder
    return None


def default_dest(start: Optional[Path] = None) -> Path:
    """Where `proj4 data install` puts the data without --dest: the project folder's data/. Outside any
    project folder, DataInstallError says where to run it (never a second copy wherever the command ran)."""
    project = project_folder(start)
    if project is None:
        raise DataInstallError(f"{Path(start or Path.cwd()).resolve()} is not in a proj4 project folder (the folder "
                               "with setup.py and proj4_code/): cd into it and run `proj4 data install` there, or "
                               "say where the data goes with --dest")
    return project / "data"


def read_checksums(path: Path = CHECKSUMS_FILE) -> Dict[str, str]:
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def default_source() -> Optional[str]:
    """$PROJ4_DATA_SOURCE, else the course's data URL (proj4_lib/course.py) if the course has set one."""
    return os.environ.get("PROJ4_DATA_SOURCE") or course.DATA_URL or None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https")


def _refuse_share_link(source: str) -> None:
    host = (urllib.parse.urlparse(source).hostname or "").lower()
    if any(host == name or host.endswith("." + name) for name in SHARE_LINK_HOSTS):
        raise DataInstallError(
            f"{source} is a share link: it names a web page, not the data files, and each file has its own "
            f"link, so it cannot work. Copy {ARCHIVE} and {', '.join(CSV_FILES)} into one folder (on Colab, a "
            "folder of your Google Drive) and give that folder's path, or use the course's plain web address")


def _fetch(source: str, name: str, staging: Path) -> Path:
    """Bring file `name` of the source (folder, archive path or URL) into staging/."""
    if _is_url(source):
        _refuse_share_link(source)
        base = source.rsplit("/", 1)[0] + "/" if source.endswith(".zip") else source.rstrip("/") + "/"
        url = urllib.parse.urljoin(base, name)
        target = staging / name
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
                shutil.copyfileobj(response, out, length=1 << 20)
        except OSError as err:
            raise DataInstallError(f"cannot download {url}: {err}") from err
        return target
    folder = Path(source).parent if source.endswith(".zip") else Path(source)
    path = folder / name
    if not path.is_file():
        raise DataInstallError(f"{path} does not exist (source {source!r} must hold {ARCHIVE} and "
                               f"{', '.join(CSV_FILES)})")
    return path


def _verify(path: Path, name: str, checksums: Dict[str, str]) -> None:
    expected = checksums.get(name)
    if expected is None:
        raise DataInstallError(f"no checksum for {name} in {CHECKSUMS_FILE}")
    actual = _sha256(path)
    if actual != expected:
        raise DataInstallError(f"{path}: SHA-256 {actual} does not match the expected {expected}; "
                               "the file is corrupt or not the course's data")


def _safe_extract(archive: Path, target: Path) -> None:
    """Unpack the archive's train/ and test/ trees, refusing paths that escape `target`."""
    root = target.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                destination = (target / member.filename).resolve()
                if not str(destination).startswith(str(root) + os.sep):
                    raise DataInstallError(f"{archive}: member {member.filename!r} points outside the data folder")
            zf.extractall(target)
    except zipfile.BadZipFile as err:
        raise DataInstallError(f"{archive} is not a valid zip archive: {err}") from err
    for split in SPLITS:
        if not (target / split).is_dir():
            raise DataInstallError(f"{archive} has no top-level {split}/ folder")


def is_installed(dest: Path, checksums: Dict[str, str]) -> bool:
    marker = dest / MARKER
    return (marker.is_file() and marker.read_text().strip() == checksums.get(ARCHIVE)
            and all((dest / s).is_dir() for s in SPLITS) and all((dest / c).is_file() for c in CSV_FILES))


def install_data(source: Optional[str] = None, dest: str = "data",
                 checksums: Optional[Dict[str, str]] = None) -> Path:
    """Install the dataset into `dest` (see the module docstring); returns dest."""
    dest = Path(dest)
    checksums = checksums or read_checksums()
    if is_installed(dest, checksums):
        print(f"Data already installed in {dest}; nothing to do.")
        return dest
    source = source or default_source()
    if source is None:
        raise DataInstallError("no data source: pass --from PATH_OR_URL (the folder or web address your course "
                               f"gives for {ARCHIVE} and the attribute CSVs) or set PROJ4_DATA_SOURCE")

    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=dest))  # same file system: renames are atomic
    try:
        files = {name: _fetch(source, name, staging) for name in (ARCHIVE, *CSV_FILES)}
        for name, path in files.items():
            _verify(path, name, checksums)
        unpacked = staging / "unpacked"
        _safe_extract(files[ARCHIVE], unpacked)
        for name in CSV_FILES:
            shutil.copyfile(files[name], unpacked / name)

        # Only now touch dest: drop what an earlier, incomplete install left, then move into place.
        (dest / MARKER).unlink(missing_ok=True)
        for name in (*SPLITS, *CSV_FILES):
            old = dest / name
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
            os.replace(unpacked / name, old)
        (dest / MARKER).write_text(checksums[ARCHIVE] + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    counts = {s: sum(1 for _ in (dest / s).rglob("*.jpg")) for s in SPLITS}
    print(f"Installed the 15-Scene data into {dest}: {counts['train']} train and {counts['test']} test images, "
          f"{len(CSV_FILES)} attribute CSVs.")
    return dest


def has_kept_files(folder: Path, checksums: Optional[Dict[str, str]] = None) -> bool:
    """Whether keep_files has put the three files, verified, into `folder`."""
    folder, checksums = Path(folder), checksums or read_checksums()
    marker = folder / KEPT_MARKER
    return (marker.is_file() and marker.read_text().strip() == checksums.get(ARCHIVE)
            and all((folder / name).is_file() for name in (ARCHIVE, *CSV_FILES)))


def keep_files(source: str, folder, checksums: Optional[Dict[str, str]] = None) -> Path:
    """Copy (or download) the three data files of `source` into `folder`, verified, once; returns folder.

    A later call finds them there and does nothing, whatever `source` says: the files are the course's
    (their checksums are fixed), so once they are kept no source is needed again.
    """
    folder, checksums = Path(folder), checksums or read_checksums()
    if has_kept_files(folder, checksums):
        print(f"The data files are already in {folder}; nothing to download.")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        for name in (ARCHIVE, *CSV_FILES):
            path = _fetch(source, name, staging)
            _verify(path, name, checksums)
            if path.parent != staging:  # a local source: copy it in
                shutil.copyfile(path, staging / name)
            os.replace(staging / name, folder / name)
        (folder / KEPT_MARKER).write_text(checksums[ARCHIVE] + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"Kept the data files in {folder} ({(folder / ARCHIVE).stat().st_size / 1e6:.0f} MB): no download next time.")
    return folder
