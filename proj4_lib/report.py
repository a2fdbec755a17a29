"""`proj4 report`: the written report, made from your run record and your notebook's answers.

    proj4 report --gt_username NAME        writes NAME_proj4.pdf (and with --slides NAME_proj4.pptx)

Page k of the PDF is always item k of the rubric (proj4_lib/rubric.py), whatever is done, so one
Gradescope outline fits every student's report. Each page: the question, your figures and numbers
from the run record (proj4_lib/run_record.py: model_output/run_record.json), and your answer from
the notebook's answer cell for that question (a Markdown cell holding the line
`<!-- answer KEY ... -->`: everything below that line is the answer). What is missing is said on its
page ("Part 3 not trained yet", "no answer yet") and listed by the command; the report is made anyway.

The PDF is drawn with matplotlib's own PDF backend (already needed for the plots): pure Python, its
fonts (DejaVu) ship inside matplotlib, so the same file comes out on Colab, Windows, macOS and Linux
with no LaTeX, browser or office suite to install. The text stays text (matplotlib's default Type 3
fonts, which text extractors read: the tests read every page with pdftotext); TrueType embedding
(pdf.fonttype 42) was four times slower to write for nothing more. The run record travels inside the PDF, in its
metadata under /Proj4Report (base64 of the zlib-compressed JSON), for the TA's
`proj4-instructor reports`; read it back with read_embedded().

Base layer: nothing here imports your code, so a report can be made whatever state your files are in.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import textwrap
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from proj4_lib import parts, rubric, run_record

PathLike = Union[str, Path]
MARKER = re.compile(r"^\s*<!--\s*answer\s+([A-Za-z0-9_]+)\b.*?-->\s*$")
PLACEHOLDER = "*Double-click here and replace this line with your answer.*"
NO_ANSWER = "no answer yet"
METADATA_KEY = "Proj4Report"
PAGE_SIZE = (11.0, 8.5)  # inches, US Letter landscape
USERNAME = re.compile(r"[A-Za-z0-9_.-]+")  # as zip_submission.py checks it: the name becomes a file name
WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019.,-][A-Za-z0-9]+)*")


def words(text: str) -> int:
    """Words as a reader counts them: runs of letters and digits ("3.5%", "don't" and "man-made" are one)."""
    return len(WORD.findall(text or ""))


# -- the answers, from the notebook file --------------------------------------------------------------------------
def answer_cell(item: rubric.Item) -> str:
    """The Markdown of an item's answer cell in the committed notebook (make_notebook renders it)."""
    limit = f", at most {item.words} words" if item.words else ""
    points = f"{item.points} points" if item.points else "extra credit"
    return (f"**Report, page {rubric.page_of(item.key)}: {item.title}** ({points}{limit})\n\n{item.question}\n\n"
            f"<!-- answer {item.key}: your answer goes below this line; `proj4 report` copies everything under it -->\n"
            f"{PLACEHOLDER}")


def answer_key(text: str) -> Optional[str]:
    """The item key of an answer cell's marker line in `text`, or None."""
    return next((found.group(1) for found in map(MARKER.match, text.splitlines()) if found), None)


def read_answers(notebook: PathLike) -> Tuple[Dict[str, str], List[str]]:
    """({item key: answer text}, problems) from a saved .ipynb: each answer cell's text under its marker line.

    A key whose cell is missing is absent; one with two cells takes the last (a problem says so)."""
    path = Path(notebook)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} cannot be read as a notebook ({type(err).__name__}: {err}); save the notebook "
                         "(File > Save) and run this again, or pass --notebook PATH") from None
    answers: Dict[str, str] = {}
    problems: List[str] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        lines = ("".join(source) if isinstance(source, list) else str(source)).splitlines()
        for index, line in enumerate(lines):
            found = MARKER.match(line)
            if not found:
                continue
            key = found.group(1)
            if key in answers:
                problems.append(f"two answer cells for {key} (the second, cell {number}, is taken)")
            text = "\n".join(below for below in lines[index + 1:] if below.strip() != PLACEHOLDER).strip()
            answers[key] = text
            break
    return answers, problems


# -- what each page shows -----------------------------------------------------------------------------------------
@dataclass
class Block:
    """One thing a page shows: its data from the record, or why it is missing."""

    kind: str  # one of rubric.SHOWS
    part: str  # a part's name, or "" (the ablation)
    data: Any = None  # None: missing
    missing: str = ""  # what to do to get it
    label: str = ""  # what it is, for the slide template's "[Insert ... here]"


@dataclass
class Page:
    number: int
    item: rubric.Item
    blocks: List[Block]
    answer: str  # "" when there is none
    notes: List[str] = field(default_factory=list)  # shown in red: over the word limit, ...

    @property
    def words(self) -> int:
        return words(self.answer)


LABELS = {"curves": "loss and accuracy curves", "accuracy": "final accuracies", "hparams": "hyper-parameters",
          "transforms": "transforms", "architecture": "layers", "parameters": "parameter counts",
          "confusion": "confusion matrix", "misclassified": "misclassified test images",
          "attributes": "attribute accuracy table", "ablation": "ablation table"}
NEEDS = {"confusion": "confusion", "misclassified": "misclassified", "attributes": "attributes",
         "transforms": "transforms"}  # kind -> the entry's key filled by an analysis cell


def _not_trained(name: str) -> str:
    part = parts.get_part(name)
    return (f"Part {part.number} ({part.class_name}) not trained yet: run its training cell in the notebook "
            f"(or `proj4 train {part.name}`)")


def block(kind: str, name: str, record: Optional[dict]) -> Block:
    if kind == "ablation":
        rows = (record or {}).get("ablation", {}).get("rows") or []
        label = "Part 2 ablation table"
        return Block(kind, name, dict(record["ablation"]) if rows else None, "" if rows else
                     "Part 2's ablation table not made yet: run the ablation cell after Part 2's training", label)
    part = parts.get_part(name)
    label = f"Part {part.number} ({part.class_name}) {LABELS[kind]}"
    entry = (record or {}).get("parts", {}).get(part.name)
    if not entry or (kind not in ("parameters", "architecture") and not entry.get("history")):
        return Block(kind, name, None, _not_trained(name), label)
    if kind in NEEDS and not entry.get(NEEDS[kind]):
        cell = "training cell" if kind == "transforms" else f"cell that shows the {LABELS[kind]}"
        return Block(kind, name, None, f"Part {part.number}'s {LABELS[kind]} not recorded yet: run the {cell} "
                                       f"(after Part {part.number}'s training)", label)
    if kind in ("parameters", "architecture") and not entry.get(kind):
        return Block(kind, name, None, _not_trained(name), label)
    return Block(kind, name, entry, "", label)


def pages(record: Optional[dict], answers: Optional[Dict[str, str]]) -> List[Page]:
    """The report's pages, one per rubric item in order; record/answers None: nothing filled in (the template)."""
    out = []
    for number, item in enumerate(rubric.ITEMS, start=1):
        answer = (answers or {}).get(item.key, "")
        page = Page(number, item, [block(kind, name, record) for kind, name in item.shows], answer)
        if item.words and page.words > item.words:
            page.notes.append(f"{page.words} words: the limit is {item.words}")
        out.append(page)
    return out


def missing(report_pages: Sequence[Page]) -> List[str]:
    """What is missing, page by page (the command prints it)."""
    found = []
    for page in report_pages:
        seen = []
        for b in page.blocks:
            if b.data is None and b.missing not in seen:
                seen.append(b.missing)
        if not page.answer and page.item.points:
            seen.append(NO_ANSWER)
        found += [f"page {page.number} ({page.item.title}): {text}" for text in seen + page.notes]
    return found


# -- the facts, as text -------------------------------------------------------------------------------------------
def fact_lines(b: Block) -> List[str]:
    """The text a fact block shows (accuracy, hparams, parameters, and the missing message of any block)."""
    if b.data is None:
        return []
    entry, part = b.data, parts.get_part(b.part) if b.part else None
    if b.kind == "accuracy":
        what = "element-wise test accuracy" if part.multilabel else "test accuracy"
        line = (f"{part.class_name} after {entry['epochs']} epochs: training accuracy "
                f"{_pct(entry.get('train_accuracy'))}, {what} {_pct(entry.get('test_accuracy'))} "
                f"(threshold {part.threshold:.0%})")
        saved = entry.get("checkpoint")
        kept = (f"saved as {saved['file']}, SHA-256 {saved['sha256'][:16]}..." if saved else
                "not saved since this training: run the part's save cell")
        return [line, kept]
    if b.kind == "hparams":
        hp = entry.get("hparams", {})
        size = hp.get("inp_size")
        values = [f"epochs {hp.get('epochs', entry.get('epochs'))}", f"batch size {hp.get('batch_size')}",
                  f"learning rate {hp.get('lr')} ({hp.get('schedule', '').replace('_', '-')}, {hp.get('optimizer')})",
                  f"weight decay {hp.get('weight_decay')}"]
        if size:
            values.append(f"input {size[0]}x{size[1]}")
        if entry.get("backbone"):
            values.append(f"backbone {entry['backbone']}")
        values.append(f"device {entry.get('device')}, {entry.get('train_seconds', 0):.0f} s of training")
        return [" | ".join(values)]
    if b.kind == "parameters":
        counts = entry["parameters"]
        text = f"{part.class_name}: {counts['trainable']:,} trainable parameters"
        if counts.get("frozen"):
            text += f", {counts['frozen']:,} frozen (the pretrained {entry.get('backbone') or 'backbone'})"
        return [text]
    return []


def _pct(value) -> str:
    return "-" if value is None else f"{value:.2%}"


def header(page: Page, total: int, username: str) -> Tuple[str, str]:
    points = f"{page.item.points} points" if page.item.points else "extra credit"
    return (f"Project 4 report: {username}",
            f"page {page.number} of {total}  |  {points}  |  rubric item {page.item.key}")


# -- drawing ------------------------------------------------------------------------------------------------------
FACTS = ("accuracy", "hparams", "parameters")
PANEL_WIDTH = {"curves": 2.0, "confusion": 1.2, "misclassified": 2.0, "attributes": 1.6, "ablation": 3.0,
               "architecture": 2.2, "transforms": 2.2}
GREY, RED, DARK = "#595959", "#a01c1c", "#1f2a44"


def _wrap(text: str, width_in: float, size: float) -> List[str]:
    """Lines of `text` that fit `width_in` inches at `size` points (DejaVu Sans: about 0.52 em a character)."""
    chars = max(20, int(width_in * 72 / (size * 0.52)))
    lines = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, chars, break_on_hyphens=False) or [""]  # "cross-entropy" stays whole
    return lines


def _text(fig, x, y, text, size, **kw):
    return fig.text(x, y, text, fontsize=size, va="top", parse_math=False, **kw)


def draw_panel(fig, rect, b: Block, size=PAGE_SIZE) -> None:
    """One panel of the evidence area, in figure coordinates rect = (left, bottom, width, height) of a figure of
    `size` inches."""
    left, bottom, width, height = rect
    if b.data is None:
        ax = fig.add_axes(rect)
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("#bbbbbb")
        lines = _wrap(b.missing, width * size[0] - 0.3, 10)
        ax.text(0.5, 0.5, "\n".join(lines), ha="center", va="center", fontsize=10, color=GREY, style="italic",
                transform=ax.transAxes, parse_math=False)
        return
    entry = b.data
    if b.kind == "curves":
        from matplotlib.ticker import MaxNLocator

        history, gap = entry["history"], 0.06
        w = (width - gap) / 2
        for i, (key, title) in enumerate((("loss", "Loss"), ("accuracy", "Accuracy"))):
            ax = fig.add_axes((left + i * (w + gap) + 0.03, bottom + 0.04, w - 0.03, height - 0.08))
            epochs = range(1, len(history[f"train_{key}"]) + 1)
            ax.plot(epochs, history[f"train_{key}"], "-o", color="#1f4e9c", ms=3, label="training")
            ax.plot(epochs, history[f"validation_{key}"], "-o", color="#c0392b", ms=3, label="test")
            ax.set_title(f"{title} per epoch", fontsize=9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=7)
    elif b.kind == "confusion":
        import numpy as np

        matrix, labels = np.array(entry["confusion"]["matrix"], dtype=float), entry["confusion"]["labels"]
        ax = fig.add_axes((left + 0.06, bottom + 0.07, width - 0.07, height - 0.1))
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1e-9, matrix.max()))
        ax.set_xticks(range(len(labels)), labels=labels, rotation=90, fontsize=5)
        ax.set_yticks(range(len(labels)), labels=labels, fontsize=5)
        ax.set_title("Confusion matrix (rows: true class)", fontsize=8)
    elif b.kind == "misclassified":
        _draw_misclassified(fig, rect, entry["misclassified"])
    elif b.kind in ("attributes", "ablation"):
        header_row, rows, widths = (_attribute_table(entry["attributes"]) if b.kind == "attributes"
                                    else _ablation_table(entry))
        ax = fig.add_axes(rect)
        ax.axis("off")
        share = min(1.0, (len(rows) + 1) * 0.3 / size[1] / height)
        table = ax.table(cellText=rows, colLabels=header_row, colWidths=[w / sum(widths) for w in widths],
                         cellLoc="center", bbox=(0, 1 - share, 1, share))
        table.auto_set_font_size(False)
        table.set_fontsize(8.5)
        if b.kind == "ablation":
            _text(fig, left, bottom + height * (1 - share) - 0.01, f"Each row adds its change to the rows above it; "
                  f"{entry.get('epochs')} epochs each, seed 0.", 8.5, color=GREY)
    else:  # architecture, transforms: text in a monospace block
        lines = entry["architecture"] if b.kind == "architecture" else _transform_lines(entry["transforms"])
        title = (f"{entry.get('class_name', '')} layers [parameters]" if b.kind == "architecture"
                 else "Transforms of this run")
        _text(fig, left, bottom + height, title, 9, weight="bold", color=DARK)
        longest = max((len(line) for line in lines), default=1)
        points = max(5.0, min(8.5, (height - 0.03) * size[1] * 72 / (1.2 * max(len(lines), 1)),
                              width * size[0] * 72 / (0.61 * longest)))
        room = int((height - 0.03) * size[1] * 72 / (1.2 * points))
        shown = lines if len(lines) <= room else lines[:room - 1] + [f"... {len(lines) - room + 1} more lines"]
        chars = int(width * size[0] * 72 / (0.61 * points))
        _text(fig, left, bottom + height - 0.03, "\n".join(line[:chars] for line in shown), points,
              family="DejaVu Sans Mono", color=DARK, linespacing=1.2)


def _draw_misclassified(fig, rect, found: dict) -> None:
    from PIL import Image

    left, bottom, width, height = rect
    images = found.get("images", [])
    title = (f"{found['count']} test images of {found['true']} predicted as {found['predicted']} "
             f"(the most confused pair); {len(images)} of them:" if found.get("count") else
             "No test image is misclassified.")
    _text(fig, left, bottom + height, title, 9, color=DARK)
    w = width / max(3, len(images))
    for i, image in enumerate(images):
        ax = fig.add_axes((left + i * w + 0.005, bottom, w - 0.01, height - 0.07))
        with Image.open(io.BytesIO(base64.b64decode(image["jpeg_base64"]))) as img:
            ax.imshow(img.convert("L"), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{image['name']}\ntrue {found['true']}, predicted {found['predicted']}", fontsize=7)
        ax.axis("off")


def _attribute_table(attributes: dict) -> Tuple[List[str], List[List[str]]]:
    rows = []
    for name, accuracy in attributes["accuracy"].items():
        yes = attributes.get("yes_rate", {}).get(name)
        rows.append([name, f"{accuracy:.2%}", _pct(yes), _pct(None if yes is None else 1 - yes)])
    return ["attribute", "test accuracy", "'yes' in the test set", "accuracy of always 'no'"], rows, [1, 1, 1, 1]


def _ablation_table(ablation: dict) -> Tuple[List[str], List[List[str]]]:
    rows = [[r["change"], r.get("model", ""), f"{r.get('parameters', 0):,}", _pct(r.get("train_accuracy")),
             _pct(r.get("test_accuracy")),
             _pct(None if r.get("train_accuracy") is None or r.get("test_accuracy") is None
                  else round(r["train_accuracy"] - r["test_accuracy"], 6) + 0.0),  # + 0.0: never "-0.00%"
            f"{r.get('seconds', 0):.0f} s"]
            for r in ablation["rows"]]
    return (["change", "model", "parameters", "train accuracy", "test accuracy", "gap", "time"], rows,
            [2.2, 1.6, 1.1, 1.1, 1.1, 0.9, 0.8])


def _transform_lines(transforms: dict) -> List[str]:
    lines = []
    for split in ("train", "test"):
        lines.append(f"{split}:")
        lines += ["  " + line.strip() for line in transforms.get(split, "").splitlines()
                  if line.strip() not in ("", ")")]
    return lines


def draw_page(fig, page: Page, total: int, username: str, record: Optional[dict]) -> None:
    """Everything of one page onto a blank figure of PAGE_SIZE."""
    width_in = PAGE_SIZE[0] - 1.0
    left_text, right_text = header(page, total, username)
    _text(fig, 0.045, 0.975, left_text, 9, color=GREY)
    _text(fig, 0.955, 0.975, right_text, 9, color=GREY, ha="right")
    if record is not None and any(e.get("quick") for e in record.get("parts", {}).values()):
        _text(fig, 0.5, 0.955, "QUICK MODE (PROJ4_QUICK=1): a smoke test on a few images, not your results. "
                               "Do not submit this report.", 9, color=RED, ha="center", weight="bold")
    _text(fig, 0.045, 0.935, f"{page.number}. {page.item.title}", 16, weight="bold", color=DARK)
    question = _wrap(page.item.question, width_in, 11)
    _text(fig, 0.045, 0.885, "\n".join(question), 11, color=DARK, linespacing=1.3)
    y = 0.885 - len(question) * 11 * 1.3 / 72 / PAGE_SIZE[1] - 0.02

    facts = [line for b in page.blocks if b.kind in FACTS for line in fact_lines(b)]
    shown = {b.missing for b in page.blocks if b.kind not in FACTS}
    for b in page.blocks:  # a missing fact's reason, once, unless a panel says it already
        if b.kind in FACTS and b.data is None and f"[{b.missing}]" not in facts and b.missing not in shown:
            facts.append(f"[{b.missing}]")
    for line in facts:
        missing_line = line.startswith("[")
        for part_of_line in _wrap(line.strip("[]"), width_in, 9.5):
            _text(fig, 0.045, y, part_of_line, 9.5, color=GREY if missing_line else DARK,
                  style="italic" if missing_line else "normal", family="DejaVu Sans")
            y -= 0.026
    panels = [b for b in page.blocks if b.kind not in FACTS]
    answer_top = 0.33 if panels else max(0.33, y - 0.02)
    draw_panels(fig, panels, y - 0.01, answer_top + 0.03)
    draw_answer(fig, page, answer_top)
    stamp = f"From {run_record.NAME}" + (f", updated {record.get('updated')}" if record and record.get("updated")
                                          else " (none found)") + ". Made by `proj4 report`: page k is rubric item k."
    _text(fig, 0.045, 0.022, stamp, 7, color=GREY)


def draw_panels(fig, panels: Sequence[Block], top: float, bottom: float, left: float = 0.045, right: float = 0.955,
                size=PAGE_SIZE) -> None:
    """The panel blocks side by side between top and bottom (figure coordinates), widths by kind."""
    if not panels:
        return
    gap = 0.02
    weights = [PANEL_WIDTH[b.kind] for b in panels]
    unit = (right - left - gap * (len(panels) - 1)) / sum(weights)
    for b, weight in zip(panels, weights):
        draw_panel(fig, (left, bottom, unit * weight, top - bottom), b, size)
        left += unit * weight + gap


def panels_png(page: Page, size=(12.3, 3.6)) -> Optional[bytes]:
    """The page's panels as one PNG (for a slide); None if it has none."""
    from matplotlib.figure import Figure

    panels = [b for b in page.blocks if b.kind not in FACTS]
    if not panels:
        return None
    buffer = io.BytesIO()
    with style():
        fig = Figure(figsize=size)
        draw_panels(fig, panels, 0.95, 0.03, 0.01, 0.99, size)
        fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def draw_answer(fig, page: Page, top: float) -> None:
    from matplotlib.patches import Rectangle

    fig.add_artist(Rectangle((0.04, 0.04), 0.92, top - 0.045, transform=fig.transFigure, fill=False,
                             edgecolor="#7f7f7f", linewidth=1))
    limit = f"; at most {page.item.words}" if page.item.words else ""
    _text(fig, 0.05, top - 0.012, f"Your answer ({page.words} words{limit})", 10, weight="bold", color=DARK)
    if page.notes:
        _text(fig, 0.95, top - 0.012, "; ".join(page.notes), 10, color=RED, ha="right")
    if not page.answer:
        _text(fig, 0.05, top - 0.05, NO_ANSWER + " (write it in the notebook's answer cell for this question, "
              "save the notebook, and make the report again)", 10.5, color=GREY, style="italic")
        return
    height_in = (top - 0.09) * PAGE_SIZE[1]
    for size in (10.5, 9.5, 8.5, 7.5):
        lines = _wrap(page.answer, 0.9 * PAGE_SIZE[0], size)
        room = int(height_in * 72 / (size * 1.25))
        if len(lines) <= room:
            break
    if len(lines) > room:  # the page count is fixed: what does not fit is cut, and the page says so
        lines = lines[:room - 1] + ["[... cut: the rest does not fit on the page; shorten the answer]"]
    _text(fig, 0.05, top - 0.05, "\n".join(lines), size, color="black", linespacing=1.25)


def embed(record: Optional[dict], username: str) -> str:
    payload = {"username": username, "rubric": [i.key for i in rubric.ITEMS], "record": record}
    return base64.b64encode(zlib.compress(json.dumps(payload).encode("utf-8"), 9)).decode("ascii")


def read_embedded(pdf: PathLike) -> Optional[dict]:
    """{"username", "rubric", "record"} that build_pdf put into the PDF's metadata; None if it has none."""
    data = Path(pdf).read_bytes()
    found = re.search(rb"/" + METADATA_KEY.encode() + rb"\s*\(((?:[A-Za-z0-9+/=\s]|\\\r?\n)*)\)", data)
    if found:
        text = re.sub(rb"\\\r?\n|\s", b"", found.group(1))
    else:
        hexed = re.search(rb"/" + METADATA_KEY.encode() + rb"\s*<([0-9A-Fa-f\s]*)>", data)
        if not hexed:
            return None
        text = bytes.fromhex(re.sub(rb"\s", b"", hexed.group(1)).decode())
    try:
        return json.loads(zlib.decompress(base64.b64decode(text)).decode("utf-8"))
    except (ValueError, zlib.error):
        return None


@contextlib.contextmanager
def style() -> Iterator[None]:
    """matplotlib's defaults while the report is drawn: the same pages whatever a notebook or a matplotlibrc has
    set (restored after)."""
    import matplotlib

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update({"pdf.fonttype": 3, "font.family": "DejaVu Sans"})
        yield


def build_pdf(path: PathLike, report_pages: Sequence[Page], record: Optional[dict], username: str) -> Path:
    """Write the PDF: one page per item, the record in its metadata. Returns the path."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    metadata = {"Title": f"Project 4 report: {username}", "Author": username,
                "Subject": "proj4 written report: page k is rubric item k",
                "Keywords": f"proj4 report; run record in /{METADATA_KEY}", METADATA_KEY: embed(record, username)}
    try:  # written beside, then renamed: a failure never leaves half a PDF under the name you upload
        with style(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Unknown infodict keyword")
            with PdfPages(tmp, metadata=metadata) as pdf:
                for page in report_pages:
                    fig = Figure(figsize=PAGE_SIZE)  # not pyplot's: nothing is shown in the notebook, nothing leaks
                    draw_page(fig, page, len(report_pages), username, record)
                    pdf.savefig(fig)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- the command's work ------------------------------------------------------------------------------------------
def make_report(username: str, record_path: PathLike, notebook: Optional[PathLike], out_dir: PathLike,
                slides: bool = False, say=print) -> Tuple[Path, List[str]]:
    """Write out_dir/<username>_proj4.pdf (and .pptx with slides=True); returns (pdf path, what is missing).

    A missing notebook or record gives a report with those pages marked missing; an unreadable record
    raises run_record.RecordError (never overwritten)."""
    if not USERNAME.fullmatch(username or "") or username.startswith("."):
        raise ValueError(f"invalid GT username {username!r}: letters, digits, '_', '.', '-' (as for zip_submission.py)")
    record_path = Path(record_path)
    record = run_record.read(record_path) if record_path.is_file() else None
    notes = [] if record is not None else [f"no run record at {record_path}: train a part first (its figures and "
                                           "numbers come from the record)"]
    answers: Dict[str, str] = {}
    if notebook is not None and Path(notebook).is_file():
        answers, problems = read_answers(notebook)
        notes += problems
        say(f"Answers from {notebook} (as last saved: save the notebook first if you changed them).")
    else:
        notes.append(f"no notebook at {notebook}: every answer is missing (pass --notebook PATH)")
    report_pages = pages(record, answers)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf = build_pdf(out_dir / f"{username}_proj4.pdf", report_pages, record, username)
    if slides:
        from proj4_lib import slides as slides_module

        slides_module.build(out_dir / f"{username}_proj4.pptx", report_pages, username, record)
    return pdf, notes + missing(report_pages)
