"""Small helpers the notebook, the tests and the training commands share: seeds, devices, checks."""
from __future__ import annotations

import ctypes
import functools
import inspect
import random
import sys
import traceback
from typing import Callable, Optional

import numpy as np
import torch

#: The seed every command uses unless told otherwise (`--seed`).
DEFAULT_SEED = 0


def reset_seed(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy and torch (CPU and all GPUs) so a run can be repeated.

    The same seed on the same machine and library versions gives the same numbers; another
    machine (or a GPU) can differ in the last digits because kernels differ.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def mps_available() -> bool:
    """Whether torch sees Apple silicon's GPU (MPS)."""
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device(device: str = "auto") -> torch.device:
    """The one device convention: "auto" picks CUDA, then Apple MPS, then the CPU.

    device: "auto", "cuda", "mps" or "cpu". Asking for a device that is not there raises, instead
    of quietly using another.
    """
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device not in ("cuda", "mps", "cpu"):
        raise ValueError(f"unknown device {device!r}; choose one of auto, cuda, mps, cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA GPU")
    if device == "mps" and not mps_available():
        raise RuntimeError("device 'mps' was asked for, but torch sees no Apple MPS device")
    return torch.device(device)


def course_device(device: str = "auto", flag: Optional[bool] = None) -> str:
    """The course's device flag (use_cuda= / cuda=) as a device name, for the entry points you call.

    True means "cuda", False "cpu"; the flag applies only when device is "auto", so an explicit
    device wins. Everything below the entry points takes device= alone.
    """
    if device in (None, "auto") and flag is not None:
        return "cuda" if flag else "cpu"
    return device


def accepts_use_cuda(function: Callable) -> Callable:
    """For an entry point with a `device` argument: also accept the course's use_cuda=True/False
    (see course_device), so the function itself only ever sees device."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, use_cuda: Optional[bool] = None, **kwargs):
        if use_cuda is None:
            return function(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        bound.arguments["device"] = course_device(bound.arguments["device"], use_cuda)
        return function(*bound.args, **bound.kwargs)
    return wrapper


def tune_cpu_allocator() -> bool:
    """Linux only: make the C allocator keep freed memory for reuse. Returns whether it took effect.

    By default glibc returns every large block (a batch's activations) to the kernel when it is freed
    and maps fresh zeroed pages for the next batch; the page faults cost about a third of a CPU
    training epoch of SimpleNetFinal (measured on a 2-core CPU). Raising the thresholds keeps that memory in the
    process: a little more resident memory, no work lost. Elsewhere (macOS, Windows, musl) it does nothing.
    """
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library this process already runs on
    if mallopt is None:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 512 << 20))


def verify(check: Callable[[], object]) -> str:
    """Run one notebook check and say how it went, without ever raising.

    Returns (and prints) "Correct", "Not implemented yet" for a NotImplementedError stub, or
    "Wrong: <message>" for a failed assertion or any other error.
    """
    try:
        check()
        verdict = "Correct"
    except NotImplementedError:
        verdict = "Not implemented yet"
    except AssertionError as err:
        verdict = f"Wrong: {err}" if str(err) else "Wrong: " + traceback.format_exc(limit=-1).strip()
    except Exception as err:  # noqa: BLE001 - a crash in student code is a verdict, not a dead notebook
        verdict = f"Wrong: {type(err).__name__}: {err}"
    print(verdict)
    return verdict
