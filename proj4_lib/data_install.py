"""`proj4 data install`: put the 15-Scene data into data/ safely.

Source (`--from`): a folder holding proj4_data.zip and the two attribute CSVs (such as the
course's shared data folder), a path to proj4_data.zip (CSVs beside it), or an http(s) URL of
either (a TA can host the three files in one web folder).

Guarantees: every file is checked against the SHA-256 sums shipped in proj4_lib/SHA256SUMS
before anything is unpacked; the archive is unpacked into a staging folder inside data/ and
moved into place only when complete, so data/ never holds a half-unpacked tree; a second run
with the same files is a no-op.
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

ARCHIVE = "proj4_data.zip"
CSV_FILES = ("scene_attributes_train.csv", "scene_attributes_test.csv")
SPLITS = ("train", "test")
MARKER = ".installed"  # written last; holds the archive's SHA-256
CHECKSUMS_FILE = Path(__file__).with_name("SHA256SUMS")


class DataInstallError(RuntimeError):
    """The data could not be installed; nothing in data/ was changed."""


def read_checksums(path: Path = CHECKSUMS_FILE) -> Dict[str, str]:
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def default_source() -> Optional[str]:
    """$PROJ4_DATA_SOURCE, else ../shared/data beside the project checkout if it exists."""
    if os.environ.get("PROJ4_DATA_SOURCE"):
        return os.environ["PROJ4_DATA_SOURCE"]
    candidate = Path(__file__).resolve().parents[2] / "shared" / "data"
    return str(candidate) if (candidate / ARCHIVE).is_file() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https")


def _fetch(source: str, name: str, staging: Path) -> Path:
    """Bring file `name` of the source (folder, archive path or URL) into staging/."""
    if _is_url(source):
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
        raise DataInstallError("no data source: pass --from PATH_OR_URL (a folder or URL holding "
                               f"{ARCHIVE} and the attribute CSVs) or set PROJ4_DATA_SOURCE")

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
