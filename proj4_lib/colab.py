"""The notebook's set-up on Colab (provided): your project lives on your Google Drive.

The first code cell of notebooks/proj4.ipynb mounts Drive at /content/drive, gets the starter into
your project's folder in My Drive once (get_starter, below: the cell carries a copy of it, since the
project is not there yet the first time), then calls start_session, which
  1. installs the project from that folder in editable mode, `pip install -e PROJECT[offline,dev]`
     (Colab's own torch is kept: setup.py asks for torch>=2.1, which it satisfies);
  2. keeps the course's three data files in PROJECT/data_files on Drive (downloaded once, checksums
     verified) and unpacks them on the runtime's own disk, /content/data, in a few seconds:
     4,485 small image files on Drive would be slow to read in every session. $PROJ4_DATA_DIR points
     the notebook and `pytest proj4_unit_tests` there;
  3. makes PROJECT/notebooks the working folder.

What survives a runtime reset: everything in PROJECT (your edits of proj4_code/, model_output/ with
the trained models, the training checkpoints and plots, the submission zip). What does not: the rest
of /content (the unpacked data), the installed packages and torch's cache of the ImageNet weights;
running the set-up cell again re-makes them without downloading the data again.

Nothing here imports your code, so the set-up works whatever state proj4_code/ is in. PROJ4_COLAB_ROOT
(default "/") moves /content under another folder: only the course's simulated Colab test sets it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

from proj4_lib import course
from proj4_lib.data_install import DataInstallError, has_kept_files, install_data, keep_files

DATA_FILES = "data_files"  # PROJECT/data_files: the course's data files, kept on Drive
EXTRAS = "offline,dev"  # the offline backbone, and pytest for the unit tests (as on a laptop)


# -- the first time: the starter into PROJECT (the set-up cell carries a copy of these two functions) ------------
def get_starter(source: str, project: Path, content: Path) -> None:
    """Put the starter into `project` (a folder of your Drive that holds no project yet).

    source: a git URL (cloned: ends in .git, or any http(s) address but a .zip), the http(s) address or the
    Drive path of a zip, or "" for an upload button. A zip may hold the project at its top or in one
    folder (as zipping the project's folder makes it); a laptop's data/ and .venv/ are left out.
    """
    if project.exists() and any(project.iterdir()):
        raise RuntimeError(f"{project} exists but holds no project (no setup.py): empty it, or set another folder")
    partial = project.with_name(f".{project.name}.partial")  # renamed to `project` only when complete
    shutil.rmtree(partial, ignore_errors=True)
    if source.endswith(".git") or (source.startswith(("http://", "https://", "git@")) and not source.endswith(".zip")):
        subprocess.run(["git", "clone", "--depth", "1", source, str(partial)], check=True)
    else:
        if source.startswith(("http://", "https://")):
            archive = content / "starter.zip"
            urllib.request.urlretrieve(source, archive)
        elif source:
            archive = Path(source)
        else:
            from google.colab import files

            name, payload = next(iter(files.upload().items()))  # choose the starter's zip
            archive = content / name
            archive.write_bytes(payload)
        scratch = content / "starter"
        shutil.rmtree(scratch, ignore_errors=True)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(scratch)
        roots = [p.parent for p in (*scratch.glob("setup.py"), *scratch.glob("*/setup.py"))
                 if (p.parent / "proj4_code").is_dir() and "__MACOSX" not in p.parts]
        if len(roots) != 1:
            raise RuntimeError(f"{source or archive.name} holds {len(roots)} projects (setup.py beside proj4_code/, "
                               "at the zip's top or in one folder): expected one")

        def left_behind(folder, names):  # a laptop's data, environments and caches stay out of Drive
            return [n for n in names if n in (".venv", "__pycache__", ".ipynb_checkpoints")
                    or (n == "data" and Path(folder) == roots[0])]

        shutil.copytree(roots[0], partial, ignore=left_behind)
    if project.exists():
        project.rmdir()  # empty (checked above)
    partial.rename(project)
    print(f"The starter is in {project}: your project's folder on Google Drive from now on.")


# -- every session ----------------------------------------------------------------------------------------------
def start_session(project, data: str = "", content="/content") -> Path:
    """Install the project, put the data on the runtime's disk, work in PROJECT/notebooks; returns the data folder.

    data: where the course's data files are (see proj4_lib/data_install.py), needed only until they are
    kept in PROJECT/data_files. Raises RuntimeError saying which setting to change.
    """
    start = time.perf_counter()
    project, content = Path(project), Path(content)
    install_project(project)
    data_dir = install_session_data(project, data, content / "data")
    os.environ["PROJ4_DATA_DIR"] = str(data_dir)  # the notebook's DATA_DIR, and the unit tests' data
    os.chdir(project / "notebooks")
    print(f"Ready in {time.perf_counter() - start:.0f} s. Your project is {project} on Google Drive: edits, "
          f"trained models and checkpoints there survive a runtime reset. The data is in {data_dir} (this "
          "runtime only; the set-up cell re-makes it).")
    return data_dir


def install_project(project: Path) -> None:
    """pip install -e PROJECT[offline,dev]; the packages Colab has already (torch among them) are kept."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-build-isolation", "-e", f"{project}[{EXTRAS}]"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"installing {project} failed ({' '.join(command)}):\n{done.stdout}{done.stderr}")


def install_session_data(project: Path, data: str, dest: Path) -> Path:
    """The course's data files kept in PROJECT/data_files (from `data` the first time), unpacked into dest."""
    kept = project / DATA_FILES
    source = data or course.DATA_URL
    if not source and not has_kept_files(kept):
        raise RuntimeError("the data is not in your project yet: set DATA in the set-up cell to the course's data "
                           "address (or the Drive folder you copied its three files into), then run the cell again")
    try:
        keep_files(source, kept)  # nothing to do once they are there
        return install_data(str(kept), str(dest))
    except DataInstallError as err:
        raise RuntimeError(f"the data could not be installed (check DATA in the set-up cell): {err}") from None
