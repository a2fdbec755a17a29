"""The report as slides (python-pptx): one slide per rubric item, the same content as the PDF's pages.

    proj4 report --gt_username NAME --slides      NAME_proj4.pptx beside NAME_proj4.pdf

For students who prefer to edit slides: every text (question, numbers, answer) is an editable text
box, the figures are one picture per slide. Keep the slides' number and order when you export it as
a PDF: page k must stay rubric item k. With nothing filled in (pages(None, None)) it is the slide
template, report_template.pptx (proj4_instructor/report_template.py), with "[Insert ... here]" boxes.

Base layer; python-pptx comes with the [dev] extra and is imported only here.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Optional, Sequence, Union

from proj4_lib import report

FONT = "Arial"  # on every machine that opens slides (LibreOffice maps it to the metric-compatible Liberation Sans)
KEEP_ORDER = "Do not add, delete or reorder slides: page k of the PDF you export is rubric item k on Gradescope."


def _presentation():
    try:
        from pptx import Presentation
        from pptx.util import Inches
    except ImportError:
        raise RuntimeError("the slides need python-pptx: pip install python-pptx (it comes with the project's "
                           "[dev] extra); the PDF does not") from None

    prs = Presentation()
    old_w = prs.slide_width
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    for owner in [prs.slide_master, *prs.slide_layouts]:  # the default master is 4:3: widen its placeholders
        for shape in owner.placeholders:
            shape.left, shape.width = shape.left * prs.slide_width // old_w, shape.width * prs.slide_width // old_w
    return prs


def _box(slide, left, top, width, height, lines, size, bold=False, italic=False, color=(0x1F, 0x2A, 0x44),
         border=False):
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE
    from pptx.oxml.ns import qn
    from pptx.util import Inches, Pt

    if border:
        shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, Inches(left), Inches(top), Inches(width), Inches(height))
        shape._element.remove(shape._element.find(qn("p:style")))  # no theme shadow or white text
        shape.fill.background()
        shape.line.color.rgb, shape.line.width = RGBColor(0x7F, 0x7F, 0x7F), Pt(1.25)
    else:
        shape = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    frame = shape.text_frame
    frame.word_wrap, frame.auto_size, frame.vertical_anchor = True, MSO_AUTO_SIZE.NONE, MSO_ANCHOR.TOP
    for i, line in enumerate(lines if isinstance(lines, list) else [lines]):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = line
        run.font.name, run.font.size, run.font.bold, run.font.italic = FONT, Pt(size), bold, italic
        run.font.color.rgb = RGBColor(*color)
    return shape


def add_slide(prs, page: report.Page, total: int, username: str, template: bool) -> None:
    from pptx.util import Inches

    slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only": a real title, for tools and tests
    title = slide.shapes.title
    title.left, title.top, title.width, title.height = Inches(0.5), Inches(0.35), Inches(12.33), Inches(0.7)
    title.text_frame.text = f"{page.number}. {page.item.title}"
    for paragraph in title.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.name, run.font.bold = FONT, True
            run.font.size = Inches(0.38)
    grey = (0x59, 0x59, 0x59)
    left_text, right_text = report.header(page, total, username)
    _box(slide, 0.5, 0.08, 6, 0.3, left_text, 10, color=grey)
    _box(slide, 6.8, 0.08, 6.03, 0.3, right_text, 10, color=grey)
    _box(slide, 0.5, 1.05, 12.33, 0.75, page.item.question, 14)
    facts = [line for b in page.blocks if b.kind in report.FACTS for line in report.fact_lines(b)]
    facts += [f"[Insert your {b.label} here]" if template else b.missing
              for b in page.blocks if b.kind in report.FACTS and b.data is None]
    top = 1.85
    if facts:
        _box(slide, 0.5, top, 12.33, 0.3 * len(facts), facts, 11, italic=template)
        top += 0.3 * len(facts) + 0.05
    panels = [b for b in page.blocks if b.kind not in report.FACTS]
    answer_top = 4.75 if panels else top + 0.1
    if panels and template:
        width = (12.33 - 0.2 * (len(panels) - 1)) / len(panels)
        for k, b in enumerate(panels):
            _box(slide, 0.5 + k * (width + 0.2), top, width, answer_top - top - 0.1, f"[Insert your {b.label} here]",
                 14, italic=True, color=grey, border=True)
    elif panels:
        picture = report.panels_png(page, size=(12.33, answer_top - top - 0.1))
        slide.shapes.add_picture(io.BytesIO(picture), Inches(0.5), Inches(top), Inches(12.33))
    limit = f", at most {page.item.words} words" if page.item.words else ""
    answer = ("[Insert your answer here]" if template else page.answer or report.NO_ANSWER)
    _box(slide, 0.5, answer_top, 12.33, 7.0 - answer_top, [f"Your answer{limit}:", *answer.splitlines()], 12,
         italic=template or not page.answer, border=True)
    _box(slide, 0.5, 7.05, 12.33, 0.3, KEEP_ORDER, 9, color=grey)


def reproducible(data: bytes, date_time=(2024, 1, 1, 0, 0, 0)) -> bytes:
    """The .pptx package with fixed member dates, stored uncompressed (deflate differs between zlib builds)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=date_time)
            member.compress_type, member.external_attr, member.create_system = zipfile.ZIP_STORED, 0o644 << 16, 0
            dst.writestr(member, src.read(info))
    return out.getvalue()


def build(path: Union[str, Path], report_pages: Sequence[report.Page], username: str,
          record: Optional[dict] = None, template: bool = False, properties: Optional[dict] = None) -> Path:
    """Write the slides: one per page, in the rubric's order. properties: the document's core properties
    (title, author, created, ...), fixed by the template so that it is byte-for-byte reproducible."""
    prs = _presentation()
    for page in report_pages:
        add_slide(prs, page, len(report_pages), username, template)
    core = prs.core_properties
    core.title, core.author = f"Project 4 report: {username}", username
    for key, value in (properties or {}).items():
        setattr(core, key, value)
    buffer = io.BytesIO()
    prs.save(buffer)
    path = Path(path)
    path.write_bytes(reproducible(buffer.getvalue()) if properties else buffer.getvalue())
    return path

