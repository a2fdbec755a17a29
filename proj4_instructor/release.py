"""`proj4-instructor release`: the student starter and the Gradescope autograder, from the one source.

    proj4-instructor release student --out DIR                 the starter: solution blocks -> stubs
    proj4-instructor release autograder --out autograder.zip   setup.sh + run_autograder at the zip root

The student release copies the student-facing files (STUDENT_FILES), replaces every solution block
of every .py file with its stub (proj4_instructor.markers), clears notebook outputs, drops the
instructor package from setup.py and pytest.ini, then checks the result: every file compiles, no
marker is left and no line of a solution block appears in the starter unless the same line is also
provided code outside the blocks.

The autograder zip is built by proj4_instructor/autograder_build.py (its docstring has the layout).
Beside it the release writes the written report's Gradescope outline for the TA, report_outline.md
(question -> page -> points, from proj4_lib/rubric.py), and report_template.pdf, a report with nothing
filled in (the same pages as every student's `proj4 report`), for an assignment that takes a template.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Set, Tuple

from proj4_instructor import markers, pins
from proj4_instructor.autograder_build import (  # noqa: F401 (re-exported)
    BuildError,
    build_autograder,
    build_autograder_source,
    retarget,
    trusted_parts,
)
from proj4_lib import (
    parts,  # one source: names, checkpoints, thresholds and kinds of the parts
    report,
    rubric,
)
from proj4_tools.cli import DefaultsHelp

REPO_ROOT = Path(__file__).resolve().parents[1]
STUDENT_README = Path(__file__).resolve().parent / "student_README.md"

# (path in the repository, required): what students get besides the README.
STUDENT_FILES = (
    ("proj4_code", True),
    ("proj4_lib", True),
    ("proj4_tools", True),
    ("proj4_unit_tests", False),
    ("notebooks/proj4.ipynb", False),
    ("setup.py", False),
    ("environment.yml", False),
    ("pytest.ini", False),
    ("report_template.pptx", False),
    ("zip_submission.py", False),
    ("data/README.md", False),
    (".gitignore", False),
)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache", "*.pt", "*.pth",
                                 "model_output*")

CHECKPOINTS = tuple(part.checkpoint for part in parts.PARTS)


class ReleaseError(RuntimeError):
    """The release cannot be made; the message names the file or value at fault."""


# -- the student starter ----------------------------------------------------------------------

def strip_notebook(src: Path, dst: Path) -> None:
    """Copy a notebook without outputs (they would show the solution's results), stripping any markers."""
    notebook = json.loads(src.read_text(encoding="utf-8"))
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], list) else cell["source"].splitlines(keepends=True)
        if markers.has_markers("".join(source)):
            cell["source"] = markers.strip_solution(source, f"{src} (cell {number})")
        cell["outputs"], cell["execution_count"] = [], None
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def student_setup_py(text: str) -> str:
    """setup.py without the instructor package (absent from the starter)."""
    text = re.sub(r',\s*"proj4_instructor(?:\.[\w.]+)?":\s*\[[^\]]*\]', "", text)  # package_data entry
    text = re.sub(r',\s*"proj4_instructor(?:\.\*)?"', "", text)  # find_packages include patterns
    text = re.sub(r',\s*"proj4-instructor=proj4_instructor\.cli:main"', "", text)  # console script
    if "proj4_instructor" in text:
        raise ReleaseError("setup.py: could not remove every mention of proj4_instructor; update "
                           "proj4_instructor.release.student_setup_py to the new setup.py")
    return text


def student_pytest_ini(text: str) -> str:
    """pytest.ini with testpaths limited to the public tests."""
    return re.sub(r"^(testpaths\s*=.*?)\s+instructor_tests\b", r"\1", text, flags=re.MULTILINE)


def copy_stripped(src: Path, dst: Path) -> None:
    """Copy a file or folder, replacing solution blocks in .py files and outputs in notebooks."""
    if src.is_dir():
        shutil.copytree(src, dst, ignore=IGNORED)
        files = [p for p in dst.rglob("*") if p.is_file()]
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        files = [dst]
    for file in files:
        origin = src / file.relative_to(dst) if src.is_dir() else src
        if file.suffix == ".py":
            markers.strip_file(origin, file)
        elif file.suffix == ".ipynb":
            strip_notebook(origin, file)


def solution_lines_in(solution: Path, starter: Path) -> List[Tuple[int, str]]:
    """Lines of solution blocks in `solution` found in `starter` that are not also provided code."""
    lines = solution.read_text(encoding="utf-8").splitlines()
    blocks = markers.parse_blocks(lines, str(solution))
    inside: Set[int] = set()
    for block in blocks:
        inside.update(range(block.begin_line - len(block.hints), block.end_line + 1))
    provided = {line.strip() for n, line in enumerate(lines, start=1) if n not in inside}
    starter_lines = {line.strip() for line in starter.read_text(encoding="utf-8").splitlines()}
    return [(block.begin_line, line.strip()) for block in blocks for line in block.lines
            if line.strip() and line.strip() not in provided and line.strip() in starter_lines]


def check_starter(out: Path, repo: Path) -> None:
    """Every .py compiles, no marker is left, no solution line leaked."""
    for file in sorted(out.rglob("*.py")):
        text = file.read_text(encoding="utf-8")
        if markers.has_markers(text):
            raise ReleaseError(f"{file}: solution markers left in the starter")
        try:
            compile(text, str(file), "exec", dont_inherit=True)
        except SyntaxError as err:
            raise ReleaseError(f"{file}:{err.lineno}: does not compile: {err.msg}") from err
        source = repo / file.relative_to(out)
        if source.is_file():
            leaked = solution_lines_in(source, file)
            if leaked:
                line_no, line = leaked[0]
                raise ReleaseError(f"{file}: line {line!r} of the solution block at {source}:{line_no} "
                                   "is in the starter")


def build_student(out, repo: Path = REPO_ROOT, force: bool = False) -> List[str]:
    """Write the starter to `out`; returns warnings (missing optional files)."""
    out, repo = Path(out), Path(repo)
    if not (repo / "proj4_code").is_dir():
        raise ReleaseError(f"{repo / 'proj4_code'} does not exist: nothing to release")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ReleaseError(f"{out} exists and is not empty; pass --force to replace it")
        if out.resolve() == repo.resolve() or out.resolve() in repo.resolve().parents:
            raise ReleaseError(f"refusing to replace {out}: it holds the repository")
    staging = Path(tempfile.mkdtemp(prefix=".starter-", dir=out.parent if out.parent.exists() else None))
    warnings = []
    try:
        for name, required in STUDENT_FILES:
            src = repo / name
            if not src.exists():
                if required:
                    raise ReleaseError(f"{src} does not exist")
                warnings.append(f"{name} is missing from {repo}; the starter has no {name}")
                continue
            copy_stripped(src, staging / name)
        if (staging / "setup.py").is_file():
            (staging / "setup.py").write_text(student_setup_py((staging / "setup.py").read_text()))
        if (staging / "pytest.ini").is_file():
            (staging / "pytest.ini").write_text(student_pytest_ini((staging / "pytest.ini").read_text()))
        shutil.copy2(STUDENT_README, staging / "README.md")
        check_starter(staging, repo)
        os.chmod(staging, 0o755)  # mkdtemp made it private
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return warnings


# -- the written report's Gradescope outline -------------------------------------------------------------

def write_report_outline(folder: Path) -> Tuple[Path, Path]:
    """folder/report_outline.md (question -> page -> points) and folder/report_template.pdf; returns both."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    total = len(rubric.ITEMS)
    rows = "\n".join(f"| {k} | {item.title} | {k} | {item.points} | {item.words or '-'} |"
                     for k, item in enumerate(rubric.ITEMS, start=1))
    outline = folder / "report_outline.md"
    outline.write_text(f"""# The proj4 written report on Gradescope

Every report `proj4 report` makes has exactly {total} pages, and page k is question k below, for every student
and whatever they finished (a missing part or answer is said on its page, never left out). So the outline and the
page matching are the same for everyone.

1. Create the report's assignment: Homework / Problem Set, submitted by students as a PDF, separate from
   the code assignment (the autograder's {100 - rubric.REPORT_POINTS} points). If your Gradescope offers a fixed-length
   (templated) submission, upload report_template.pdf ({total} pages) as the template: each question is then
   on its page by itself. Otherwise students assign page k to question k when they upload.
2. Edit Outline: one question per row, in this order, with these points ({rubric.total_points()} in all; the
   extra credit question has 0 points: give its points with a positive rubric item).

| question | title | page | points | word limit |
|---|---|---|---|---|
{rows}

3. After grading: `proj4-instructor reports CODE_EXPORT REPORT_EXPORT [--regrade DIR]` compares the run record
   each PDF carries with the graded code submission (checkpoint SHA-256, measured test accuracy); mismatches
   are flags for review on the regrade's summary page, never penalties.

Generated from proj4_lib/rubric.py by `proj4-instructor release autograder`.
""", encoding="utf-8")
    template = report.build_pdf(folder / "report_template.pdf", report.pages(None, None), None, "template")
    return outline, template


# -- the command --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor release", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    student = sub.add_parser("student", help="write the student starter",
                             formatter_class=DefaultsHelp)
    student.add_argument("--out", required=True, type=Path, help="folder for the starter")
    student.add_argument("--force", action="store_true", help="replace --out if it is not empty")
    grader = sub.add_parser("autograder", help="write the Gradescope autograder zip",
                            formatter_class=DefaultsHelp)
    grader.add_argument("--out", type=Path, default=Path("autograder.zip"), help="zip to write")
    grader.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data",
                        help="installed dataset: the mean/std come from it, the test split is bundled")
    grader.add_argument("--python", default=pins.DEFAULT_PYTHON,
                        help="python3 of the Gradescope base image: 3.10 = Ubuntu 22.04, 3.12 = Ubuntu 24.04")
    grader.add_argument("--from", dest="from_zip", type=Path, default=None,
                        help="retarget this built autograder zip to --python (and --torch-standin) instead of "
                             "building one: only its requirements files change")
    grader.add_argument("--torch-standin", action="store_true",
                        help="pin the CPU-only torch stand-in of proj4_instructor/torch_standin.py (the rehearsal "
                             "only: Gradescope gets the pins of requirements-ci.txt from PyTorch's CPU index)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.what == "student":
            for warning in build_student(args.out, force=args.force):
                print(f"warning: {warning}", file=sys.stderr)
            print(f"wrote the student starter to {args.out}")
        else:
            torch_pins = None
            if args.torch_standin:
                from proj4_instructor import torch_standin

                torch_pins = torch_standin.PINS
            if args.from_zip:
                manifest = retarget(args.from_zip, args.out, args.python, torch_pins)
            else:
                manifest = build_autograder(args.out, data_dir=args.data_dir, target_python=args.python,
                                            torch_pins=torch_pins)
            print(f"wrote {args.out}: {len(manifest['checks'])} checks and {manifest['accuracy_checks']} accuracy "
                  f"checks, {manifest['max_score']:g} points (backbones graded: {', '.join(manifest['backbones'])}); "
                  "the public tests are shown as feedback (0 points)")
            outline, template = write_report_outline(Path(args.out).resolve().parent)
            print(f"wrote {outline} and {template}: the written report's Gradescope outline (question -> page -> "
                  "points) and its template")
    except (ReleaseError, BuildError, markers.MarkerError, pins.PinError) as err:
        print(f"proj4-instructor release: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
