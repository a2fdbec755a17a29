"""Intake: which files of a submission are graded (standard library).

Rule: the submission (Gradescope unpacks an uploaded zip into it; a zip inside it is read too) is
looked at within fixed bounds before anything is copied: at most MAX_ENTRIES entries and MAX_DEPTH
folders deep (folders such as .git, .venv and data/ are skipped), every zip's entry count read from
its end record before it is opened, names checked (zip-slip, NUL, undecodable bytes). Then:
  - the code: every .py file of one `proj4_code/` folder (helper modules and subpackages
    included). When there are several, the one with the most checkpoints beside it wins (in its
    project folder or that folder's model_output/), then the shallowest; two different candidates
    still tied are refused, naming both. Loose student modules at the top (no proj4_code/ folder)
    count as a proj4_code/ at the top.
  - the checkpoints: each trained_<Class>_final.pt from the chosen project folder, else the
    shallowest copy anywhere.
Copies are written by root, mode 0644, so the sandbox can read but not change them; sizes are
limited per file and in total. Everything else is ignored and listed. Reason: the grade must come
from the files the student meant, and nothing in a hostile submission may exhaust the grader.
"""
from __future__ import annotations

import io
import itertools
import os
import re
import stat
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Dict, List, Optional, Tuple

from . import protocol

MAX_ENTRIES = protocol.value("intake_entries")  # files and folders looked at, loose and in zips together
MAX_DEPTH = protocol.value("intake_depth")
MAX_ZIPS = protocol.value("intake_zips")
MAX_CODE_FILES = protocol.value("intake_code_files")
SKIPPED_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "env", "__pycache__", "node_modules", "site-packages",
                ".ipynb_checkpoints", "__MACOSX", "data", ".mypy_cache", ".pytest_cache"}


class Refused(Exception):
    """The submission as a whole cannot be graded; the message says why, for the student."""


@dataclass
class File:
    """One file of the submission, loose or in a zip."""

    label: str  # how the student sees it: "proj4/proj4_code/simple_net.py" or "sub.zip:proj4/..."
    parts: Tuple[str, ...]  # its path in the submission's tree, split
    size: int
    open: Callable[[], IO[bytes]]


@dataclass
class Intake:
    """What was taken from the submission, and what was not."""

    accepted: Dict[str, str] = field(default_factory=dict)  # target name -> where it came from
    refused: List[str] = field(default_factory=list)  # "path: reason"
    ignored: List[str] = field(default_factory=list)
    code_folder: str = ""  # the proj4_code/ graded, as the student sees it
    notes: List[str] = field(default_factory=list)


_DRIVE = re.compile(r"^[A-Za-z]:")


def clean_name(name: str, limit: int = 200) -> str:
    """A name safe to print: valid UTF-8, no control characters, clipped."""
    text = name.encode("utf-8", "replace").decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def unsafe_member(name: str) -> str:
    """Why a path from a submission must not be used ("" if it is fine)."""
    if "\x00" in name:
        return "NUL in the name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        return "absolute path (zip-slip)"
    if ".." in PurePosixPath(posix).parts:
        return "'..' in the path (zip-slip)"
    if len(PurePosixPath(posix).parts) > MAX_DEPTH:
        return f"more than {MAX_DEPTH} folders deep"
    return ""


MAX_CENTRAL_DIRECTORY = protocol.value("zip_directory_bytes")  # ~50,000 entries of names ten times zip_submission's


def _zip64_locator(tail: bytes, at: int) -> int:
    """Where the ZIP64 end-of-central-directory locator is in `tail`, -1 if the archive has none: it sits
    right before the end record at `at` (APPNOTE 4.3.15). A signature found anywhere else belongs to a
    member's bytes: a checkpoint is itself a ZIP64 archive."""
    return at - 20 if at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07" else -1


def zip_entry_count(path: Path) -> int:
    """How many entries a zip holds, read before opening it (zipfile would build an object per entry
    first): the larger of the count its end record declares and the number of entry headers in its
    central directory (zipfile reads the directory by its size and ignores the count, so a zip that
    declares 1 entry may hold 300,000). ValueError if there is no end record."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65_557))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise ValueError("no end-of-central-directory record")
        entries, cd_size = struct.unpack("<HI", tail[at + 10:at + 16])
        end = size - len(tail) + at  # where the end record starts
        locator = _zip64_locator(tail, at)
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF or locator >= 0:  # ZIP64: counts in their own record
            record = tail.rfind(b"PK\x06\x06", 0, locator if locator >= 0 else at)
            if record < 0 or len(tail) - record < 56:
                raise ValueError("a ZIP64 archive without its end record")
            entries, cd_size = struct.unpack("<QQ", tail[record + 32:record + 48])
            end = size - len(tail) + record
        if cd_size > MAX_CENTRAL_DIRECTORY:
            return max(entries, cd_size // 46)  # each entry's header is at least 46 bytes
        f.seek(max(0, end - cd_size))
        directory = f.read(cd_size)
    return max(entries, directory.count(b"PK\x01\x02"))


class _Budget:
    def __init__(self):
        self.entries = 0

    def take(self, n: int = 1) -> None:
        self.entries += n
        if self.entries > MAX_ENTRIES:
            raise Refused(f"the submission holds more than {MAX_ENTRIES:,} files and folders; zip only "
                          "proj4_code/ and model_output/ (python zip_submission.py does)")


def collect(submission: Path, intake: Intake) -> List[File]:
    """Every file of the submission folder and of the zips in it, within the bounds."""
    budget, files, zips = _Budget(), [], []
    stack = [(submission, ())]
    while stack:  # iterative: no recursion limit, whatever the depth
        folder, parts = stack.pop()
        try:
            with os.scandir(folder) as scan:  # never more than the budget in memory, however big the folder
                entries = list(itertools.islice(scan, MAX_ENTRIES - budget.entries + 1))
        except OSError as err:
            intake.refused.append(f"{clean_name('/'.join(parts))}: cannot be read ({type(err).__name__})")
            continue
        budget.take(len(entries))
        entries.sort(key=lambda e: e.name)
        for entry in entries:
            here = parts + (entry.name,)
            label = clean_name("/".join(here))
            if entry.is_symlink():
                intake.refused.append(f"{label}: symbolic link")
            elif entry.is_dir(follow_symlinks=False):
                if entry.name in SKIPPED_DIRS:
                    intake.ignored.append(f"{label}/ (skipped)")
                elif len(here) >= MAX_DEPTH:
                    intake.refused.append(f"{label}: more than {MAX_DEPTH} folders deep")
                else:
                    stack.append((Path(entry.path), here))
            elif entry.is_file(follow_symlinks=False):
                if entry.name.lower().endswith(".zip"):
                    zips.append((Path(entry.path), label))
                else:
                    files.append(File(label, here, entry.stat(follow_symlinks=False).st_size,
                                      lambda p=entry.path: _open_no_follow(p)))
    for path, label in zips[:MAX_ZIPS]:
        files += zip_members(path, label, budget, intake)
    for _, label in zips[MAX_ZIPS:]:
        intake.refused.append(f"{label}: more than {MAX_ZIPS} zips in the submission")
    return files


def zip_members(path: Path, label: str, budget: _Budget, intake: Intake) -> List[File]:
    try:
        budget.take(zip_entry_count(path))
        zf, unnamed = open_zip(path)
        with zf:
            infos = zf.infolist()
        budget.take(max(0, len(infos) - zip_entry_count(path)))  # what the count above missed, if anything
    except Refused:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged, hostile or undecodable zip is refused, not a crash
        intake.refused.append(f"{label}: not a readable zip ({type(err).__name__}); zip it again with "
                              "zip_submission.py")
        return []
    members = []
    last = {info.filename: info for info in infos}  # a name written twice: the last one, as unzip keeps
    for index, info in enumerate(infos):
        if last[info.filename] is not info:
            continue
        name = f"{label}:{clean_name(info.filename)}"
        if index in unnamed:
            intake.refused.append(f"{name}: its name is marked UTF-8 but is not (skipped)")
            continue
        if info.is_dir():
            continue
        problem = unsafe_member(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            intake.refused.append(f"{name}: symbolic link")
        elif problem:
            intake.refused.append(f"{name}: {problem}")
        else:
            parts = tuple(p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("", "."))
            if any(p in SKIPPED_DIRS for p in parts[:-1]):
                continue
            members.append(File(name, parts, info.file_size, lambda i=info: _ZipMember(path, i)))
    return members


UTF8_FLAG = 0x800


def open_zip(path: Path) -> Tuple[zipfile.ZipFile, set]:
    """The zip, readable even where some names carry the UTF-8 flag but are not UTF-8 (zipfile would
    refuse the whole archive): those entries' flags are cleared in a view of the central directory,
    so zipfile reads their names as cp437. Returns (the ZipFile, the indices of those entries)."""
    start, directory = _central_directory(path)
    patched, unnamed, at, index = bytearray(directory), set(), 0, 0
    while at + 46 <= len(directory) and directory[at:at + 4] == b"PK\x01\x02":
        flags, = struct.unpack("<H", directory[at + 8:at + 10])
        name_len, extra_len, comment_len = struct.unpack("<HHH", directory[at + 28:at + 34])
        if flags & UTF8_FLAG:
            try:
                directory[at + 46:at + 46 + name_len].decode("utf-8")
            except UnicodeDecodeError:
                patched[at + 8:at + 10] = struct.pack("<H", flags & ~UTF8_FLAG)
                unnamed.add(index)
        at += 46 + name_len + extra_len + comment_len
        index += 1
    if not unnamed:
        return zipfile.ZipFile(path), unnamed
    return zipfile.ZipFile(io.BufferedReader(_Overlay(path, start, bytes(patched)))), unnamed


def _central_directory(path: Path) -> Tuple[int, bytes]:
    """(where the central directory starts in the file, its bytes), found from the end record."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65_557))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise ValueError("no end-of-central-directory record")
        cd_size, = struct.unpack("<I", tail[at + 12:at + 16])
        end = size - len(tail) + at
        locator = _zip64_locator(tail, at)
        record = tail.rfind(b"PK\x06\x06", 0, locator) if locator >= 0 else -1
        if cd_size == 0xFFFFFFFF or record >= 0:
            if record < 0 or len(tail) - record < 56:
                raise ValueError("a ZIP64 archive without its end record")
            cd_size, = struct.unpack("<Q", tail[record + 40:record + 48])
            end = size - len(tail) + record
        if cd_size > MAX_CENTRAL_DIRECTORY:
            raise ValueError("a central directory larger than any submission needs")
        start = max(0, end - cd_size)
        f.seek(start)
        return start, f.read(cd_size)


class _Overlay(io.RawIOBase):
    """A file read through a window: the bytes at [start, start + len(patch)) come from `patch`."""

    def __init__(self, path: Path, start: int, patch: bytes):
        self.file, self.start, self.patch, self.pos = open(path, "rb"), start, patch, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self.pos = self.file.seek(offset, whence)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer) -> int:
        self.file.seek(self.pos)
        data = bytearray(self.file.read(len(buffer)))
        low, high = max(self.pos, self.start), min(self.pos + len(data), self.start + len(self.patch))
        if low < high:
            data[low - self.pos:high - self.pos] = self.patch[low - self.start:high - self.start]
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)

    def close(self) -> None:
        self.file.close()
        super().close()


_OPEN_ZIPS: Dict[Path, zipfile.ZipFile] = {}  # one ZipFile per zip while its members are copied


# -- choosing what to grade -------------------------------------------------------------------------

def choose_code(files: List[File], config: dict, intake: Intake) -> Tuple[Optional[Tuple[str, ...]], List[File]]:
    """(the chosen code folder's path parts, its .py files); Refused when two candidates tie."""
    roots: Dict[Tuple[str, ...], List[File]] = {}
    for f in files:
        if f.parts[-1].endswith(".py") and "proj4_code" in f.parts[:-1]:
            at = len(f.parts) - 2 - f.parts[-2::-1].index("proj4_code")  # the innermost proj4_code/ above it
            roots.setdefault(f.parts[:at + 1], []).append(f)
    loose = [f for f in files if len(f.parts) == 1 and f.parts[0] in config["student_files"]]
    if loose:
        roots.setdefault((), []).extend(loose)
    if not roots:
        return None, []
    checkpoints = set(config["checkpoints"])
    by_folder: Dict[Tuple[str, ...], set] = {}  # folder -> the checkpoint names in it (one pass: no n^2)
    for f in files:
        if f.parts[-1] in checkpoints:
            by_folder.setdefault(f.parts[:-1], set()).add(f.parts[-1])

    def beside(root):
        project = root[:-1] if root else ()
        return len(by_folder.get(project, set()) | by_folder.get(project + ("model_output",), set()))

    near = {root: beside(root) for root in roots}
    ranked = sorted(roots, key=lambda r: (-near[r], len(r), r))
    best = ranked[0]
    for other in ranked[1:]:
        if (near[other], len(other)) != (near[best], len(best)):
            break
        if _content(roots[other]) != _content(roots[best]):
            raise Refused(f"the submission holds two different proj4_code/ folders, {_show(best)} and {_show(other)}, "
                          "equally placed: keep one (zip_submission.py zips the right one)")
    for other in ranked[1:]:
        intake.ignored.append(f"{_show(other)} (another proj4_code/: {_show(best)} is graded)")
    return best, roots[best]


def _show(root: Tuple[str, ...]) -> str:
    return clean_name("/".join(root) + "/") if root else "the top of the submission"


def _content(files: List[File]) -> Dict[Tuple[str, ...], int]:
    return {f.parts[-1:]: f.size for f in files}


def choose_checkpoints(files: List[File], root: Optional[Tuple[str, ...]], config: dict) -> Dict[str, File]:
    project = (root[:-1] if root else ()) if root is not None else ()
    chosen = {}
    for name in config["checkpoints"]:
        copies = [f for f in files if f.parts[-1] == name]
        near = [f for f in copies if f.parts[:-1] in (project + ("model_output",), project)]
        ordered = sorted(near or copies, key=lambda f: (len(f.parts), f.label))
        if ordered:
            chosen[name] = ordered[0]
    return chosen


def take_submission(submission: Path, work: Path, config: dict) -> Intake:
    """Copy the graded files of `submission` into `work` (proj4_code/..., model_output/...)."""
    intake = Intake()
    files = collect(submission, intake)
    root, code = choose_code(files, config, intake)
    checkpoints = choose_checkpoints(files, root, config)
    if root is not None:
        intake.code_folder = _show(root)
    if len(code) > MAX_CODE_FILES:
        raise Refused(f"{_show(root)} holds {len(code)} .py files, more than {MAX_CODE_FILES}")
    picked = {id(f) for f in code} | {id(f) for f in checkpoints.values()}
    targets: List[Tuple[str, File, int]] = []
    for f in code:
        inside = f.parts[len(root):] if root else f.parts
        if any(part.startswith(".") or part == "__pycache__" for part in inside):
            continue
        targets.append(("proj4_code/" + "/".join(inside), f, config["max_source_bytes"]))
    for name, f in checkpoints.items():
        targets.append((f"model_output/{name}", f, config["max_checkpoint_bytes"]))
    total = 0
    for target, f, limit in sorted(targets, key=lambda t: t[0]):
        if f.size > limit:
            intake.refused.append(f"{f.label}: {f.size:,} bytes, more than the {limit:,} allowed")
            continue
        total += f.size
        if total > config["max_submission_bytes"]:
            intake.refused.append(f"{f.label}: the graded files pass {config['max_submission_bytes']:,} bytes")
            continue
        dest = work / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with f.open() as src:
                if not _copy_limited(src, dest, limit):
                    intake.refused.append(f"{f.label}: more than the {limit:,} bytes allowed")
                    continue
        except Exception as err:  # noqa: BLE001 - a damaged or encrypted member, a file that became a link
            intake.refused.append(f"{f.label}: cannot be read ({type(err).__name__})")
            continue
        os.chmod(dest, 0o644)  # readable by the sandbox user, whatever mode the student's file had
        intake.accepted[target] = f.label
    for f in files:
        if id(f) not in picked:
            intake.ignored.append(f.label)
    for zf in _OPEN_ZIPS.values():
        zf.close()
    _OPEN_ZIPS.clear()
    return intake


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


def _open_no_follow(path: str) -> IO[bytes]:
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


class _ZipMember:
    """Context manager: one member of a zip, opened for reading (the zip is opened once)."""

    def __init__(self, zip_path: Path, info: zipfile.ZipInfo):
        self.zip_path, self.info = zip_path, info

    def __enter__(self):
        if self.zip_path not in _OPEN_ZIPS:
            _OPEN_ZIPS[self.zip_path] = open_zip(self.zip_path)[0]
        self.file = _OPEN_ZIPS[self.zip_path].open(self.info)
        return self.file

    def __exit__(self, *exc):
        self.file.close()
