"""A stand-in for the CPU-only torch + torchvision that Gradescope's setup.sh installs.

PyTorch's CPU index is out of reach here. What is reachable:
  - torch 2.13.0+cpu, the REAL CPU-only build (cp311), in this machine's pip find-links folder;
  - torchvision 0.28.0 (its matching release) from PyPI, built against CUDA torch: its compiled
    operators (_C.so: nms, roi_align, ...) cannot load beside the CPU torch, and
    `_meta_registrations.py` then fails at import ("operator torchvision::nms does not exist").
The stand-in torchvision is that PyPI wheel with `_C.so` removed and its two `register_fake`
decorators made conditional on `torchvision.extension._has_ops()`, as the file already does for
its `register_meta` ones. This project uses none of those operators: the models, transforms and
datasets it uses are pure Python over torch. Both wheels go in one folder for setup.sh's
PROJ4_TORCH_FIND_LINKS.
"""
from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List

TORCH, TORCHVISION = "2.13.0", "0.28.0"
LABEL = "standin"  # the stand-in torchvision's local version: 0.28.0+standin, so pip can only take it from here
PINS = {"torch": f"{TORCH}+cpu", "torchvision": f"{TORCHVISION}+{LABEL}"}
PYTHON_TAG = "cp311"  # the wheel on disk; bookworm's python3 is 3.11
GUARD = '''

def _register_fake_if_ops(name):
    """torch.library.register_fake, only where torchvision's compiled operators loaded (stand-in)."""
    def wrapper(fn):
        if torchvision.extension._has_ops():
            return torch.library.register_fake(name)(fn)
        return fn

    return wrapper
'''


class StandinError(RuntimeError):
    """The stand-in cannot be built; the message says which wheel is missing or why."""


def find_links() -> List[Path]:
    """The find-links folders of this machine's pip configuration."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    folders = []
    for line in out.splitlines():
        if ".find-links=" in line:
            for item in line.split("=", 1)[1].strip("'\"").split():
                path = Path(item[len("file://"):] if item.startswith("file://") else item)
                if path.is_dir():
                    folders.append(path)
    return folders


def torch_cpu_wheel() -> Path:
    for folder in find_links():
        for wheel in sorted(folder.glob(f"torch-{TORCH}+cpu-{PYTHON_TAG}-*.whl")):
            return wheel
    raise StandinError(f"torch {TORCH}+cpu ({PYTHON_TAG}) is in none of pip's find-links folders "
                       f"({', '.join(map(str, find_links())) or 'none configured'})")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def patch_torchvision(wheel: Path, out: Path) -> Path:
    """The stand-in torchvision wheel in `out`, version X+standin: no _C.so, fake registrations guarded."""
    files: Dict[str, bytes] = {}
    old_info, new_info = f"torchvision-{TORCHVISION}.dist-info/", f"torchvision-{TORCHVISION}+{LABEL}.dist-info/"
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            files[info.filename.replace(old_info, new_info)] = zf.read(info)
    metadata = new_info + "METADATA"
    if metadata not in files:
        raise StandinError(f"{wheel.name}: no {old_info}METADATA")
    files[metadata] = files[metadata].replace(f"\nVersion: {TORCHVISION}\n".encode(),
                                              f"\nVersion: {TORCHVISION}+{LABEL}\n".encode(), 1)
    files.pop("torchvision/_C.so", None)
    meta = files["torchvision/_meta_registrations.py"].decode()
    count = meta.count("@torch.library.register_fake(")
    if count == 0:
        raise StandinError(f"{wheel.name}: no register_fake decorators to guard; the stand-in recipe is out of date")
    meta = meta.replace("@torch.library.register_fake(", "@_register_fake_if_ops(")
    anchor = "import torchvision.extension  # noqa: F401\n"
    if anchor not in meta:
        raise StandinError(f"{wheel.name}: _meta_registrations.py has no `{anchor.strip()}` line")
    files["torchvision/_meta_registrations.py"] = meta.replace(anchor, anchor + GUARD, 1).encode()
    record = next(name for name in files if re.fullmatch(r"torchvision-[^/]+\.dist-info/RECORD", name))
    files[record] = ("\n".join(_record_line(n, d) for n, d in files.items() if n != record)
                     + f"\n{record},,\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    target = out / wheel.name.replace(f"-{TORCHVISION}-", f"-{TORCHVISION}+{LABEL}-")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return target


def build(cache: Path) -> Path:
    """A folder with the torch CPU wheel and the stand-in torchvision (built once, cached)."""
    folder = Path(cache) / f"torch-standin-{TORCH}-{TORCHVISION}"
    if (folder / "done").is_file():
        return folder
    torch_wheel = torch_cpu_wheel()
    with tempfile.TemporaryDirectory(prefix="proj4-standin-") as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                               "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "-d", tmp,
                               f"torchvision=={TORCHVISION}"], capture_output=True, text=True)
        wheels = list(Path(tmp).glob(f"torchvision-{TORCHVISION}-*.whl"))
        if done.returncode != 0 or not wheels:
            raise StandinError(f"pip could not download torchvision {TORCHVISION}: {done.stderr.strip()[-500:]}")
        shutil.rmtree(folder, ignore_errors=True)
        patch_torchvision(wheels[0], folder)
    shutil.copy2(torch_wheel, folder / torch_wheel.name)
    (folder / "done").write_text(f"torch {torch_wheel.name} (real CPU build); torchvision {TORCHVISION} from PyPI, "
                                 "_C.so removed, register_fake guarded (stand-in)\n")
    return folder


def describe(folder: Path) -> str:
    """What the rehearsal's report says about the torch it measured."""
    return (folder / "done").read_text().strip()
