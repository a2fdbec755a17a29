"""What a student reads says what the code does: the install line, the data sources, the Colab guide, the zip.

The texts: the starter's README (proj4_instructor/student_README.md), the notebook's Markdown,
data/README.md and environment.yml.
"""
import re
from pathlib import Path

import nbformat
import pytest

from proj4_lib import colab

REPO = Path(__file__).resolve().parents[1]
STUDENT_README = (REPO / "proj4_instructor" / "student_README.md").read_text()
NOTEBOOK = nbformat.read(REPO / "notebooks" / "proj4.ipynb", as_version=4)
NOTEBOOK_TEXT = "\n".join(c.source for c in NOTEBOOK.cells if c.cell_type == "markdown")
DATA_README = (REPO / "data" / "README.md").read_text()
TEXTS = {"student README": STUDENT_README, "notebook": NOTEBOOK_TEXT, "data/README.md": DATA_README}


def extras(text: str) -> set:
    """The extras of every `pip install -e .[...]` / `-e .[...]` in the text."""
    return {frozenset(found.split(",")) for found in re.findall(r'-e "?\.\[([a-z,]+)\]"?', text)}


def test_every_install_line_has_the_same_extras():
    expected = frozenset(colab.EXTRAS.split(","))  # what the Colab set-up installs
    places = {"student README": STUDENT_README, "notebook": NOTEBOOK_TEXT,
              "environment.yml": (REPO / "environment.yml").read_text(), "README.md": (REPO / "README.md").read_text()}
    for name, text in places.items():
        assert extras(text) == {expected}, f"{name}: install extras {extras(text)}, expected {set(expected)}"
    assert expected == {"offline", "dev"}, "[dev] brings pytest, which the notebook's test instructions need"


@pytest.mark.parametrize("name", ["student README", "notebook"])
def test_data_install_is_shown_with_its_source(name):
    commands = re.findall(r"proj4 data install[^`\n]*", TEXTS[name])
    assert commands and all("--from" in command for command in commands), commands


def test_files_named_in_data_readme_exist():
    named = re.findall(r"`((?:proj4_lib|proj4_code)/[\w./]+)`", DATA_README)
    assert named and all((REPO / path).exists() for path in named), named
    assert "shared" not in DATA_README, "the course machines' ../shared/data is not the student's"


def test_the_data_sources_that_work_are_written_down():
    for name, text in TEXTS.items():
        assert "share link" in text, f"{name} does not say that Drive/Dropbox share links do not work"


def test_the_colab_guide():
    guide = " ".join(STUDENT_README.split("## On Colab", 1)[1].split("\n## ", 1)[0].split())
    for needed in ("Upload notebook", "DRIVE_FOLDER", "STARTER", "DATA", "survives a reset", "resume=True",
                   "does not", "download"):
        assert needed in guide, f"the On Colab section does not mention {needed!r}"
    for name, text in {"student README": STUDENT_README, "notebook": NOTEBOOK_TEXT}.items():
        for sentence in re.split(r"(?<=[.:;])\s", text):
            assert "fork" not in sentence or "cannot" in sentence, f"{name} advises a fork: {sentence!r}"


@pytest.mark.parametrize("name", ["student README", "notebook"])
def test_the_cpu_only_torch_is_explained(name):
    assert "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu" in TEXTS[name]


def test_the_readme_says_what_the_submission_holds(tmp_path, monkeypatch):
    """The Submitting section names every kind of file zip_submission.py's allow-list takes."""
    import zip_submission

    monkeypatch.setattr(zip_submission, "check_model", lambda root, class_name: zip_submission.model_file(class_name))
    (tmp_path / "proj4_code").mkdir()
    for name in ("proj4_code/__init__.py", "proj4_code/simple_net.py", "setup.py", "README.md"):
        (tmp_path / name).write_text("")
    kinds = {"proj4_code/" if name.startswith("proj4_code/") else
             "trained_*_final.pt" if name.startswith("model_output/") else name
             for name in zip_submission.submission_files(tmp_path)}
    assert kinds == {"proj4_code/", "trained_*_final.pt", "setup.py", "README.md"}, kinds
    section = STUDENT_README.split("## Submitting", 1)[1]
    for kind in ("proj4_code/*.py", "trained_*_final.pt", "setup.py", "README"):
        assert kind in section, f"the Submitting section does not mention {kind}"


def test_the_report_section_says_what_the_code_does():
    """"Your report": the page count, the points, the record's file, the command and its flags, the notebook's cell."""
    from proj4_lib import rubric, run_record
    from proj4_lib.report import PLACEHOLDER
    from proj4_tools import cli

    section = " ".join(STUDENT_README.split("## Your report", 1)[1].split("\n## ", 1)[0].split())
    for needed in (f"{len(rubric.ITEMS)} pages", f"same {len(rubric.ITEMS)} questions",
                   f"{rubric.REPORT_POINTS} of the course's 100 points", f"model_output/{run_record.NAME}",
                   "proj4 report --gt_username", "Save the notebook", "GT_USERNAME", "Colab Notebooks",
                   "<!-- answer ... -->", PLACEHOLDER.strip("*")[:25], "no answer yet", "not trained yet"):
        assert needed in section, f"the Your report section does not say {needed!r}"
    report_parser = cli.build_parser()._subparsers._group_actions[0].choices["report"]
    flags = {option for action in report_parser._actions for option in action.option_strings}
    named = set(re.findall(r"`(--[a-z_]+)", section)) | set(re.findall(r" (--[a-z_]+)", section))
    assert named and named <= flags, named - flags
    report_cell = next(c.source for c in NOTEBOOK.cells if c.cell_type == "code" and "nb.make_report(" in c.source)
    assert "GT_USERNAME" in report_cell and "SLIDES" in report_cell
