"""A student's first hour: the install line brings Jupyter, the public tests read part by part, no
instructor-only path reaches a student.

(`proj4 data install` finding the project folder is proj4_unit_tests/test_data_install.py's.)
"""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from test_student_bugs import code_copy, stub_later_parts

REPO = Path(__file__).resolve().parents[1]
JUPYTER = "jupyter notebook notebooks/proj4.ipynb"


def setup_extras() -> dict:
    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(node for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup")
    extras = next(k.value for k in call.keywords if k.arg == "extras_require")
    return ast.literal_eval(extras)


def test_the_install_line_brings_jupyter_and_the_texts_say_how_to_start_it():
    extras = setup_extras()
    assert "notebook" in extras["dev"] and "notebook" in extras["notebook"], extras
    notebook = nbformat.read(REPO / "notebooks" / "proj4.ipynb", as_version=4)
    texts = {"student README": (REPO / "proj4_instructor" / "student_README.md").read_text(),
             "notebook": "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown"),
             "README.md": (REPO / "README.md").read_text()}
    for name, text in texts.items():
        assert JUPYTER in text and "[dev]" in text, f"{name} does not say that [dev] brings Jupyter and how to start it"


def run_public_tests(root: Path, *files: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)]), "MPLBACKEND": "Agg",
           "PROJ4_MODEL_DIR": str(root / "no_checkpoints")}
    env.pop("CI", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "not slow", "-v",
                           *[str(REPO / "proj4_unit_tests" / f) for f in files]],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    return done.stdout


def test_the_starters_public_tests_read_part_by_part(tmp_path):
    """On the starter's stubs: Part 1's results first (whatever order the files are given in), a stub's
    failure in one line, and one summary line per part at the end."""
    root = code_copy(tmp_path, stub_later_parts(0))
    out = run_public_tests(root, "test_augmentation.py", "test_simple_net.py")
    lines = out.splitlines()
    ran = [line.split("::")[0].rsplit("/", 1)[-1] for line in lines if "::" in line and line.rstrip().endswith(
        ("PASSED", "FAILED", "ERROR", "SKIPPED")) or "::" in line and "%]" in line]
    assert ran and ran[0] == "test_simple_net.py" and ran[-1] == "test_augmentation.py", ran  # Part 1 first
    assert "Not implemented yet: " in out and "Traceback" not in out and "raise NotImplementedError" not in out
    summary = out.split("results by part, in the notebook's order", 1)[1].splitlines()
    summary = [line for line in summary if line.startswith("Part ")]
    assert [line.split(" (")[0] for line in summary] == ["Part 1", "Part 2"], summary
    assert all(re.search(r"\d+ not implemented yet", line) for line in summary), summary
    assert len(lines) < 40 * len(summary) + 60, f"{len(lines)} lines for two files of stubs"


def test_no_instructor_only_path_reaches_a_student():
    """The skip and failure messages of the public tests name no path that exists only on the course's
    machines (../shared/data)."""
    for path in sorted((REPO / "proj4_unit_tests").glob("*.py")):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and (getattr(node.func, "attr", "") in ("skip", "fail", "xfail")
                                               or getattr(node.func, "id", "") == "missing"):
                message = ast.get_source_segment(text, node)
                assert "SHARED" not in message and "shared" not in message.lower(), f"{path.name}: {message}"
