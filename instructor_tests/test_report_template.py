"""The committed slide template (report_template.pptx): current, reproducible, and the rubric slide for slide.

The template is proj4_instructor/report_template.py's output: the report of proj4_lib/report.py with
nothing filled in, one slide per rubric item (proj4_lib/rubric.py) in the rubric's order.
"""
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.util import Inches

from proj4_instructor.report_template import build_template
from proj4_lib import report, rubric, slides

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "report_template.pptx"
REGENERATE = "run `python -m proj4_instructor.report_template` and commit report_template.pptx"


@pytest.fixture(scope="module")
def prs():
    assert TEMPLATE.is_file(), f"{TEMPLATE} is missing: {REGENERATE}"
    return Presentation(str(TEMPLATE))


def _texts(slide) -> str:
    return "\n".join(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame)


def test_committed_file_is_up_to_date(tmp_path):
    fresh = tmp_path / "report_template.pptx"
    build_template(fresh)
    assert TEMPLATE.is_file(), f"{TEMPLATE} is missing: {REGENERATE}"
    assert fresh.read_bytes() == TEMPLATE.read_bytes(), (
        f"report_template.pptx is stale or not reproducible: {REGENERATE}")


def test_regeneration_is_deterministic(tmp_path):
    build_template(tmp_path / "a.pptx")
    build_template(tmp_path / "b.pptx")
    assert (tmp_path / "a.pptx").read_bytes() == (tmp_path / "b.pptx").read_bytes()


def test_slide_size_is_16_9(prs):
    assert abs(prs.slide_width - Inches(13.333)) < Inches(0.01)
    assert abs(prs.slide_height - Inches(7.5)) < Inches(0.01)


def test_one_slide_per_rubric_item_in_order(prs):
    titles = [slide.shapes.title.text_frame.text for slide in prs.slides]
    assert titles == [f"{k}. {item.title}" for k, item in enumerate(rubric.ITEMS, start=1)]


@pytest.mark.parametrize("number", range(1, len(rubric.ITEMS) + 1))
def test_each_slide_has_its_question_placeholders_and_answer_box(prs, number):
    item, page = rubric.ITEMS[number - 1], report.pages(None, None)[number - 1]
    text = _texts(prs.slides[number - 1])
    assert item.question in text
    assert f"page {number} of {len(rubric.ITEMS)}" in text and slides.KEEP_ORDER in text
    assert "[Insert your answer here]" in text
    for block in page.blocks:
        assert f"[Insert your {block.label} here]" in text, f"slide {number} has no box for {block.label}"
    if item.words:
        assert f"at most {item.words} words" in text


def test_the_rubric_adds_up_to_the_reports_points():
    assert rubric.total_points() == rubric.REPORT_POINTS == 30
    assert len({item.key for item in rubric.ITEMS}) == len(rubric.ITEMS)
    assert [rubric.page_of(item.key) for item in rubric.ITEMS] == list(range(1, len(rubric.ITEMS) + 1))
