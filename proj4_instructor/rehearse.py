"""`proj4-instructor rehearse`: build the autograder and grade with it in a clean Debian root, as Gradescope does.

    proj4-instructor rehearse [--cache DIR] [--keep DIR] [--autograder ZIP] [--cpus 0.5] [--memory-mb N]

Needs root (debootstrap, chroot, mount) and the four checkpoints in model_output/ (`proj4 train all`).
Steps, each checked:
 1. A clean Debian bookworm root (`debootstrap --variant=minbase`, from the Debian mirror this
    machine's apt uses), plus GNU time to measure from inside it; built once and cached as a tarball.
 2. The autograder zip for the root's Python (`proj4-instructor release autograder --python 3.11`),
    unpacked to ROOT/autograder/source; `setup.sh` runs there unchanged, as root, in the chroot.
    This machine cannot reach PyTorch's CPU index: PROJ4_TORCH_INDEX_URL points setup.sh at PyPI,
    which installs the CUDA build of torch (the figures are that build's, not the CPU wheel's).
    What this machine's pip configuration points to (local indexes, CA bundle) is bind-mounted
    read-only and passed on as PIP_* variables.
 3. Three submissions, each graded in a fresh copy of the set-up root (an overlay: every run starts
    from the built image, as a Gradescope container does) by `/autograder/run_autograder` under
    `/usr/bin/time -v`, in a cgroup with Gradescope's CPU share (and a memory limit if asked):
    the reference (full marks), the starter (0) and a spy (the reference plus code in every student
    module that reports its uid and every /autograder file it can read; it must run unprivileged
    and read nothing of the source, the results or the grader's answers and labels).
 4. results.json of every run is checked against Gradescope's format (proj4_instructor.gradescope_schema).
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

from proj4_instructor import gradescope_schema
from proj4_instructor.debian_root import (RehearsalError, apt_mirror, base_root, chroot, limits, mount,
                                          mounted_system, pip_environment, pip_settings, reserve_host_ids, run)
from proj4_lib.parts import PARTS

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path("/var/cache/proj4-rehearsal")
TARGET_PYTHON = "3.11"  # bookworm's python3
GRADESCOPE_CPUS = 0.5  # Gradescope's default share of a vCPU per autograder container
SPY_TAG = "PROJ4-SPY: "
PEAK_LINE = re.compile(r"peak memory of the [\w ]+?: (\d+) MB")  # the runner's own line
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
    return Graded(name, results, text, spies, wall, rss_kb / 1024 if rss_kb else None,
                  float(runner_peak[-1]) if runner_peak else None, cgroup_peak)


# -- checks -------------------------------------------------------------------------------------

def secret_hashes(source: Path) -> Dict[str, str]:
    """{sha256: path in the source} of the files student code must not read (SECRET_PARTS)."""
    secrets = {}
    for path in source.rglob("*"):
        relative = path.relative_to(source).as_posix()
        if (path.is_file() and any(relative.startswith(part) for part in SECRET_PARTS)
                and path.stat().st_size >= SECRET_MIN_BYTES):
            secrets[hashlib.sha256(path.read_bytes()).hexdigest()] = relative
    return secrets


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

def build_autograder_zip(out: Path, data_dir: Path, log: Path) -> None:
    """`proj4-instructor release autograder --python 3.11` (bookworm's python3), as a TA would run it."""
    run([sys.executable, "-m", "proj4_instructor.cli", "release", "autograder", "--python", TARGET_PYTHON,
         "--out", str(out), "--data-dir", str(data_dir)], log, cwd=REPO_ROOT)


def set_up_root(tarball: Path, autograder: Path, root: Path, log: Path) -> float:
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
    start = time.monotonic()
    with mounted_system(root, binds):
        chroot(root, ["bash", "/autograder/source/setup.sh"], log, cwd="/autograder/source",
               env={**env, "PROJ4_TORCH_INDEX_URL": torch_index_stand_in()})
    seconds = time.monotonic() - start
    shutil.copy2(source / "run_autograder", root / "autograder" / "run_autograder")  # Gradescope's image build
    return seconds


def summary(rows: List[Graded], setup_s: float, machine: str) -> str:
    """The table for BENCHMARKS.md."""
    fmt = lambda v: "-" if v is None else f"{v:,.0f}"  # noqa: E731
    lines = [f"machine: {machine}", f"setup.sh (root, in the chroot): {setup_s:.0f} s", "",
             "| submission | score | run_autograder wall | results execution_time | peak RSS (time -v) "
             "| runner's peak line | cgroup peak (incl. page cache) |",
             "|---|---|---|---|---|---|---|"]
    for g in rows:
        lines.append(f"| {g.name} | {g.results.get('score')} / {g.max_score:g} | {g.wall_s:.0f} s "
                     f"| {g.results.get('execution_time')} s | {fmt(g.peak_rss_mb)} MB | {fmt(g.runner_peak_mb)} MB "
                     f"| {fmt(g.cgroup_peak_mb)} MB |")
    return "\n".join(lines)


def machine_description(cpus: float, memory_mb: int) -> str:
    return (f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
            f"grading in a cgroup with {cpus or 'all'} CPU and "
            f"{f'{memory_mb} MB' if memory_mb else 'no memory limit'}; {time.strftime('%Y-%m-%d %H:%M %Z')}")


def grade_submissions(args: argparse.Namespace, work: Path, log: Path) -> Tuple[List[Graded], float, List[str]]:
    """Steps 1-4 of the module docstring in `work`; returns the graded runs, setup.sh's seconds, the problems."""
    tarball = base_root(args.cache, args.mirror or apt_mirror(), log)
    autograder = args.autograder or work / "autograder.zip"
    if not args.autograder:
        print(f"building {autograder} for Python {TARGET_PYTHON} ...", flush=True)
        build_autograder_zip(autograder, args.data_dir, log)
    submissions = work / "submissions"
    submissions.mkdir()
    reference = reference_zip(REPO_ROOT, submissions)
    starter = starter_zip(submissions)
    built = work / "root"
    print("running setup.sh in the clean root ...", flush=True)
    setup_s = set_up_root(tarball, autograder, built, log)
    source = built / "autograder" / "source"
    config = json.loads((source / "grader" / "config.json").read_text())
    spy = spy_zip(reference, config["student_files"], submissions)

    rows, problems = [], []
    for name, zip_path, full in (("reference", reference, True), ("starter", starter, False), ("spy", spy, True)):
        print(f"grading the {name} submission ...", flush=True)
        graded = grade_in_root(name, built, zip_path, work, args.cpus, args.memory_mb, log)
        rows.append(graded)
        problems += check_results(graded, full)
        if name == "spy":
            problems += [f"spy: {b}" for b in sandbox_breaches(graded.spies, secret_hashes(source))]
    return rows, setup_s, problems


def print_report(rows: List[Graded], setup_s: float, args: argparse.Namespace) -> None:
    """The summary table and what the spy saw."""
    print(summary(rows, setup_s, machine_description(args.cpus, args.memory_mb)))
    spies = rows[-1].spies
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
          "unprivileged and read none of the source, the results or the grader's files")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4-instructor rehearse", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
    parser.add_argument("--memory-mb", type=int, default=0, help="memory limit of each grading run (0: none, "
                        "peak only measured; Gradescope's default container has 768)")
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
