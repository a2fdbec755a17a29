"""Make the zip you submit to Gradescope, or a package of the project for Colab.

    python zip_submission.py --gt_username <your GT username>    writes <username>.zip
    python zip_submission.py --package-for-colab                 writes proj4_colab.zip

The submission holds an allow-list only: your package proj4_code/ (every .py file in it),
setup.py, the trained model of every part (model_output/trained_<Model>_final.pt; the parts are
listed in proj4_lib/parts.py), and README.md if there is one (the provided library proj4_lib/
comes from the autograder's own copy). Each model must load as the class it is named after, with
your code; the zip must stay under Gradescope's 100 MB. Nothing is half-written: the zip is built
under a temporary name and renamed only when it is complete and accepted.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import List, Optional

from proj4_lib import parts
from proj4_lib.parts import get_part

MAX_BYTES = 100 * 1000 * 1000  # Gradescope's upload limit, 100 MB
PACKAGE = "proj4_code"  # yours
LIBRARY, LIBRARY_DATA = "proj4_lib", ("SHA256SUMS",)  # provided; only the Colab package carries it
MODEL_DIR = "model_output"
USERNAME = re.compile(r"[A-Za-z0-9_.-]+")
COLAB_PACKAGE = "proj4_colab.zip"
# For Colab: what a student's project needs to run the notebook and the tests (no data, no .git).
COLAB_FILES = ("setup.py", "pytest.ini", "README.md", "environment.yml", "zip_submission.py", "notebooks/proj4.ipynb")


class SubmissionError(Exception):
    """The zip cannot be made; the message says why and what to do."""


def check_username(username: str) -> str:
    """The username if it is a plain file name made of letters, digits, '_', '.' and '-'."""
    if not USERNAME.fullmatch(username or "") or username.startswith("."):
        raise SubmissionError(f"invalid --gt_username {username!r}: use your GT username (letters, digits, "
                              "'_', '.', '-'; no path characters and not starting with '.'), e.g. gburdell3")
    return username


def model_file(class_name: str) -> str:
    return f"{MODEL_DIR}/{get_part(class_name).checkpoint}"


def _files_under(root: Path, folder: str, suffixes=(".py",), names=()) -> List[str]:
    """Files of root/folder with one of the suffixes (None: any) or names, skipping hidden files and
    folders and caches (such as .ipynb_checkpoints/ and __pycache__/)."""
    found = []
    for path in sorted((root / folder).rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts) or path.suffix == ".pyc":
            continue
        if path.is_file() and (suffixes is None or path.suffix in suffixes or path.name in names):
            found.append(relative.as_posix())
    return found


def check_model(root: Path, class_name: str) -> str:
    """model_output/trained_<class_name>_final.pt if it loads as `class_name`; else SubmissionError."""
    from proj4_code.dl_utils import load_trained_model

    name = model_file(class_name)
    part = get_part(class_name)
    how = f"train it in the notebook (Part {part.number}) or with `proj4 train {part.name}`"
    if not (root / name).is_file():
        raise SubmissionError(f"{name} is missing: {how}")
    try:
        load_trained_model(root / name, expected_class=class_name)
    except Exception as err:  # whatever stops the autograder from loading it stops the zip
        raise SubmissionError(f"{name} cannot be loaded as {class_name} ({type(err).__name__}: {err}); {how}") from err
    return name


def submission_files(root: Path) -> List[str]:
    """The allow-list, as paths relative to root; raises SubmissionError for anything missing or broken."""
    code = _files_under(root, PACKAGE)
    if f"{PACKAGE}/__init__.py" not in code:
        raise SubmissionError(f"{root / PACKAGE} is not the proj4_code package: run this in the project folder")
    if not (root / "setup.py").is_file():
        raise SubmissionError(f"{root / 'setup.py'} is missing: run this in the project folder")
    models, problems = [], []
    for part in parts.PARTS:
        try:
            models.append(check_model(root, part.class_name))
        except SubmissionError as err:
            problems.append(str(err))
    if problems:
        raise SubmissionError("\n  ".join(["the trained models are not ready:", *problems]))
    readme = ["README.md"] if (root / "README.md").is_file() else []
    return code + ["setup.py"] + readme + models


def write_zip(root: Path, names: List[str], destination: Path, max_bytes: Optional[int] = None) -> Path:
    """Zip root/<name> for each name into destination, atomically; refuse one over max_bytes."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in names:
                archive.write(root / name, arcname=name)
        size = os.path.getsize(tmp)
        if max_bytes is not None and size > max_bytes:
            biggest = max(names, key=lambda n: (root / n).stat().st_size)
            raise SubmissionError(f"the zip would be {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit "
                                  f"(largest file: {biggest}, {(root / biggest).stat().st_size / 1e6:.1f} MB)")
        os.replace(tmp, destination)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    for name in names:
        print(f"  {_size((root / name).stat().st_size):>9}  {name}")
    print(f"Wrote {destination} ({_size(destination.stat().st_size)}, {len(names)} files)")
    return destination


def build_zip(repo_root, username: str, out_dir=None) -> Path:
    """Check everything, then write <out_dir or repo_root>/<username>.zip. Returns its path."""
    root = Path(repo_root).resolve()
    username = check_username(username)
    names = submission_files(root)
    return write_zip(root, names, Path(out_dir or root) / f"{username}.zip", max_bytes=MAX_BYTES)


def build_colab_package(repo_root, out_dir=None) -> Path:
    """Write proj4_colab.zip: the project without data or git history, plus any trained models, for Colab."""
    root = Path(repo_root).resolve()
    names = [name for name in COLAB_FILES if (root / name).is_file()]
    names += _files_under(root, PACKAGE) + _files_under(root, LIBRARY, names=LIBRARY_DATA)
    names += _files_under(root, "proj4_unit_tests", suffixes=None)
    names += [model_file(p.class_name) for p in parts.PARTS if (root / model_file(p.class_name)).is_file()]
    if "setup.py" not in names or f"{PACKAGE}/__init__.py" not in names:
        raise SubmissionError(f"{root} is not the project folder (no setup.py or {PACKAGE}/__init__.py)")
    return write_zip(root, sorted(names), Path(out_dir or root) / COLAB_PACKAGE)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} KB"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python zip_submission.py", description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--gt_username", help="your GT username, e.g. gburdell3: writes <username>.zip")
    what.add_argument("--package-for-colab", action="store_true",
                      help=f"write {COLAB_PACKAGE}: your project without data, for the notebook's Colab set-up "
                           "cell (STARTER = \"\": upload it; see README.md, On Colab)")
    parser.add_argument("--repo-root", default=str(Path(__file__).resolve().parent),
                        help="the project folder (default: where this script is)")
    parser.add_argument("--out-dir", default=None, help="where the zip goes (default: the project folder)")
    args = parser.parse_args(argv)
    try:
        if args.package_for_colab:
            build_colab_package(args.repo_root, args.out_dir)
        else:
            build_zip(args.repo_root, args.gt_username, args.out_dir)
    except SubmissionError as err:
        print(f"zip_submission: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
