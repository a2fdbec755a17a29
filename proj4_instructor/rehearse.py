"""`proj4-instructor rehearse`: build the autograder and grade with it in a clean Debian root, as Gradescope does.

    proj4-instructor rehearse [--torch cpu-standin|cuda] [--cache DIR] [--keep DIR] [--autograder ZIP]
                              [--cpus 0.5] [--memory-mb 768]

Needs root (debootstrap, chroot, mount) and the four checkpoints in model_output/ (`proj4 train all`).
Steps, each checked:
 1. A clean Debian bookworm root (`debootstrap --variant=minbase`, from the Debian mirror this
    machine's apt uses), plus GNU time to measure from inside it; built once and cached as a tarball.
 2. The autograder zip for the root's Python (`proj4-instructor release autograder --python 3.11`),
    unpacked to ROOT/autograder/source; `setup.sh` runs there unchanged, as root, in the chroot.
    PyTorch's CPU index is out of reach here. `--torch cpu-standin` (the default) gives setup.sh, in
    PROJ4_TORCH_FIND_LINKS, the REAL CPU-only torch 2.13.0+cpu and a stand-in torchvision
    (proj4_instructor/torch_standin.py says what is real and what is not), and the zip pins those.
    `--torch cuda` points PROJ4_TORCH_INDEX_URL at this machine's index instead, which installs the
    CUDA build (for comparison). What this machine's pip configuration points to (local indexes, CA
    bundle) is bind-mounted read-only and passed on as PIP_* variables.
 3. Four submissions, each graded in a fresh copy of the set-up root (an overlay: every run starts
    from the built image, as a Gradescope container does) by `/autograder/run_autograder` under
    `/usr/bin/time -v`, in a cgroup with Gradescope's default container: half a CPU and 768 MB (a
    process over it is killed, as on Gradescope): the reference (full marks), the starter (0), a spy
    (the reference plus code in every student module that reports its uid and every /autograder
    file it can read; it must run unprivileged and read nothing of the source, the results or the
    grader's files) and one at the rules' size limits (SimpleNetFinal with ~4 M parameters and ~90 M
    multiply-adds; everything but its accuracy must pass).
 4. results.json of every run is checked against Gradescope's format (proj4_instructor.gradescope_schema),
    and every grading process must peak under PEAK_GOAL_MB (the runner's per-step line).
This module holds the scenarios and their checks; the root itself (debootstrap, mounts, chroot,
cgroups, this machine's pip configuration and system ids) is proj4_instructor/debian_root.py.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from proj4_instructor import gradescope_schema, torch_standin
from proj4_instructor.debian_root import (RehearsalError, apt_mirror, base_root, chroot, limits, mount,
                                          mounted_system, pip_environment, pip_settings, reserve_host_ids, run)
from proj4_lib import architecture
from proj4_lib.cli import DefaultsHelp
from proj4_lib.parts import PARTS

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path("/var/cache/proj4-rehearsal")
TARGET_PYTHON = "3.11"  # bookworm's python3
GRADESCOPE_CPUS = 0.5  # Gradescope's default share of a vCPU per autograder container
SPY_TAG = "PROJ4-SPY: "
PEAK_LINE = re.compile(r"peak memory of the [\w ]+?: (\d+) MB")  # the runner's own line
STEP_PEAKS = re.compile(r"peak RSS per step: trusted (\d+) MB, answers (\d+) MB, public tests (\d+) MB")
GRADESCOPE_MEMORY_MB = 768  # Gradescope's default container
PEAK_GOAL_MB = 650  # every grading process, with the CPU-only torch: margin under 768
# Files of the autograder source that student code must never read: the root-only grader (its expected
# answers, test labels, manifest). A file of a few bytes (an empty __init__.py) has a content too
# common to tell a leak.
SECRET_PARTS = ("grader/",)
SECRET_MIN_BYTES = 64
CHECKPOINTS = tuple(part.checkpoint for part in PARTS)


def torch_index_stand_in() -> str:
    """The index this machine's pip installs from (its configured index-url, else pip's default):
    it stands in for PyTorch's CPU index, which this machine cannot reach."""
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


def starter_zip(out_dir: Path) -> Path:
    """The student starter's proj4_code (all stubs, no checkpoints), zipped."""
    from proj4_instructor import release

    starter = out_dir / "starter"
    release.build_student(starter, force=True)
    out = out_dir / "starter.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((starter / "proj4_code").rglob("*.py")):
            zf.write(path, path.relative_to(starter).as_posix())
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
class Graded:
    name: str
    results: dict
    log: str
    spies: List[dict]  # the spy's reports (SPY_TAG lines of the log and the files it left in /tmp/proj4-spy)
    wall_s: float
    peak_rss_mb: Optional[float]  # GNU time's maximum resident set size, from inside the root
    runner_peak_mb: Optional[float]  # the runner's own line (its test processes)
    cgroup_peak_mb: Optional[float]  # the cgroup's peak, page cache included
    step_peaks: Tuple[float, ...] = ()  # the runner's per-step peak RSS: trusted, answers, public tests

    @property
    def max_score(self) -> float:
        return sum(t.get("max_score", 0) for t in self.results.get("tests", []))


def gnu_time_field(report: str, field: str) -> Optional[float]:
    """A number from `/usr/bin/time -v`'s report, e.g. 'Maximum resident set size (kbytes)'."""
    match = re.search(re.escape(field) + r":\s*([\d.]+)", report)
    return float(match.group(1)) if match else None


def grade_in_root(name: str, built: Path, submission: Path, work: Path, cpus: float, memory_mb: int,
                  log: Path) -> Graded:
    """Grade `submission` in an overlay of the set-up root `built`, as a fresh Gradescope container."""
    layer = work / f"run-{name}"
    for sub in ("upper", "work", "merged"):
        (layer / sub).mkdir(parents=True)
    run_log = work / f"run_autograder-{name}.log"
    with ExitStack() as stack:
        mount(stack, ["-t", "overlay", "overlay", "-o",
                      f"lowerdir={built},upperdir={layer / 'upper'},workdir={layer / 'work'}"], layer / "merged")
        root = layer / "merged"
        with zipfile.ZipFile(submission) as zf:  # Gradescope unpacks an uploaded zip into submission/
            zf.extractall(root / "autograder" / "submission")
        (root / "autograder" / "results").mkdir(exist_ok=True)
        stack.enter_context(mounted_system(root))
        cgroup = stack.enter_context(limits(f"proj4-rehearsal-{os.getpid()}-{name}", cpus, memory_mb))
        start = time.monotonic()
        chroot(root, ["/usr/bin/time", "-v", "-o", "/tmp/time-v.txt", "/autograder/run_autograder"], run_log,
               cwd="/autograder", cgroup=cgroup)
        wall = time.monotonic() - start
        results_file = root / "autograder" / "results" / "results.json"
        if not results_file.is_file():
            raise RehearsalError(f"{name}: run_autograder wrote no results.json; see {run_log}")
        results = json.loads(results_file.read_text())
        report = (root / "tmp" / "time-v.txt").read_text()
        cgroup_peak = cgroup.max_usage_mb() if cgroup else None
        text = run_log.read_text(errors="replace")
        left = sorted((root / "tmp" / "proj4-spy").glob("*.json"))
        spies = spy_reports(text) + [json.loads(f.read_text()) for f in left]
    with open(log, "a") as out:
        out.write(f"\n==== run_autograder: {name} ====\n{text}\n{report}\n")
    rss_kb = gnu_time_field(report, "Maximum resident set size (kbytes)")
    runner_peak = PEAK_LINE.findall(text)
    steps = STEP_PEAKS.findall(text)
    return Graded(name, results, text, spies, wall, rss_kb / 1024 if rss_kb else None,
                  float(runner_peak[-1]) if runner_peak else None, cgroup_peak,
                  tuple(float(v) for v in steps[-1]) if steps else ())


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


def check_memory(graded: Graded, goal_mb: float) -> List[str]:
    """Every grading process must peak under the goal (the runner's per-step line)."""
    if not graded.step_peaks:
        return [f"{graded.name}: the runner printed no per-step peak"]
    return [f"{graded.name}: the {step} process peaked at {peak:.0f} MB, over the {goal_mb:.0f} MB goal"
            for step, peak in zip(("trusted", "answers", "public tests"), graded.step_peaks) if peak > goal_mb]


def check_results(graded: Graded, expect_full: bool) -> List[str]:
    """Problems with a run's results.json: its format, and full marks or zero as expected."""
    found = [f"{graded.name}: {p}" for p in gradescope_schema.problems(graded.results)]
    score, best = graded.results.get("score"), graded.max_score
    if expect_full and not (best > 0 and score is not None and abs(score - best) < 1e-6):
        found.append(f"{graded.name}: score {score} of {best:g}, full marks expected")
    if not expect_full and score != 0:
        found.append(f"{graded.name}: score {score} of {best:g}, 0 expected")
    return found


# -- the rehearsal ------------------------------------------------------------------------------

def build_autograder_zip(out: Path, data_dir: Path, log: Path, standin: bool) -> None:
    """`proj4-instructor release autograder --python 3.11` (bookworm's python3), as a TA would run it."""
    run([sys.executable, "-m", "proj4_instructor.cli", "release", "autograder", "--python", TARGET_PYTHON,
         "--out", str(out), "--data-dir", str(data_dir), *(["--torch-standin"] if standin else [])], log, cwd=REPO_ROOT)


def set_up_root(tarball: Path, autograder: Path, root: Path, log: Path, wheels: Optional[Path]) -> float:
    """Unpack the clean root and the autograder, run setup.sh in it as root; returns its seconds."""
    root.mkdir(parents=True)
    run(["tar", "--numeric-owner", "-C", str(root), "-xpf", str(tarball)], log)
    shutil.copy2("/etc/resolv.conf", root / "etc" / "resolv.conf")
    reserve_host_ids(root)
    source = root / "autograder" / "source"
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(source)
    for script in ("setup.sh", "run_autograder"):
        os.chmod(source / script, 0o755)  # zipfile drops the mode bits; Gradescope's unzip keeps them
    env, binds = pip_environment(pip_settings())
    torch_from = {"PROJ4_TORCH_INDEX_URL": torch_index_stand_in()}
    if wheels is not None:  # the CPU-only torch and the stand-in torchvision, in a folder setup.sh reads
        binds, torch_from = (*binds, (wheels, wheels)), {"PROJ4_TORCH_FIND_LINKS": str(wheels)}
    start = time.monotonic()
    with mounted_system(root, binds):
        chroot(root, ["bash", "/autograder/source/setup.sh"], log, cwd="/autograder/source",
               env={**env, **torch_from})
    seconds = time.monotonic() - start
    shutil.copy2(source / "run_autograder", root / "autograder" / "run_autograder")  # Gradescope's image build
    return seconds


def summary(rows: List[Graded], setup_s: float, machine: str) -> str:
    """The table for BENCHMARKS.md."""
    fmt = lambda v: "-" if v is None else f"{v:,.0f}"  # noqa: E731
    lines = [f"machine: {machine}", f"setup.sh (root, in the chroot): {setup_s:.0f} s", "",
             "| submission | score | run_autograder wall | results execution_time | peak RSS: trusted / answers / "
             "public tests | largest process (time -v) | cgroup peak (incl. page cache) |",
             "|---|---|---|---|---|---|---|"]
    for g in rows:
        steps = " / ".join(fmt(v) for v in g.step_peaks) if g.step_peaks else "-"
        lines.append(f"| {g.name} | {g.results.get('score')} / {g.max_score:g} | {g.wall_s:.0f} s "
                     f"| {g.results.get('execution_time')} s | {steps} MB | {fmt(g.peak_rss_mb)} MB "
                     f"| {fmt(g.cgroup_peak_mb)} MB |")
    return "\n".join(lines)


def machine_description(cpus: float, memory_mb: int) -> str:
    return (f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
            f"grading in a cgroup with {cpus or 'all'} CPU and "
            f"{f'{memory_mb} MB' if memory_mb else 'no memory limit'}; {time.strftime('%Y-%m-%d %H:%M %Z')}")


def grade_submissions(args: argparse.Namespace, work: Path, log: Path) -> Tuple[List[Graded], float, List[str]]:
    """Steps 1-4 of the module docstring in `work`; returns the graded runs, setup.sh's seconds, the problems."""
    tarball = base_root(args.cache, args.mirror or apt_mirror(), log)
    wheels = torch_standin.build(args.cache) if args.torch == "cpu-standin" else None
    print(f"torch: {torch_standin.describe(wheels) if wheels else 'the CUDA build from ' + torch_index_stand_in()}",
          flush=True)
    autograder = args.autograder or work / "autograder.zip"
    if not args.autograder:
        print(f"building {autograder} for Python {TARGET_PYTHON} ...", flush=True)
        build_autograder_zip(autograder, args.data_dir, log, standin=wheels is not None)
    submissions = work / "submissions"
    submissions.mkdir()
    reference = reference_zip(REPO_ROOT, submissions)
    starter = starter_zip(submissions)
    built = work / "root"
    print("running setup.sh in the clean root ...", flush=True)
    setup_s = set_up_root(tarball, autograder, built, log, wheels)
    source = built / "autograder" / "source"
    config = json.loads((source / "grader" / "config.json").read_text())
    spy = spy_zip(reference, config["student_files"], submissions)
    big = limits_zip(reference, submissions)

    rows, problems = [], []
    for name, zip_path, full in (("reference", reference, True), ("starter", starter, False), ("spy", spy, True),
                                 ("limits", big, None)):
        print(f"grading the {name} submission ...", flush=True)
        graded = grade_in_root(name, built, zip_path, work, args.cpus, memory_mb(args), log)
        rows.append(graded)
        if full is None:  # everything but the untrained SimpleNetFinal's accuracy
            problems += [f"limits: {t['name']} failed: {t['output'][:200]}" for t in graded.results.get("tests", [])
                         if t.get("score", 0) < t.get("max_score", 0) and "[SimpleNetFinal]" not in t.get("name", "")]
        else:
            problems += check_results(graded, full)
        if wheels is not None:
            problems += check_memory(graded, PEAK_GOAL_MB)
        if name == "spy":
            problems += [f"spy: {b}" for b in sandbox_breaches(graded.spies, secret_hashes(source))]
    return rows, setup_s, problems


def memory_mb(args: argparse.Namespace) -> int:
    """The cgroup's memory limit: Gradescope's default with the CPU build; none with the CUDA build,
    whose libraries alone take most of 768 MB (its peak is measured, not limited)."""
    if args.memory_mb is not None:
        return args.memory_mb
    return GRADESCOPE_MEMORY_MB if args.torch == "cpu-standin" else 0


def print_report(rows: List[Graded], setup_s: float, args: argparse.Namespace) -> None:
    """The summary table and what the spy saw."""
    print(summary(rows, setup_s, machine_description(args.cpus, memory_mb(args))))
    spies = next(r.spies for r in rows if r.name == "spy")
    print(f"spy: {len(spies)} report(s); uid {sorted({r['uid'] for r in spies})}; "
          f"readable outside venv/data: {sorted({p for r in spies for p in r['readable']})}; "
          f"folders: {spies[0]['folders'] if spies else '-'}")


def rehearse(args: argparse.Namespace) -> int:
    """Run the rehearsal in a temporary folder: moved to --keep if given; on an error its logs are kept."""
    if os.geteuid() != 0:
        raise RehearsalError("the rehearsal needs root (debootstrap, chroot, mount)")
    work = Path(tempfile.mkdtemp(prefix="proj4-rehearsal-", dir=args.work_dir))
    log = work / "rehearsal.log"
    print(f"rehearsal in {work}; its log: {log}", flush=True)
    started, finished = time.monotonic(), False
    try:
        rows, setup_s, problems = grade_submissions(args, work, log)
        print_report(rows, setup_s, args)
        print(f"rehearsal total: {time.monotonic() - started:.0f} s")
        finished = not problems
    finally:
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.move(str(work), str(args.keep))
            print(f"kept the rehearsal (roots, logs, zips) in {args.keep}")
        elif finished:
            shutil.rmtree(work, ignore_errors=True)
        else:  # the roots are GBs: keep only the logs and zips to read
            for folder in [work / "root", *work.glob("run-*")]:
                shutil.rmtree(folder, ignore_errors=True)
            print(f"the rehearsal failed; its logs and zips are in {work}", file=sys.stderr)
    if problems:
        print("REHEARSAL FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("rehearsal passed: setup.sh ran unchanged as root; reference full marks, starter 0; the spy ran "
          "unprivileged and read none of the source, the results or the grader's files; the submission at the "
          "size limits graded" + (f"; every grading process under {PEAK_GOAL_MB} MB" if args.torch == "cpu-standin"
                                  else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor rehearse", description=__doc__.splitlines()[0],
                                     formatter_class=DefaultsHelp)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the clean root's tarball is kept")
    parser.add_argument("--keep", type=Path, help="move the rehearsal's roots, logs and zips here (else deleted)")
    parser.add_argument("--work-dir", type=Path, default=None, help="parent of the temporary rehearsal folder")
    parser.add_argument("--autograder", type=Path, help="grade with this zip (built for Python 3.11) instead of "
                                                        "building one")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data", help="installed dataset for the build")
    parser.add_argument("--mirror", help="Debian mirror for debootstrap; none: the first Debian archive in "
                                         "/etc/apt's sources")
    parser.add_argument("--cpus", type=float, default=GRADESCOPE_CPUS, help="CPU quota of each grading run "
                        "(Gradescope's default share is half a vCPU; 0: no quota)")
    parser.add_argument("--memory-mb", type=int, default=None, help="memory limit of each grading run (0: none, "
                        "peak only measured; default: Gradescope's 768 with --torch cpu-standin, none with cuda)")
    parser.add_argument("--torch", choices=("cpu-standin", "cuda"), default="cpu-standin",
                        help="cpu-standin: the CPU-only torch wheel and a stand-in torchvision (see "
                             "torch_standin.py); cuda: the CUDA build, for comparison")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return rehearse(args)
    except RehearsalError as err:
        print(f"proj4-instructor rehearse: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
