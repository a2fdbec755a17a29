"""Gradescope's "Export Submissions": read it, and write one (the tests' fixture).

Layout (../shared/GRADESCOPE.md): `assignment_<id>_export/submission_metadata.yml` and one
`submission_<id>/` folder per submission with its files as submitted. Each YAML key
`submission_<id>` holds `:submitters:` (a list of `:name:`, `:sid:`, `:email:`; several for a
group), `:created_at:`, `:score:`, `:results:` (that grading's results.json) and `:history:`.
The keys keep Ruby's leading colon; both spellings are accepted. The export may be the zip
Gradescope gives or that zip unpacked; a zip's members are extracted one submission at a time,
checked as the autograder's intake checks names (no absolute paths, no '..', no links).
"""
from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional

import yaml

from proj4_instructor.autograder.root.intake import unsafe_member

METADATA = "submission_metadata.yml"


class ExportError(ValueError):
    """The export cannot be read; the message names the file or entry."""


@dataclass
class Submitter:
    name: str
    sid: str
    email: str


@dataclass
class Submission:
    id: str  # "submission_<id>"
    submitters: List[Submitter]
    created_at: str
    score: Optional[float]  # what Gradescope recorded
    results: dict = field(default_factory=dict)


def _get(mapping: dict, key: str, default=None):
    """mapping[":key"] or mapping["key"] (Ruby's symbol keys come out of YAML with their colon)."""
    if not isinstance(mapping, dict):
        return default
    return mapping.get(f":{key}", mapping.get(key, default))


def parse_metadata(text: str, where: str = METADATA) -> List[Submission]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ExportError(f"{where} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ExportError(f"{where}: expected a mapping of submission_<id> entries")
    submissions = []
    for key, entry in sorted(data.items(), key=lambda kv: str(kv[0])):
        if not str(key).startswith("submission_") or not isinstance(entry, dict):
            raise ExportError(f"{where}: entry {str(key)[:60]!r} is not a submission_<id> mapping")
        people = [Submitter(str(_get(p, "name", "") or ""), str(_get(p, "sid", "") or ""),
                            str(_get(p, "email", "") or "")) for p in (_get(entry, "submitters") or [])]
        score = _get(entry, "score")
        submissions.append(Submission(str(key), people, str(_get(entry, "created_at", "") or ""),
                                      float(score) if isinstance(score, (int, float)) else None,
                                      _get(entry, "results") or {}))
    return submissions


class Export:
    """An export, zipped or not: its submissions, and each one's files on demand."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.is_dir():
            found = sorted(self.path.rglob(METADATA), key=lambda p: len(p.parts))
            if not found:
                raise ExportError(f"{self.path} holds no {METADATA}: is it Gradescope's Export Submissions?")
            self.top, self.zip = found[0].parent, None
            text = found[0].read_text(encoding="utf-8")
        elif zipfile.is_zipfile(self.path):
            self.zip = zipfile.ZipFile(self.path)
            names = sorted((n for n in self.zip.namelist() if PurePosixPath(n).name == METADATA),
                           key=lambda n: n.count("/"))
            if not names:
                raise ExportError(f"{self.path} holds no {METADATA}: is it Gradescope's Export Submissions?")
            self.top = PurePosixPath(names[0]).parent
            text = self.zip.read(names[0]).decode("utf-8")
        else:
            raise ExportError(f"{self.path} is neither a folder nor a zip")
        self.submissions = parse_metadata(text, f"{self.path}:{METADATA}")

    def extract(self, submission: Submission, dest: Path) -> Path:
        """The submission's files in `dest` (a folder, emptied first)."""
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        if self.zip is None:
            folder = self.top / submission.id
            if folder.is_dir():
                shutil.copytree(folder, dest, symlinks=True, dirs_exist_ok=True)
            return dest
        prefix = f"{self.top}/{submission.id}/" if str(self.top) != "." else f"{submission.id}/"
        for info in self.zip.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            inside = info.filename[len(prefix):]
            if unsafe_member(inside) or stat.S_ISLNK(info.external_attr >> 16):
                continue  # the autograder would refuse it too; the export's own paths are Gradescope's
            target = dest / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            with self.zip.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
        return dest


def write_export(folder: Path, entries: Dict[str, dict], files: Dict[str, Path]) -> Path:
    """An export as Gradescope lays it out: entries {submission_<id>: metadata mapping with Ruby keys},
    files {submission_<id>: a folder of its files}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / METADATA).write_text(yaml.safe_dump(entries, sort_keys=True, allow_unicode=True), encoding="utf-8")
    for key, source in files.items():
        shutil.copytree(source, folder / key, dirs_exist_ok=True)
    return folder


def metadata_entry(submitters: List[Submitter], created_at: str, score: float, results: dict) -> dict:
    return {":submitters": [{":name": p.name, ":sid": p.sid, ":email": p.email} for p in submitters],
            ":created_at": created_at, ":score": score, ":results": results,
            ":history": [{":created_at": created_at, ":score": score}]}
