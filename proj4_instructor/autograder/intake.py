"""Intake: which files of a submission are graded (standard library).

Rule: only allow-listed names are taken: every proj4_code/*.py of the reference at build time
(config "student_files") and the four checkpoints, from loose files or from zips, the shallowest
copy winning. Zip-slip paths, symlinks and oversized files are refused and reported; everything
else is ignored and listed. Copies are written by root, mode 0644, so the sandbox can read but not
change them. Reason: the submission decides nothing about what runs besides its own modules.
"""
from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Dict, List, Optional, Tuple


@dataclass
class Intake:
    """What was taken from the submission, and what was not."""

    accepted: Dict[str, str] = field(default_factory=dict)  # target name -> where it came from
    refused: List[str] = field(default_factory=list)  # "path: reason"
    ignored: List[str] = field(default_factory=list)


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_member(name: str) -> str:
    """Why a path from a submission must not be used ("" if it is fine)."""
    if "\x00" in name:
        return "NUL in the name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        return "absolute path (zip-slip)"
    if ".." in PurePosixPath(posix).parts:
        return "'..' in the path (zip-slip)"
    return ""


def target_of(name: str, config: dict) -> Optional[str]:
    """Where an allow-listed file goes in the work folder, or None if it is not allow-listed."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if not parts or "__MACOSX" in parts:
        return None
    base = parts[-1]
    if base in config["checkpoints"]:
        return f"model_output/{base}"
    if base in config["student_files"] and (len(parts) == 1 or parts[-2] == "proj4_code"):
        return f"proj4_code/{base}"
    return None


def _copy_limited(src: IO[bytes], dst: Path, limit: int) -> bool:
    """Copy at most `limit` bytes; False (and nothing written) if the source is longer."""
    tmp = dst.with_name(dst.name + ".part")
    total = 0
    with open(tmp, "wb") as out:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                out.close()
                tmp.unlink()
                return False
            out.write(chunk)
    os.replace(tmp, dst)
    return True


def take_submission(submission: Path, work: Path, config: dict) -> Intake:
    """Copy the allow-listed files of the submission (loose files and the members of any zip)."""
    intake = Intake()
    candidates: List[Tuple[str, int, Callable[[], IO[bytes]]]] = []  # (path, size, opener)

    def consider_zip(zip_path: Path, label: str) -> None:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                for info in zf.infolist():
                    name = f"{label}:{info.filename}"
                    if info.is_dir():
                        continue
                    if stat.S_ISLNK(info.external_attr >> 16):
                        intake.refused.append(f"{name}: symbolic link")
                    elif unsafe_member(info.filename):
                        intake.refused.append(f"{name}: {unsafe_member(info.filename)}")
                    else:
                        candidates.append((info.filename, info.file_size,
                                           lambda zp=zip_path, i=info.filename: _open_zip_member(zp, i)))
        except (zipfile.BadZipFile, OSError) as err:
            intake.refused.append(f"{label}: not a readable zip ({err})")

    for folder, dirs, files in os.walk(submission, followlinks=False):
        for name in sorted(dirs):  # os.walk does not enter symlinked folders; say so
            if (Path(folder) / name).is_symlink():
                intake.refused.append(f"{(Path(folder) / name).relative_to(submission).as_posix()}: symbolic link")
        for name in sorted(files):
            path = Path(folder) / name
            rel = path.relative_to(submission).as_posix()
            if path.is_symlink():
                intake.refused.append(f"{rel}: symbolic link")
            elif path.suffix.lower() == ".zip":
                consider_zip(path, rel)
            else:
                candidates.append((rel, path.lstat().st_size, lambda p=path: _open_no_follow(p)))

    # The shallowest copy of a file wins (a zip of the project folder nests everything one deeper).
    chosen: Dict[str, Tuple[str, int, Callable]] = {}
    for candidate in sorted(candidates, key=lambda c: (c[0].count("/"), c[0])):
        target = target_of(candidate[0], config)
        if target is None:
            intake.ignored.append(candidate[0])
        elif target in chosen:
            intake.ignored.append(f"{candidate[0]} (duplicate of {chosen[target][0]})")
        else:
            chosen[target] = candidate
    for target, (name, size, opener) in sorted(chosen.items()):
        limit = config["max_checkpoint_bytes"] if target.endswith(".pt") else config["max_source_bytes"]
        dest = work / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        if size > limit:
            intake.refused.append(f"{name}: {size:,} bytes, more than the {limit:,} allowed")
            continue
        try:
            with opener() as src:
                if not _copy_limited(src, dest, limit):
                    intake.refused.append(f"{name}: more than the {limit:,} bytes allowed")
                    continue
        except Exception as err:  # a damaged or encrypted zip member, a file that became a symlink
            intake.refused.append(f"{name}: cannot be read ({type(err).__name__}: {err})")
            continue
        os.chmod(dest, 0o644)  # readable by the sandbox user, whatever mode the student's file had
        intake.accepted[target] = name
    return intake


def _open_no_follow(path: Path) -> IO[bytes]:
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


class _open_zip_member:
    """Context manager: one member of a zip, opened for reading."""

    def __init__(self, zip_path: Path, member: str):
        self.zip_path, self.member = zip_path, member

    def __enter__(self):
        self.zf = zipfile.ZipFile(self.zip_path)
        self.file = self.zf.open(self.member)
        return self.file

    def __exit__(self, *exc):
        self.file.close()
        self.zf.close()
