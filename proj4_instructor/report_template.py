"""Generate the student report template for proj4 (Scene Recognition with Deep Learning).

Students fill in `report_template.pptx` (repository root) and submit it as a PDF. Graders look for
each answer on a fixed slide, so the slide order and the "[Insert ... here]" placeholders are part
of the grading contract: change them here, never by editing the .pptx by hand, then regenerate with

    python -m proj4_instructor.report_template            # writes report_template.pptx
    python -m proj4_instructor.report_template --out x.pptx

and commit the result. The output is byte-for-byte reproducible (fixed document properties and zip
member dates) so `instructor_tests/test_report_template.py` can check the committed file is current.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import zipfile
from pathlib import Path

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Inches, Pt

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "report_template.pptx"

TITLE = "Project 4: Scene Recognition with Deep Learning"
DO_NOT_DELETE = "Do not delete, reorder or add slides: graders look for each answer on its slide."
ABLATION_ROWS = [
    "SimpleNet (baseline)",
    "+ jitter (augmentation)",
    "+ normalization",
    "+ dropout",
    "+ deeper network",
    "+ batch norm",
]
ATTRIBUTES = ["clouds", "water", "people", "animals", "natural", "man-made", "vehicles"]
OVERALL_ROW = "Overall (element-wise)"

# Arial is on every machine students use (PowerPoint, Google Slides, LibreOffice maps it to the
# metric-compatible Liberation Sans), so what we check in the render is what students see.
FONT = "Arial"
DARK = RGBColor(0x1F, 0x2A, 0x44)
GREY = RGBColor(0x59, 0x59, 0x59)
BORDER = RGBColor(0x7F, 0x7F, 0x7F)
WARN = RGBColor(0xA0, 0x1C, 0x1C)
SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.5)
BODY_TOP = Inches(1.35)
BODY_W = SLIDE_W - 2 * MARGIN
FIXED_TIME = dt.datetime(2024, 1, 1, 0, 0, 0)
ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def _style(run, size, bold=False, italic=False, color=DARK):
    run.font.name, run.font.size, run.font.bold, run.font.italic = FONT, Pt(size), bold, italic
    run.font.color.rgb = color


def _fill_frame(tf, lines, size, bold=False, italic=False, color=DARK, align=PP_ALIGN.LEFT):
    """Write one paragraph per line; explicit fonts so no theme default leaks in."""
    tf.word_wrap = True
    tf.auto_size = MSO_AUTO_SIZE.NONE
    for i, line in enumerate(lines):
        para = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        para.alignment = align
        run = para.add_run()
        run.text = line
        _style(run, size, bold, italic, color)


def add_title(prs, text, top=Inches(0.3), height=Inches(0.9), size=30):
    """New slide whose title placeholder holds `text`, so tools (and tests) see a real slide title."""
    slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only"
    title = slide.shapes.title
    title.left, title.top, title.width, title.height = MARGIN, top, BODY_W, height
    title.text_frame.vertical_anchor = MSO_ANCHOR.MIDDLE
    _fill_frame(title.text_frame, [text], size, bold=True)
    return slide


def add_textbox(slide, left, top, width, height, lines, size=18, **kw):
    box = slide.shapes.add_textbox(left, top, width, height)
    _fill_frame(box.text_frame, lines if isinstance(lines, list) else [lines], size, **kw)
    return box


def add_image_placeholder(slide, left, top, width, height, text, align=PP_ALIGN.CENTER):
    """Bordered, unfilled rectangle: students paste their figure (or answer) over / into it."""
    rect = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, left, top, width, height)
    # The default <p:style> adds a theme shadow and white text; drop it, style explicitly below.
    rect._element.remove(rect._element.find(qn("p:style")))
    rect.fill.background()
    rect.line.color.rgb, rect.line.width = BORDER, Pt(1.25)
    tf = rect.text_frame
    tf.vertical_anchor = MSO_ANCHOR.MIDDLE if align == PP_ALIGN.CENTER else MSO_ANCHOR.TOP
    tf.margin_left = tf.margin_right = tf.margin_top = Inches(0.12)
    _fill_frame(tf, [text], 16, italic=True, color=GREY, align=align)
    return rect


def add_table(slide, left, top, width, header, rows, col_widths, row_h=Inches(0.55)):
    """Header row, then `rows`; "[Insert" cells are grey italic so prompts stand apart from labels."""
    shape = slide.shapes.add_table(len(rows) + 1, len(header), left, top, width, row_h * (len(rows) + 1))
    table = shape.table
    for j, w in enumerate(col_widths):
        table.columns[j].width = w
    for i, row in enumerate([header] + rows):
        table.rows[i].height = row_h
        for j, value in enumerate(row):
            cell = table.cell(i, j)
            cell.vertical_anchor = MSO_ANCHOR.MIDDLE
            prompt = i > 0 and value.startswith("[Insert")
            _fill_frame(cell.text_frame, [value], 16, bold=(i == 0), italic=prompt,
                        color=RGBColor(0xFF, 0xFF, 0xFF) if i == 0 else (GREY if prompt else DARK))
    return table


def add_questions(slide, questions, top=BODY_TOP):
    """Stack question + answer box pairs so every answer has a fixed, visible place."""
    gap, q_h = Inches(0.15), Inches(0.75)
    each = (SLIDE_H - top - Inches(0.3)) / len(questions)
    for k, question in enumerate(questions):
        y = top + int(each * k)
        add_textbox(slide, MARGIN, y, BODY_W, q_h, f"Q{k + 1}. {question}", size=17, bold=True)
        add_image_placeholder(slide, MARGIN, y + q_h, BODY_W, int(each) - q_h - gap,
                              "[Insert your answer here]", align=PP_ALIGN.LEFT)


def add_plots_slide(prs, part, model):
    slide = add_title(prs, f"{part}: {model} loss and accuracy")
    w, h = (BODY_W - Inches(0.3)) / 2, Inches(4.4)
    add_image_placeholder(slide, MARGIN, BODY_TOP, int(w), h, "[Insert loss plot here]")
    add_image_placeholder(slide, MARGIN + int(w) + Inches(0.3), BODY_TOP, int(w), h,
                          "[Insert accuracy plot here]")
    add_textbox(slide, MARGIN, BODY_TOP + h + Inches(0.25), BODY_W, Inches(1.2),
                ["Final training accuracy: [Insert value here]", "Final test accuracy: [Insert value here]"],
                size=20)


def _build(prs):
    slide = add_title(prs, TITLE, top=Inches(0.9), height=Inches(1.6), size=40)
    add_textbox(slide, MARGIN, Inches(2.7), BODY_W, Inches(2.0),
                ["[Insert your name here]", "[Insert your email here]", "[Insert your GT username here]"],
                size=24)
    add_textbox(slide, MARGIN, Inches(5.2), BODY_W, Inches(1.2),
                [DO_NOT_DELETE, "Replace every \u201c[Insert ... here]\u201d and keep each answer inside its box."],
                size=20, bold=True, color=WARN)

    # Part 1
    add_plots_slide(prs, "Part 1", "SimpleNet")
    add_questions(add_title(prs, "Part 1: short answers"), [
        "Look at your loss and accuracy curves: is SimpleNet overfitting, underfitting, or neither? "
        "How can you tell?",
        "Why can the validation loss rise while the training loss keeps falling? What would you change?",
    ])

    # Part 2: each row adds one change on top of all the rows above it.
    slide = add_title(prs, "Part 2: ablation table")
    add_textbox(slide, MARGIN, BODY_TOP - Inches(0.1), BODY_W, Inches(0.5),
                "Each row adds one change on top of all rows above it (same number of epochs).",
                size=16, italic=True, color=GREY)
    add_table(slide, MARGIN, BODY_TOP + Inches(0.55), BODY_W,
              ["Change", "Train accuracy", "Test accuracy"],
              [[r, "[Insert train accuracy here]", "[Insert test accuracy here]"] for r in ABLATION_ROWS],
              [Inches(4.333), Inches(4.0), Inches(4.0)], row_h=Inches(0.6))
    add_questions(add_title(prs, "Part 2: augmentation and normalization"), [
        "Why does data augmentation (jitter) improve test accuracy? Which augmentations make sense "
        "for scene images, and which would not?",
        "Why do we normalize the input images (subtract the mean, divide by the standard deviation)? "
        "Which images should the mean and std be computed on?",
    ])
    add_questions(add_title(prs, "Part 2: dropout and batch norm"), [
        "What does dropout do at training time, and what changes at test time (model.eval())? "
        "Why does it reduce overfitting?",
        "What does batch normalization compute, and why does the deeper network need it to train well?",
    ])
    add_plots_slide(prs, "Part 2", "SimpleNetFinal")

    # Part 3
    add_plots_slide(prs, "Part 3", "MyResNet18")
    slide = add_title(prs, "Part 3: confusion matrix")
    add_image_placeholder(slide, MARGIN, BODY_TOP, Inches(6.9), Inches(5.8),
                          "[Insert confusion matrix here]")
    add_textbox(slide, Inches(7.7), BODY_TOP, Inches(5.13), Inches(0.9),
                "Which classes are confused most often, and why?", size=17, bold=True)
    add_image_placeholder(slide, Inches(7.7), BODY_TOP + Inches(0.9), Inches(5.13), Inches(4.9),
                          "[Insert your answer here]", align=PP_ALIGN.LEFT)
    slide = add_title(prs, "Part 3: misclassified test images")
    w, gap = Inches(3.9), (BODY_W - 3 * Inches(3.9)) / 2
    for k in range(3):
        x = MARGIN + k * (w + int(gap))
        add_image_placeholder(slide, x, BODY_TOP + Inches(0.2), w, w, f"[Insert misclassified image {k + 1} here]")
        add_textbox(slide, x, BODY_TOP + Inches(0.3) + w, w, Inches(1.0),
                    ["true: [Insert class here]", "predicted: [Insert class here]"],
                    size=16, align=PP_ALIGN.CENTER)
    add_questions(add_title(prs, "Part 3: fine-tuning questions"), [
        "Why do we freeze the pretrained backbone and train only the new final layer?",
        "What changes (accuracy, training time, risk of overfitting) when you unfreeze more layers?",
        "Why does the pretrained ResNet-18 converge so much faster than SimpleNet trained from scratch?",
    ])

    # Part 4
    slide = add_title(prs, "Part 4: attribute accuracy table")
    add_table(slide, MARGIN, BODY_TOP, Inches(7.5), ["Attribute", "Test accuracy"],
              [[a, "[Insert test accuracy here]"] for a in ATTRIBUTES + [OVERALL_ROW]],
              [Inches(3.5), Inches(4.0)])
    add_textbox(slide, Inches(8.4), BODY_TOP, Inches(4.43), Inches(0.9),
                "What do you notice in this table?", size=17, bold=True)
    add_image_placeholder(slide, Inches(8.4), BODY_TOP + Inches(0.9), Inches(4.43), Inches(4.05),
                          "[Insert your observations here]", align=PP_ALIGN.LEFT)
    add_questions(add_title(prs, "Part 4: short answers"), [
        "Why do we use sigmoid + binary cross-entropy instead of softmax + cross-entropy for the attributes?",
        "Which attributes are hardest to predict, and why? Think about class imbalance (e.g. very few "
        "images contain animals): what does a high accuracy mean for a rare attribute?",
    ])

    # Extra credit
    slide = add_title(prs, "Extra credit: what you did and results")
    add_image_placeholder(slide, MARGIN, BODY_TOP, BODY_W, Inches(2.2),
                          "[Insert what you did for extra credit here]", align=PP_ALIGN.LEFT)
    add_image_placeholder(slide, MARGIN, BODY_TOP + Inches(2.45), BODY_W, Inches(3.4),
                          "[Insert extra credit results (plots, accuracies) here]")


def _widen_layouts(prs, old_w):
    """The default template is 4:3; stretch master/layout placeholders so a slide "reset" in
    PowerPoint does not pull titles back into a 4:3 box."""
    for owner in [prs.slide_master, *prs.slide_layouts]:
        for shape in owner.placeholders:
            shape.left, shape.width = shape.left * SLIDE_W // old_w, shape.width * SLIDE_W // old_w


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite the package with fixed member dates; order, names and contents are unchanged.

    Members are stored uncompressed: deflate output depends on the zlib build (zlib-ng, Intel,
    Cloudflare forks compress differently), which would break the byte-equality test across
    machines, and the file is small anyway."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            member.compress_type = zipfile.ZIP_STORED
            member.external_attr = 0o644 << 16
            member.create_system = 0
            dst.writestr(member, src.read(info))
    return out.getvalue()


def build_template(path) -> None:
    """Write the report template to `path` (byte-identical on every run)."""
    prs = Presentation()
    old_w = prs.slide_width
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    _widen_layouts(prs, old_w)
    _build(prs)
    props = prs.core_properties
    props.title, props.author, props.last_modified_by = TITLE, "proj4 course staff", "proj4 course staff"
    props.created = props.modified = props.last_printed = FIXED_TIME
    props.revision = 1
    props.comments = "Generated by: python -m proj4_instructor.report_template"
    buf = io.BytesIO()
    prs.save(buf)
    Path(path).write_bytes(_deterministic_zip(buf.getvalue()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output .pptx (default: {DEFAULT_OUT.name} at the repository root)")
    args = parser.parse_args(argv)
    build_template(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
