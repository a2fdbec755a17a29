"""The student notebook, executed once per session in quick mode with its answer cells filled in.

conftest.py registers quick_notebook_run for the session: test_notebook.py checks the run itself, test_report.py
the report made from it (one execution: it is the slowest step of the suite).
"""
import os
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"

UNANSWERED = "p2_dropout"  # the one answer cell the run leaves empty: its page must say "no answer yet"


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


def answer_text(key: str) -> str:
    """What the run writes into an answer cell: a few sentences that name their item."""
    return f"My answer to {key}: the curves flatten after a few epochs.\n\nA second paragraph, 95.5% sure."


@pytest.fixture(scope="session")
def quick_notebook_run(tmp_path_factory):
    """notebooks/proj4.ipynb executed headless with PROJ4_QUICK=1 from notebooks/, as a student runs it, every answer
    cell filled in but UNANSWERED's (the notebook's CI smoke test and the report's, on one execution: it is the
    slowest step of the suite). Returns a dict: notebook (executed), path (it saved), seconds, committed (the
    notebook's bytes before), model_output and model_output_after (snapshots of the real model_output/)."""
    import nbformat
    from nbclient import NotebookClient

    from proj4_lib import report

    notebook_file = REPO_ROOT / "notebooks" / "proj4.ipynb"
    if not (DATA_DIR / "train").is_dir():
        message = "the dataset is missing; run `proj4 data install`"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    before = {"committed": notebook_file.read_bytes(), "model_output": _snapshot(REPO_ROOT / "model_output")}
    notebook = nbformat.read(notebook_file, as_version=4)
    for cell in notebook.cells:
        key = report.answer_key(cell.source) if cell.cell_type == "markdown" else None
        if key and key != UNANSWERED:
            cell.source = cell.source.replace(report.PLACEHOLDER, answer_text(key))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROJ4_QUICK", "1")
        patch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend, as for a student
        start = time.perf_counter()
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(notebook_file.parent)}}).execute()
        seconds = time.perf_counter() - start
    before["model_output_after"] = _snapshot(REPO_ROOT / "model_output")
    path = tmp_path_factory.mktemp("quick_notebook") / "executed.ipynb"
    nbformat.write(notebook, path)  # as the student's saved notebook; and to look at when something is off
    print(f"notebook executed in quick mode in {seconds:.0f} s")
    return {"notebook": notebook, "path": path, "seconds": seconds, **before}
