"""`proj4-instructor rehearse`: grade as Gradescope does, in containers at Gradescope's default size.

    proj4-instructor rehearse [--engine podman|docker] [--torch cpu-standin|cuda] [--from ZIP | --autograder ZIP]
                              [--cpus 0.5] [--memory-mb 768] [--keep DIR]

Needs a container engine (containers.py), debootstrap and the four checkpoints in model_output/
(`proj4 train all`). Steps, each checked:
 1. A base image: Debian bookworm built with debootstrap (base_images.py; Gradescope's Ubuntu 22.04
    image is out of reach here), made once and kept by the engine.
 2. The autograder zip for the image's Python 3.11: --autograder (built for it), --from a zip to
    retarget (only its requirements change: `release autograder --from`), or a build here.
    PyTorch's CPU index is out of reach: `--torch cpu-standin` (the default) gives setup.sh, in
    PROJ4_TORCH_FIND_LINKS, the REAL CPU-only torch 2.13.0+cpu and a stand-in torchvision
    (torch_standin.py says what is real and what is not), and the zip pins those. `--torch cuda`
    installs the CUDA build from this machine's index instead, for comparison (no memory limit).
 3. The grading image, set up as Gradescope sets it up (setup.sh unchanged, as root), once per zip.
 4. Four submissions, each in a fresh container with half a CPU and 768 MB (a process over it is
    killed, as on Gradescope): the reference (full marks), the starter (0), a spy (the reference
    plus code in every student module that reports its uid and every /autograder file it can read:
    it must run unprivileged and read nothing of the source, the results or the grader's files) and
    one at the rules' size limits (SimpleNetFinal with ~4 M parameters and ~90 M multiply-adds;
    everything but its accuracy must pass).
 5. results.json of every run is checked against Gradescope's format; every grading process must
    peak under PEAK_GOAL_MB, read from the runner's measurements.json (and the container's own peak,
    page cache included, from its cgroup).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from proj4_instructor import base_images, containers, gradescope_schema, torch_standin
from proj4_instructor.containers import ContainerError, ContainerLimits
from proj4_lib import architecture
from proj4_lib.parts import PARTS
from proj4_tools.cli import DefaultsHelp

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path("/var/cache/proj4-rehearsal")
TARGET_PYTHON = base_images.DEBIAN_PYTHON
GRADESCOPE_CPUS = 0.5  # Gradescope's default share of a vCPU per autograder container
SPY_TAG = "PROJ4-SPY: "
GRADESCOPE_MEMORY_MB = 768  # Gradescope's default container
PEAK_GOAL_MB = 650  # every grading process, with the CPU-only torch: margin under 768
# Files of the autograder source that student code must never read: the root-only grader (its expected
# answers, test labels, manifest). A file of a few bytes (an empty __init__.py) has a content too
# common to tell a leak.
SECRET_PARTS = ("grader/",)
SECRET_MIN_BYTES = 64
CHECKPOINTS = tuple(part.checkpoint for part in PARTS)


class RehearsalError(RuntimeError):
    """The rehearsal failed; the message names the step, file or value."""


def run(command: List[str], log: Optional[Path] = None, **kwargs) -> subprocess.CompletedProcess:
    """Run `command`; its output goes to `log` (appended) or through; a non-zero exit raises RehearsalError."""
    with open(log, "ab") if log else open(os.devnull, "wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False,
                              **kwargs)
    if done.returncode != 0:
        raise RehearsalError(f"`{' '.join(map(str, command))}` exited with {done.returncode}"
                             + (f"; see {log}" if log else ""))
    return done


def torch_index_stand_in() -> str:
    """The index this machine's pip installs from (its configured index-url, else pip's default):
    it stands in for PyTorch's CPU index, which this machine cannot reach (--torch cuda)."""
    configured = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                                capture_output=True, text=True)
    if configured.returncode == 0 and configured.stdout.strip():
        return configured.stdout.strip()
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


# -- the submissions ----------------------------------------------------------------------------

SPY_CODE = '''

def _proj4_spy():
    """Rehearsal spy: who runs this, and which /autograder files can it read?"""
    import hashlib, json, os, sys
    if getattr(sys, "_proj4_spy_done", False):
        return
    sys._proj4_spy_done = True
    readable, refused = {}, 0
    for top, dirs, files in os.walk("/autograder", onerror=lambda err: None):
        dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/autograder/venv", "/autograder/data")]
        for name in files:
            path = os.path.join(top, name)
            try:
                with open(path, "rb") as f:
                    readable[path] = hashlib.sha256(f.read()).hexdigest()
            except OSError:
                refused += 1
    folders = {}
    for folder in ("/autograder/source", "/autograder/results"):
        try:
            folders[folder] = "listed %d entries" % len(os.listdir(folder))
        except OSError as err:
            folders[folder] = type(err).__name__
    line = "PROJ4-SPY: " + json.dumps({"uid": os.getuid(), "euid": os.geteuid(), "readable": readable,
                                       "refused": refused, "folders": folders})
    print(line, flush=True)
    print(line, file=sys.stderr, flush=True)
    try:  # pytest may swallow what is printed while it collects: the rehearsal also reads this file
        os.makedirs("/tmp/proj4-spy", exist_ok=True)
        with open("/tmp/proj4-spy/%d.json" % os.getpid(), "w") as f:
            f.write(line[len("PROJ4-SPY: "):])
    except OSError:
        pass


_proj4_spy()
'''


def reference_zip(repo: Path, out_dir: Path) -> Path:
    """The reference code and the four checkpoints, zipped by zip_submission.py as a student would."""
    missing = [name for name in CHECKPOINTS if not (repo / "model_output" / name).is_file()]
    if missing:
        raise RehearsalError(f"{repo / 'model_output'} lacks {', '.join(missing)}: run `proj4 train all` first")
    run([sys.executable, str(repo / "zip_submission.py"), "--gt_username", "reference", "--repo-root", str(repo),
         "--out-dir", str(out_dir)], cwd=repo)
    return out_dir / "reference.zip"


def starter_zip(starter: Path, out_dir: Path) -> Path:
    """The student starter's proj4_code (all stubs, no checkpoints; the autograder's copy), zipped."""
    out = out_dir / "starter.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(starter.glob("*.py")):
            zf.write(path, f"proj4_code/{path.name}")
    return out


def spy_zip(reference: Path, student_files: List[str], out_dir: Path) -> Path:
    """The reference with SPY_CODE appended to every student module."""
    out = out_dir / "spy.zip"
    with zipfile.ZipFile(reference) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("proj4_code/") and Path(info.filename).name in student_files:
                data += SPY_CODE.encode()
            dst.writestr(info, data)
    return out


BIG_FINAL = '''"""SimpleNetFinal at the rules' size limits (proj4_lib/architecture.py): ~4.2 M parameters, ~91 M
multiply-adds per image. The rehearsal grades it to measure memory and time, not accuracy."""
import torch
from torch import nn


class SimpleNetFinal(nn.Module):
    def __init__(self):
        super().__init__()
        layers, width = [], 1
        for out in (48, 96, 192):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            width = out
        self.conv_layers = nn.Sequential(*layers)
        self.fc_layers = nn.Sequential(nn.Dropout(0.5), nn.Linear(192 * 8 * 8, 320), nn.ReLU(), nn.Linear(320, 15))
        self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_layers(torch.flatten(self.conv_layers(x), 1))
'''


def limits_zip(reference: Path, out_dir: Path) -> Path:
    """The reference with BIG_FINAL as simple_net_final.py and an (untrained) checkpoint of it."""
    code = out_dir / "big" / "proj4_code"
    code.mkdir(parents=True)
    (code / "simple_net_final.py").write_text(BIG_FINAL)
    save = ("import sys; sys.path.insert(0, sys.argv[1]); from proj4_code.simple_net_final import SimpleNetFinal; "
            "from proj4_lib.checkpoints import save_trained_model_weights; "
            "print(save_trained_model_weights(SimpleNetFinal(), sys.argv[2]))")
    shutil.copy2(REPO_ROOT / "proj4_code" / "__init__.py", code / "__init__.py")
    run([sys.executable, "-c", save, str(code.parent), str(out_dir / "big")], cwd=REPO_ROOT)
    checkpoint = out_dir / "big" / "trained_SimpleNetFinal_final.pt"
    import torch

    size = architecture.check(torch.load(checkpoint, weights_only=True)["architecture"])
    if size["parameters"] < 0.8 * architecture.MAX_PARAMETERS or size["macs"] < 0.8 * architecture.MAX_MACS:
        raise RehearsalError(f"BIG_FINAL is not near the limits any more: {size}")
    out = out_dir / "limits.zip"
    with zipfile.ZipFile(reference) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename.endswith(("/simple_net_final.py", "/trained_SimpleNetFinal_final.pt")):
                continue
            dst.writestr(info, src.read(info))
        dst.write(code / "simple_net_final.py", "proj4_code/simple_net_final.py")
        dst.write(checkpoint, "model_output/trained_SimpleNetFinal_final.pt")
    return out


# -- one grading run ----------------------------------------------------------------------------

@dataclass
class Rehearsed:
    name: str
    graded: containers.Graded
    spies: List[dict]  # the spy's reports (SPY_TAG lines of the log and the files it left in /tmp/proj4-spy)

    @property
    def results(self) -> dict:
        return self.graded.results or {}

    @property
    def max_score(self) -> float:
        return sum(t.get("max_score", 0) for t in self.results.get("tests", []))

    def step_peaks(self) -> Dict[str, float]:
        """{step: peak RSS in MB} from the runner's measurements.json (the largest of a step's runs)."""
        peaks: Dict[str, float] = {}
        for step in self.graded.measurements.get("steps", []):
            name = step["step"].split(" (")[0]
            peaks[name] = max(peaks.get(name, 0.0), float(step.get("peak_rss_mb", 0.0)))
        return peaks


def grade_one(engine: containers.Engine, image: str, name: str, submission: Path, work: Path,
              limits: ContainerLimits, log: Path) -> Rehearsed:
    """Grade `submission` in a fresh container, as Gradescope would."""
    graded = containers.grade_in_container(engine, image, submission, work / f"out-{name}", limits=limits,
                                           copy_out=["/tmp/proj4-spy"])
    with open(log, "a") as out:
        out.write(f"\n==== run_autograder: {name} ====\n{graded.log}\n")
    if graded.results is None:
        raise RehearsalError(f"{name}: {graded.problem}; see {log}")
    left = graded.extra.get("/tmp/proj4-spy", "")
    spies = spy_reports(graded.log) + [json.loads(line) for line in left.splitlines() if line.startswith("{")]
    return Rehearsed(name, graded, spies)


# -- checks -------------------------------------------------------------------------------------

def secret_hashes(source: Path) -> Dict[str, str]:
    """{sha256: path in the source} of the files student code must not read: those of SECRET_PARTS
    (the grader: the reference solution, labels, config) that are not also shipped outside it (the
    trusted side's copies of the provided library and of the probes are the sandbox's too)."""
    secrets, public = {}, set()
    for path in source.rglob("*"):
        if not path.is_file() or path.stat().st_size < SECRET_MIN_BYTES:
            continue
        relative = path.relative_to(source).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if any(relative.startswith(part) for part in SECRET_PARTS):
            secrets[digest] = relative
        else:
            public.add(digest)
    return {digest: relative for digest, relative in secrets.items() if digest not in public}


def spy_reports(log: str) -> List[dict]:
    """Every PROJ4-SPY line of a run's log (the spy prints to stdout and stderr)."""
    return [json.loads(line.split(SPY_TAG, 1)[1]) for line in log.splitlines() if SPY_TAG in line]


def sandbox_breaches(reports: List[dict], secrets: Dict[str, str]) -> List[str]:
    """What the spy could do that student code must not: run as root, read source/results/secrets."""
    if not reports:
        return ["the spy never ran: no PROJ4-SPY line in the log, no report in /tmp/proj4-spy"]
    breaches = []
    for report in reports:
        if report["uid"] == 0 or report["euid"] == 0:
            breaches.append("student code ran as root")
        for folder, outcome in report["folders"].items():
            if outcome.startswith("listed"):
                breaches.append(f"student code listed {folder} ({outcome})")
        for path, digest in report["readable"].items():
            if path.startswith(("/autograder/source", "/autograder/results")):
                breaches.append(f"student code read {path}")
            elif digest in secrets:
                breaches.append(f"student code read {path}, a copy of the source's {secrets[digest]}")
    return sorted(set(breaches))


def check_memory(rehearsed: Rehearsed, goal_mb: float) -> List[str]:
    """Every grading process must peak under the goal (the runner's measurements.json)."""
    peaks = rehearsed.step_peaks()
    if not peaks:
        return [f"{rehearsed.name}: the runner wrote no measurements"]
    return [f"{rehearsed.name}: the {step} process peaked at {peak:.0f} MB, over the {goal_mb:.0f} MB goal"
            for step, peak in peaks.items() if peak > goal_mb]


def check_results(graded: Rehearsed, expect_full: bool) -> List[str]:
    """Problems with a run's results.json: its format, and full marks or zero as expected."""
    found = [f"{graded.name}: {p}" for p in gradescope_schema.problems(graded.results)]
    score, best = graded.results.get("score"), graded.max_score
    if expect_full and not (best > 0 and score is not None and abs(score - best) < 1e-6):
        found.append(f"{graded.name}: score {score} of {best:g}, full marks expected")
    if not expect_full and score != 0:
        found.append(f"{graded.name}: score {score} of {best:g}, 0 expected")
    return found


# -- the rehearsal ------------------------------------------------------------------------------

def autograder_for(args: argparse.Namespace, work: Path, log: Path, standin: bool) -> Path:
    """The zip for the image's Python: --autograder as it is, --from retargeted, else built here."""
    if args.autograder:
        return args.autograder
    out = work / "autograder.zip"
    source = ["--from", str(args.from_zip)] if args.from_zip else ["--data-dir", str(args.data_dir)]
    print(f"{'retargeting ' + str(args.from_zip) if args.from_zip else 'building the autograder'} for Python "
          f"{TARGET_PYTHON} ...", flush=True)
    run([sys.executable, "-m", "proj4_instructor.cli", "release", "autograder", "--python", TARGET_PYTHON,
         "--out", str(out), *source, *(["--torch-standin"] if standin else [])], log, cwd=REPO_ROOT)
    return out


def grading_image(args: argparse.Namespace, engine: containers.Engine, zip_path: Path, wheels: Optional[Path],
                  log: Path) -> Tuple[str, float]:
    """The grading image (built if the engine lacks it) and the seconds it took."""
    base = base_images.debian_base_image(engine, log=log, mirror=args.mirror)
    env, binds = base_images.pip_build_settings()
    if wheels is not None:  # the CPU-only torch and the stand-in torchvision, in a folder setup.sh reads
        env["PROJ4_TORCH_FIND_LINKS"], binds = str(wheels), (*binds, (wheels, wheels))
    else:
        env["PROJ4_TORCH_INDEX_URL"] = torch_index_stand_in()
    start = time.monotonic()
    image = containers.autograder_image(engine, zip_path, base, build_env=env, binds=binds, log=log)
    return image, time.monotonic() - start


def summary(rows: List[Rehearsed], build_s: float, machine: str) -> str:
    """The table for BENCHMARKS.md."""
    def fmt(v):
        return "-" if v is None else f"{v:,.0f}"

    lines = [f"machine: {machine}", f"image (setup.sh; 0 if the engine had it): {build_s:.0f} s", "",
             "| submission | score | container wall | results execution_time | peak RSS per step | "
             "container peak (cgroup, incl. page cache) |", "|---|---|---|---|---|---|"]
    for r in rows:
        steps = ", ".join(f"{step} {fmt(peak)}" for step, peak in r.step_peaks().items()) or "-"
        lines.append(f"| {r.name} | {r.results.get('score')} / {r.max_score:g} | {r.graded.wall_s:.0f} s "
                     f"| {r.results.get('execution_time')} s | {steps} MB "
                     f"| {fmt(r.graded.measurements.get('cgroup_peak_mb'))} MB |")
    return "\n".join(lines)


def machine_description(cpus: float, memory_mb: int) -> str:
    return (f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
            f"each grading in a container with {cpus or 'all'} CPU and "
            f"{f'{memory_mb} MB' if memory_mb else 'no memory limit'}; {time.strftime('%Y-%m-%d %H:%M %Z')}")


SUBMISSIONS = (("reference", True), ("starter", False), ("spy", True), ("limits", None))  # None: all but accuracy


def make_submissions(source: Path, config: dict, into: Path) -> Dict[str, Path]:
    """The four submissions of the rehearsal, as zips."""
    into.mkdir(parents=True, exist_ok=True)
    reference = reference_zip(REPO_ROOT, into)
    return {"reference": reference, "starter": starter_zip(source / "starter" / "proj4_code", into),
            "spy": spy_zip(reference, config["student_files"], into), "limits": limits_zip(reference, into)}


def grade_all(engine: containers.Engine, image: str, source: Path, work: Path, limits: ContainerLimits, log: Path,
              jobs: int = 1, standin: bool = True) -> Tuple[List[Rehearsed], List[str]]:
    """Grade the four submissions (`jobs` at once) and check them: (the graded runs, the problems)."""
    config = json.loads((source / "grader" / "config.json").read_text())
    zips = make_submissions(source, config, work / "submissions")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {name: pool.submit(grade_one, engine, image, name, zips[name], work, limits, log)
                   for name, _ in SUBMISSIONS}
        rows = [futures[name].result() for name, _ in SUBMISSIONS]
    problems = []
    for rehearsed, (name, full) in zip(rows, SUBMISSIONS):
        if full is None:  # everything but the untrained SimpleNetFinal's accuracy
            problems += [f"limits: {t['name']} failed: {t['output'][:200]}" for t in rehearsed.results.get("tests", [])
                         if t.get("score", 0) < t.get("max_score", 0) and "[SimpleNetFinal]" not in t.get("name", "")]
        else:
            problems += check_results(rehearsed, full)
        if standin:
            problems += check_memory(rehearsed, PEAK_GOAL_MB)
        if name == "spy":
            problems += [f"spy: {b}" for b in sandbox_breaches(rehearsed.spies, secret_hashes(source))]
    return rows, problems


def grade_submissions(args: argparse.Namespace, work: Path, log: Path) -> Tuple[List[Rehearsed], float, List[str]]:
    """Steps 1-5 of the module docstring in `work`; returns the graded runs, the image's seconds, the problems."""
    engine = containers.find_engine(args.engine)
    wheels = torch_standin.build(args.cache) if args.torch == "cpu-standin" else None
    print(f"torch: {torch_standin.describe(wheels) if wheels else 'the CUDA build from ' + torch_index_stand_in()}",
          flush=True)
    zip_path = autograder_for(args, work, log, standin=wheels is not None)
    image, build_s = grading_image(args, engine, zip_path, wheels, log)
    source = work / "source"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(source)
    limits = ContainerLimits(cpus=args.cpus or None, memory_mb=memory_mb(args) or None)
    print(f"grading the four submissions, {args.jobs} at a time ...", flush=True)
    rows, problems = grade_all(engine, image, source, work, limits, log, args.jobs, standin=wheels is not None)
    return rows, build_s, problems


def memory_mb(args: argparse.Namespace) -> int:
    """The container's memory limit: Gradescope's default with the CPU build; none with the CUDA build,
    whose libraries alone take most of 768 MB (its peak is measured, not limited)."""
    if args.memory_mb is not None:
        return args.memory_mb
    return GRADESCOPE_MEMORY_MB if args.torch == "cpu-standin" else 0


def print_report(rows: List[Rehearsed], build_s: float, args: argparse.Namespace) -> None:
    """The summary table and what the spy saw."""
    print(summary(rows, build_s, machine_description(args.cpus, memory_mb(args))))
    spies = next(r.spies for r in rows if r.name == "spy")
    print(f"spy: {len(spies)} report(s); uid {sorted({r['uid'] for r in spies})}; "
          f"readable outside venv/data: {sorted({p for r in spies for p in r['readable']})}; "
          f"folders: {spies[0]['folders'] if spies else '-'}")


def rehearse(args: argparse.Namespace) -> int:
    """Run the rehearsal in a temporary folder: moved to --keep if given; on an error its logs are kept."""
    work = Path(tempfile.mkdtemp(prefix="proj4-rehearsal-", dir=args.work_dir))
    log = work / "rehearsal.log"
    print(f"rehearsal in {work}; its log: {log}", flush=True)
    started, finished, problems = time.monotonic(), False, []
    try:
        rows, build_s, problems = grade_submissions(args, work, log)
        print_report(rows, build_s, args)
        print(f"rehearsal total: {time.monotonic() - started:.0f} s")
        finished = not problems
    finally:
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.move(str(work), str(args.keep))
            print(f"kept the rehearsal (zips, logs, results) in {args.keep}")
        elif finished:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"the rehearsal failed; its logs and zips are in {work}", file=sys.stderr)
    if problems:
        print("REHEARSAL FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("rehearsal passed: setup.sh ran unchanged as root in the image; reference full marks, starter 0; the "
          "spy ran unprivileged and read none of the source, the results or the grader's files; the submission "
          "at the size limits graded" + (f"; every grading process under {PEAK_GOAL_MB} MB"
                                         if args.torch == "cpu-standin" else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor rehearse", description=__doc__.splitlines()[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("--engine", choices=containers.ENGINES, default=None,
                        help="container engine (default: podman if installed, else docker)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the torch stand-in's wheels are kept")
    parser.add_argument("--keep", type=Path, help="move the rehearsal's zips, logs and results here (else deleted)")
    parser.add_argument("--work-dir", type=Path, default=None, help="parent of the temporary rehearsal folder")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--autograder", type=Path, help="grade with this zip (built for Python 3.11)")
    source.add_argument("--from", dest="from_zip", type=Path,
                        help="retarget this autograder zip (e.g. the release's, for 3.10) to Python 3.11")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data", help="installed dataset for a build")
    parser.add_argument("--mirror", help="Debian mirror for debootstrap; none: the first Debian archive in "
                                         "/etc/apt's sources")
    parser.add_argument("--cpus", type=float, default=GRADESCOPE_CPUS, help="CPUs of each grading container "
                        "(Gradescope's default share is half a vCPU; 0: no quota)")
    parser.add_argument("--memory-mb", type=int, default=None, help="memory limit of each grading container (0: "
                        "none; default: Gradescope's 768 with --torch cpu-standin, none with cuda)")
    parser.add_argument("--jobs", type=int, default=1, help="gradings at once (each in its own container)")
    parser.add_argument("--torch", choices=("cpu-standin", "cuda"), default="cpu-standin",
                        help="cpu-standin: the CPU-only torch wheel and a stand-in torchvision (see "
                             "torch_standin.py); cuda: the CUDA build, for comparison")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return rehearse(args)
    except (RehearsalError, ContainerError, torch_standin.StandinError) as err:
        print(f"proj4-instructor rehearse: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
