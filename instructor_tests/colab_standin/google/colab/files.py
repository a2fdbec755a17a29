"""files.upload and files.download.

upload: the real one shows a button and returns {file name: bytes} of what the student chose (and
saves it in the current folder); here the "chosen" files are those the test put into
$PROJ4_COLAB_ROOT/to_upload/. download: the real one sends the file to the browser; here it is recorded.
"""
import os
from pathlib import Path

from google.colab import record


def upload() -> dict:
    chosen = sorted((Path(os.environ["PROJ4_COLAB_ROOT"]) / "to_upload").iterdir())
    record("files.upload", names=[p.name for p in chosen])
    for path in chosen:
        Path(path.name).write_bytes(path.read_bytes())
    return {path.name: path.read_bytes() for path in chosen}


def download(filename: str) -> None:
    path = Path(filename).resolve()
    record("files.download", path=str(path), exists=path.is_file())
