"""What the root runner and the processes it starts say to each other, and every limit (standard library).

One module for the contract between the runner (root) and the three kinds of process it starts as the
sandbox user: the trusted evaluator (trusted.py, pristine code), the answer producer (answers.py, the
student's code) and the public tests (pytest with proj4_grader_plugin.py). It holds
  - LIMITS: every limit of a grading, with its unit and who enforces it; config.json carries their
    values (autograder_build writes them from here) and AUTOGRADER_* variables override some in tests;
  - the files exchanged (FILES), the request of the trusted step, the configuration of the answer
    step, the public tests' command line, and the environment of each sandboxed process;
  - MEASUREMENTS: what the runner measured (times, peaks), written as JSON beside results.json.
Reason: a limit or a field written in two places drifts; here each is written once.

This file is copied beside the runner (grader/proj4_autograder/), beside trusted.py and beside the
public tests' plugin (`import protocol` there); it imports nothing but the standard library.
"""
from __future__ import annotations

import os
from typing import Dict, List, NamedTuple, Optional


class Limit(NamedTuple):
    value: float
    unit: str
    enforced_by: str
    why: str


# Gradescope kills a grading after 10 minutes (its default) and then shows the student nothing: the
# deadline keeps the runner's own end, results.json included, safely inside that.
GRADESCOPE_TIMEOUT_S = 600

LIMITS: Dict[str, Limit] = {
    "deadline": Limit(560, "s", "runner: every step's time is cut to what is left of it",
                      "results.json is written by then, 40 s inside Gradescope's 600 s"),
    "finish_reserve": Limit(15, "s", "runner: kept back from the last step",
                            "scoring and writing results.json after the last step"),
    "trusted_timeout": Limit(150, "s", "runner (sandbox.run's wall clock)",
                             "the trusted evaluation, retried without a checkpoint that stopped it"),
    "total_timeout": Limit(200, "s", "runner (sandbox.run's wall clock, over every answer run)",
                           "the student's code answering every probe"),
    "probe_timeout": Limit(60, "s", "answers.py (SIGALRM per probe)", "an endless loop costs one probe"),
    "public_timeout": Limit(180, "s", "runner (sandbox.run's wall clock, over every group)",
                            "the public tests, feedback only"),
    "test_timeout": Limit(120, "s", "pytest-timeout in the public tests", "one public test"),
    "cleanup": Limit(20, "s", "runner: removal in-process after each step, then stopped",
                     "files a step left cannot make the grading longer than this per step"),
    "memory_limit_mb": Limit(1536, "MB", "RLIMIT_DATA per process, and the watchdog on private + shared memory",
                             "TAs grading with the CUDA build; Gradescope's 768 MB container applies first"),
    "processes": Limit(256, "processes", "RLIMIT_NPROC of the sandbox user", "fork bombs"),
    "file_bytes": Limit(256 * 2**20, "bytes", "RLIMIT_FSIZE", "one file the sandbox writes"),
    "disk_bytes": Limit(2**30, "bytes", "the watchdog, every 0.2 s",
                        "what the sandbox user owns in its folder and the shared folders"),
    "disk_files": Limit(20_000, "files", "the watchdog, every 0.2 s", "inodes the sandbox user owns"),
    "watch_interval": Limit(0.2, "s", "the watchdog's period", "how long a limit can be outrun"),
    "max_checkpoint_bytes": Limit(100 * 2**20, "bytes", "intake", "one submitted checkpoint"),
    "max_source_bytes": Limit(2**20, "bytes", "intake", "one submitted .py file"),
    "max_submission_bytes": Limit(300 * 2**20, "bytes", "intake", "every graded file together"),
    "results_bytes": Limit(900_000, "bytes", "runner (outputs shortened)", "Gradescope's 1 MB results.json"),
    "reserved_bytes": Limit(2**20, "bytes", "runner (results.json written at once, padded)",
                            "the final results.json fits where a full disk cannot stop it"),
    "output_chars": Limit(5000, "characters", "runner", "the feedback kept per test"),
    "min_step": Limit(5, "s", "runner", "a step with less time left is not started"),
    "answers_bytes": Limit(8 * 2**20, "bytes", "runner (read of answers.json)", "what the sandbox may report"),
    "trusted_bytes": Limit(16 * 2**20, "bytes", "runner (read of trusted.json)", "the trusted side's answers"),
    "events_bytes": Limit(16 * 2**20, "bytes", "runner (read of the public tests' events)", "their feedback"),
    "event_field_chars": Limit(20_000, "characters", "proj4_grader_plugin.py", "one text field of an event"),
    "log_chars": Limit(20_000, "characters", "sandbox.run (head and tail)", "a step's output kept for the staff"),
    "kill": Limit(30, "s", "sandbox.kill_uid", "a process in uninterruptible sleep dies once it wakes"),
    "intake_entries": Limit(50_000, "files and folders", "intake", "looked at, loose and in zips together"),
    "intake_depth": Limit(24, "folders", "intake", "a path's depth in the submission"),
    "intake_zips": Limit(8, "zips", "intake", "zips read inside the submission"),
    "intake_code_files": Limit(200, "files", "intake", ".py files of the proj4_code/ graded"),
    "zip_directory_bytes": Limit(64 * 2**20, "bytes", "intake", "a zip's central directory, read before it"),
    "checkpoint_tensors": Limit(2000, "tensors", "trusted.py", "entries of a checkpoint's state_dict"),
    "checkpoint_key_chars": Limit(300, "characters", "trusted.py", "a state_dict key"),
    "checkpoint_pickle_bytes": Limit(2**20, "bytes", "trusted.py (before torch.load)",
                                     "unpickling is Python opcode by opcode: a huge pickle costs minutes"),
    "evaluation_batch_values": Limit(2**25, "values", "trusted.py",
                                     "the largest activation of one evaluation batch (128 MB of float32)"),
}
# The limits config.json carries (the runner reads them from there; a release can change them).
CONFIG_LIMITS = ("deadline", "trusted_timeout", "total_timeout", "probe_timeout", "public_timeout", "test_timeout",
                 "cleanup", "memory_limit_mb", "max_checkpoint_bytes", "max_source_bytes", "max_submission_bytes")
# AUTOGRADER_<NAME> overrides (tests; a TA trying tighter limits).
OVERRIDABLE = ("deadline", "trusted_timeout", "total_timeout", "probe_timeout", "public_timeout", "test_timeout",
               "memory_limit_mb")


def value(name: str) -> int:
    """A fixed limit's value (one no release or test changes), as a number of its unit."""
    return int(LIMITS[name].value)


def config_limits() -> Dict[str, float]:
    """{name: value} of the limits config.json carries."""
    return {name: LIMITS[name].value for name in CONFIG_LIMITS}


ENV_NAMES = {name: f"AUTOGRADER_{name.upper()}" for name in OVERRIDABLE}
ENV_NAMES["memory_limit_mb"] = "AUTOGRADER_MEMORY_MB"


def limit(config: dict, name: str, env=os.environ) -> float:
    """A limit's value: ENV_NAMES[name] if set (an overridable limit), else config.json's, else LIMITS'."""
    override = env.get(ENV_NAMES[name]) if name in OVERRIDABLE else None
    if override:
        return float(override)
    return float(config.get(name, LIMITS[name].value))


# -- files -------------------------------------------------------------------------------------------------
FILES = {
    "trusted_request": "request.json",  # runner -> trusted.py
    "trusted_out": "trusted.json",  # trusted.py -> runner
    "answers_config": "config.json",  # runner -> answers.py
    "answers_out": "answers.json",  # answers.py -> runner (untrusted)
    "events": "events-{group}.jsonl",  # proj4_grader_plugin.py -> runner (untrusted)
    "measurements": "measurements.json",  # runner -> the TA (beside results.json; Gradescope ignores it)
}
PLUGIN = "proj4_grader_plugin"
PUBLIC = "proj4_unit_tests"


# -- messages ----------------------------------------------------------------------------------------------
def trusted_request(*, seed: int, threads: int, model_dir: str, prepared: str, workdir: str, config: dict,
                    skip: List[str]) -> dict:
    """What trusted.py reads (its first argument)."""
    return {"seed": seed, "threads": threads, "model_dir": model_dir, "prepared": prepared, "parts": config["parts"],
            "workdir": workdir, "pixel_mean": config["pixel_mean"], "pixel_std": config["pixel_std"],
            "skip": list(skip)}


def answers_config(*, seed: int, threads: int, model_dir: str, skip: List[str], probe_timeout: float,
                   config: dict) -> dict:
    """What answers.py reads (its second argument): the student's code learns only what it needs."""
    return {"seed": seed, "threads": threads, "model_dir": model_dir, "skip": list(skip),
            "probe_timeout": probe_timeout,
            "parts": [{k: p[k] for k in ("class_name", "module", "checkpoint", "backbone")} for p in config["parts"]]}


def pytest_command(python: str, code: str, files: List[str], test_timeout: float) -> List[str]:
    """The public tests' command: the grader's plugin and pytest.ini, never the submission's."""
    return [python, "-m", "pytest", "-p", PLUGIN, "-c", os.path.join(code, "grader", "pytest.ini"), "--rootdir", code,
            "-p", "no:cacheprovider", "-q", "--continue-on-collection-errors", "-o", f"timeout={test_timeout:g}",
            *[os.path.join(code, name) for name in files]]


# glibc: allocations from 64 KB up get their own mapping, returned to the kernel when freed, so a
# process's resident size follows what it holds instead of its fragmented high-water mark (models
# are built and dropped one after another in every step).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}


def base_env(folder: str, threads: int) -> Dict[str, str]:
    """The environment every sandboxed process starts from: nothing of the runner's own."""
    return {**MALLOC_ENV, "PATH": os.defpath, "LANG": "C.UTF-8", "HOME": folder, "TMPDIR": folder,
            "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def student_env(folder: str, threads: int, pythonpath: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The answer step's and the public tests' environment."""
    return {**base_env(folder, threads), "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "TORCH_HOME": os.path.join(folder, "torch"), **(extra or {})}


# -- measurements ------------------------------------------------------------------------------------------
def measurements(*, steps: List[dict], seconds: float, deadline: float, cgroup_peak_mb: Optional[float],
                 sandbox: str, network: str) -> dict:
    """The runner's measurements (JSON beside results.json): per step its name, seconds, peak RSS (MB),
    outcome and what was cleaned after it; the whole grading's seconds against its deadline; the
    container's own memory peak where its cgroup shows one."""
    return {"version": 1, "seconds": round(seconds, 1), "deadline_s": deadline, "steps": steps,
            "peak_rss_mb": max((s.get("peak_rss_mb", 0) for s in steps), default=0.0),
            "cgroup_peak_mb": cgroup_peak_mb, "sandbox": sandbox, "network": network}
