"""The packages point one way, and the student's folder cannot break the provided library.

    proj4_lib        the provided library: never imports proj4_code, proj4_tools or the instructor
                     package, not even inside a function, and imports nothing dynamically
    proj4_code       the student room: imports proj4_lib only (its dl_utils imports the part's own
                     module by the registry's name, to rebuild a checkpoint: proj4_code's own modules)
    proj4_tools      the tools that run the student's code (`proj4`, the notebook's checks): import
                     proj4_code and proj4_lib, never the instructor package; dynamic imports (the
                     registry's module names become classes) are allowed here only
    proj4_instructor instructor tooling: may import all three; nothing imports it

Every import statement is read from the source (ast), at any depth, so a lazy import inside a
function counts.
"""
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
LIB, CODE, TOOLS = REPO / "proj4_lib", REPO / "proj4_code", REPO / "proj4_tools"
PACKAGES = ("proj4_code", "proj4_lib", "proj4_tools", "proj4_instructor")
# What each package may import of the others (the folder tree's one way).
MAY_IMPORT = {"proj4_lib": set(), "proj4_code": {"proj4_lib"}, "proj4_tools": {"proj4_lib", "proj4_code"}}
# The course's device names are parameters of these entry points only (everything else takes device=).
COURSE_DEVICE_PARAMETERS = {("proj4_lib/trainer.py", "TrainerBase.__init__", "cuda"),
                            ("proj4_lib/utils.py", "accepts_use_cuda.wrapper", "use_cuda")}


def imports(path: Path) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in the file, top level or inside a function."""
    package = path.parent.name
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: from . import x, from .parts import y
                module = ".".join(filter(None, [package, module]))
            yield node.lineno, module
            # `from proj4_lib import train` imports the module proj4_tools.train
            yield from ((node.lineno, f"{module}.{alias.name}") for alias in node.names)


def dynamic_imports(path: Path) -> Iterator[int]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in ("import_module", "__import__"):
                yield node.lineno


def violations(path: Path, allowed: set) -> list:
    """One line per import statement of `path` that reaches one of our packages it may not import."""
    own = path.parent.name
    found = {}
    for line, name in imports(path):
        top = name.split(".")[0]
        if top in PACKAGES and top != own and top not in allowed:
            found.setdefault(line, f"{own}/{path.name}:{line}: imports {name}")
    return list(found.values())


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_package_imports_only_what_lies_below_it(package):
    found = [v for path in sorted((REPO / package).glob("*.py")) for v in violations(path, MAY_IMPORT[package])]
    assert not found, "\n".join(found)


def test_dynamic_imports_only_where_the_registry_names_become_classes():
    found = [f"{path.parent.name}/{path.name}:{line}" for top in (LIB, CODE) for path in sorted(top.glob("*.py"))
             for line in dynamic_imports(path)]
    assert found == ["proj4_code/dl_utils.py:" + str(next(dynamic_imports(CODE / "dl_utils.py")))], found


def test_nothing_imports_the_instructor_package():
    found = [v for top in (LIB, CODE, TOOLS) for path in sorted(top.glob("*.py"))
             for v in violations(path, set(PACKAGES) - {"proj4_instructor"})]
    assert not found, "\n".join(found)


def test_the_walker_sees_lazy_and_relative_imports(tmp_path):
    """The rule's own check: an import inside a function, a relative one and a dynamic one are found."""
    package = tmp_path / "proj4_lib"
    package.mkdir()
    (package / "bad.py").write_text("import importlib\nfrom . import train\n\n\ndef f():\n"
                                    "    from proj4_code.simple_net import SimpleNet\n"
                                    "    return importlib.import_module('proj4_code.runner')\n")
    found = {name for _, name in imports(package / "bad.py")}
    assert {"proj4_lib.train", "proj4_code.simple_net"} <= found
    assert list(dynamic_imports(package / "bad.py")) == [7]
    assert len(violations(package / "bad.py", MAY_IMPORT["proj4_lib"])) == 1  # the relative import is its own


def test_the_course_device_names_only_at_the_entry_points():
    """device= is the one device argument; cuda= / use_cuda= are parameters only where students call
    (the Trainer, and through accepts_use_cuda the confusion-matrix functions), and every function
    that takes use_cuda through accepts_use_cuda has a device parameter."""
    found, decorated = set(), []
    for path in sorted([*LIB.glob("*.py"), *CODE.glob("*.py"), *TOOLS.glob("*.py")]):
        relative = path.relative_to(REPO).as_posix()
        for owner, node in functions(ast.parse(path.read_text())):
            names = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
            found |= {(relative, owner, name) for name in names if name in ("cuda", "use_cuda")}
            if any(getattr(d, "id", None) == "accepts_use_cuda" for d in node.decorator_list):
                decorated.append((relative, owner, "device" in names))
    assert found == COURSE_DEVICE_PARAMETERS, found ^ COURSE_DEVICE_PARAMETERS
    assert len(decorated) >= 5 and all(has_device for _, _, has_device in decorated), decorated


def functions(tree: ast.AST, prefix: str = ""):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")


# -- `proj4 data install` whatever state the student's files are in ---------------------------------------------
@pytest.fixture
def broken_project(tmp_path) -> Path:
    """The provided library beside a proj4_code whose every file is a syntax error, and a data source
    whose checksums the library's SHA256SUMS lists."""
    project = tmp_path / "project"
    for top in (LIB, TOOLS):
        shutil.copytree(top, project / top.name, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "proj4_code").mkdir()
    for path in CODE.glob("*.py"):
        (project / "proj4_code" / path.name).write_text(path.read_text() + "\ndef broken(:\n")
    source = tmp_path / "source"
    source.mkdir()
    with zipfile.ZipFile(source / "proj4_data.zip", "w") as archive:
        for split in ("train", "test"):
            archive.writestr(f"{split}/coast/image_0001.jpg", f"{split} image".encode())
    sums = []
    for name in ("proj4_data.zip", "scene_attributes_train.csv", "scene_attributes_test.csv"):
        if name.endswith(".csv"):
            (source / name).write_text("coast,image_0001.jpg,0,1,0,0,1,0,0\n")
        sums.append(f"{hashlib.sha256((source / name).read_bytes()).hexdigest()}  {name}")
    (project / "proj4_lib" / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return project


def run_proj4(project: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project), "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "proj4_tools.cli", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def test_data_install_works_with_broken_student_files(broken_project, tmp_path):
    done = run_proj4(broken_project, "data", "install", "--from", str(tmp_path / "source"), "--dest", "data")
    assert done.returncode == 0, done.stderr
    assert (broken_project / "data" / "train" / "coast" / "image_0001.jpg").read_bytes() == b"train image"
    assert (broken_project / "data" / "scene_attributes_test.csv").is_file()
    # The same tree is really broken: the command that needs the student's code says where.
    train = run_proj4(broken_project, "train", "simple_net", "--data-dir", "data", "--epochs", "1")
    assert train.returncode != 0 and "SyntaxError" in train.stderr and "proj4_code" in train.stderr, train.stderr
