"""The report: the run record, the answer cells, `proj4 report`'s PDF and slides, Part 2's ablation.

The slow test reads the PDF made from the notebook's own quick-mode run (conftest.quick_notebook_run,
shared with test_notebook.py): every page rendered to PNG (pdftoppm) and its text read (pdftotext), one
rubric item per page, the numbers equal to the run record's. The fast tests take each piece alone.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from notebook_run import UNANSWERED, answer_text

from proj4_lib import parts, report, rubric, run_record
from proj4_tools import ablation, cli

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def poppler():
    """pdftotext, pdftoppm and pdfimages (Debian: poppler-utils): skipped without them locally, failed in CI."""
    if not all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdfimages", "pdfinfo")):
        message = ("poppler-utils (pdftotext, pdftoppm, pdfimages, pdfinfo) is not installed: "
                   "apt-get install poppler-utils")
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)


def page_texts(pdf: Path) -> list:
    """The text of each page, whitespace collapsed (pdftotext)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [" ".join(page.split()) for page in text.split("\f")[:-1]]


def flat(text: str) -> str:
    return " ".join(text.split())


# -- the run record ------------------------------------------------------------------------------------------------
def fake_trainer(accuracy=0.5, epochs=2):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    history = {"train_loss": [1.0, 0.5][:epochs], "train_accuracy": [0.4, 0.6][:epochs],
               "validation_loss": [1.1, float("nan")][:epochs], "validation_accuracy": [0.3, accuracy][:epochs],
               "epoch_seconds": [1.5, 1.0][:epochs]}
    return SimpleNamespace(model=model, history=history, epoch=epochs, device=torch.device("cpu"))


def test_training_and_saving_are_recorded_and_a_retraining_replaces_the_part(tmp_path):
    hparams = {"epochs": 2, "batch_size": 32, "lr": 0.003, "weight_decay": 1e-4, "inp_size": (64, 64), "resume": True}
    entry = run_record.record_training(tmp_path, "simple_net", fake_trainer(0.55), hparams, "notebook")
    assert entry["test_accuracy"] == 0.55 and entry["hparams"]["inp_size"] == [64, 64]
    assert "resume" not in entry["hparams"]
    checkpoint = tmp_path / "trained_SimpleNet_final.pt"
    checkpoint.write_bytes(b"weights")
    run_record.record_checkpoint(tmp_path, checkpoint)
    run_record.record_confusion(tmp_path, "simple_net", [[1.0, 0.0], [0.5, 0.5]], ["a", "b"])
    record = run_record.read(run_record.path_in(tmp_path))
    part = record["parts"]["simple_net"]
    assert part["checkpoint"]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert part["checkpoint"]["test_accuracy"] == 0.55 and part["confusion"]["labels"] == ["a", "b"]
    assert part["history"]["validation_loss"] == [1.1, None], "a NaN loss is stored as null (JSON has no NaN)"
    assert part["parameters"] == {"trainable": 15, "frozen": 0}
    assert [r["event"] for r in record["runs"]] == ["trained", "saved"]

    run_record.record_training(tmp_path, "simple_net", fake_trainer(0.6), hparams, "proj4 train")
    record = run_record.read(run_record.path_in(tmp_path))
    assert record["parts"]["simple_net"]["checkpoint"] is None, "the saved file is not this training's"
    assert record["parts"]["simple_net"]["confusion"] is None and len(record["runs"]) == 3


def test_every_write_keeps_the_version_before(tmp_path):
    path = run_record.path_in(tmp_path)
    run_record.update(path, lambda r: r.update(note="first"))
    run_record.update(path, lambda r: r.update(note="second"))
    assert json.loads(path.read_text())["note"] == "second"
    assert json.loads(path.with_name(path.name + ".bak").read_text())["note"] == "first"
    assert not list(tmp_path.glob(".*tmp")), "no temporary file is left"


@pytest.mark.parametrize("content, says", [
    (b'{"parts": {', "cannot be read as a run record"),
    (b'{"model": "simple_net"}', "is not a proj4 run record"),
    (json.dumps({"format": run_record.FORMAT, "version": 99}).encode(), "newer than this proj4 reads"),
    (b"\xff\xfe\x00garbage", "cannot be read as a run record"),
])
def test_an_unreadable_record_is_never_overwritten(tmp_path, content, says):
    path = run_record.path_in(tmp_path)
    path.write_bytes(content)
    with pytest.raises(run_record.RecordError, match=says) as err:
        run_record.record_training(tmp_path, "simple_net", fake_trainer(), {"epochs": 2}, "notebook")
    assert str(path) in str(err.value) and "left as it is" in str(err.value)
    assert path.read_bytes() == content
    # The command says so too, and still loses nothing; the notebook's cells say it and go on.
    assert cli.main(["report", "--gt_username", "gburdell3", "--record", str(path), "--out", str(tmp_path)]) == 1
    assert path.read_bytes() == content and not (tmp_path / "gburdell3_proj4.pdf").exists()


# -- the answers ---------------------------------------------------------------------------------------------------
def notebook_with(tmp_path, cells) -> Path:
    path = tmp_path / "proj4.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": kind, "metadata": {}, "source": source}
                                          for kind, source in cells], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_answers_are_read_from_their_cells(tmp_path):
    item = rubric.ITEMS[0]
    committed = report.answer_cell(item)
    assert committed.count("<!--") == 1 and report.PLACEHOLDER in committed
    assert f"at most {item.words} words" in committed
    cells = [("markdown", committed.replace(report.PLACEHOLDER, "Underfitting: both curves still fall.")),
             ("markdown", report.answer_cell(rubric.ITEMS[1])),  # untouched: no answer
             ("code", "# <!-- answer p2_dropout --> in a code cell is not an answer cell"),
             ("markdown", ["<!-- answer p2_parameters -->\n", "first\n"]),
             ("markdown", "<!--answer p2_parameters-->\nsecond, 56,895 vs 1.2M")]
    answers, problems = report.read_answers(notebook_with(tmp_path, cells))
    assert answers == {item.key: "Underfitting: both curves still fall.", rubric.ITEMS[1].key: "",
                       "p2_parameters": "second, 56,895 vs 1.2M"}
    assert problems == ["two answer cells for p2_parameters (the second, cell 5, is taken)"]
    assert report.words("man-made 3.5% don't, a b") == 5
    with pytest.raises(ValueError, match="cannot be read as a notebook"):
        report.read_answers(tmp_path / "missing.ipynb")


def test_the_committed_notebook_has_one_answer_cell_per_item_after_its_analysis():
    """In the rubric's order, each right after the cell its question is about, with empty metadata."""
    notebook = json.loads((REPO_ROOT / "notebooks" / "proj4.ipynb").read_text())
    keys = [report.answer_key("".join(cell["source"])) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
            and report.answer_key("".join(cell["source"]))]
    assert keys == [item.key for item in rubric.ITEMS]
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    anchors = {"training": "nb.report_accuracy(", "confusion_matrix": "nb.record_confusion(",
               "misclassified": "nb.show_misclassified(", "attribute_accuracy": "nb.show_attribute_accuracy(",
               "ablation": "nb.run_ablation("}
    for item in rubric.ITEMS:
        at = next(i for i, s in enumerate(sources) if report.answer_key(s) == item.key)
        previous = next(s for s in reversed(sources[:at]) if not report.answer_key(s))
        expected = anchors.get(item.after, "## Your report")
        assert expected in previous, f"{item.key} follows {previous[:80]!r}, not the {item.after} cell"


# -- the report without a record or a notebook: every page, each saying what is missing ---------------------------
def test_with_nothing_done_every_page_is_there_and_says_what_is_missing(tmp_path, capsys, poppler):
    assert cli.main(["report", "--gt_username", "gburdell3", "--record", str(tmp_path / "none.json"),
                     "--notebook", str(tmp_path / "none.ipynb"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    pages = page_texts(tmp_path / "gburdell3_proj4.pdf")
    assert len(pages) == len(rubric.ITEMS)
    assert "Part 3 (MyResNet18) not trained yet" in pages[rubric.page_of("p3_freezing") - 1]
    assert "ablation table not made yet" in pages[rubric.page_of("p2_ablation") - 1]
    assert all(report.NO_ANSWER in page for page in pages)
    assert "no run record" in out and "no notebook" in out and "page 8 (Part 3: fine-tuning" in out
    assert cli.main(["report", "--gt_username", "../x", "--out", str(tmp_path)]) == 1


def test_the_slides_hold_the_same_pages(tmp_path):
    from pptx import Presentation

    from proj4_lib import slides

    hparams = {"epochs": 2, "batch_size": 32, "lr": 0.003, "weight_decay": 1e-4, "inp_size": (64, 64)}
    run_record.record_training(tmp_path, "simple_net", fake_trainer(0.55), hparams, "notebook")
    record = run_record.read(run_record.path_in(tmp_path))
    pages = report.pages(record, {"p1_fit": "Underfitting.\nSecond line."})
    deck = Presentation(str(slides.build(tmp_path / "s.pptx", pages, "gburdell3", record)))
    assert len(deck.slides) == len(rubric.ITEMS)
    first = "\n".join(s.text_frame.text for s in deck.slides[0].shapes if s.has_text_frame)
    assert "Underfitting.\nSecond line." in first and "test accuracy 55.00%" in first and "batch size 32" in first
    assert any(shape.shape_type == 13 for shape in deck.slides[0].shapes), "the curves are a picture"  # PICTURE
    assert report.NO_ANSWER in "\n".join(s.text_frame.text for s in deck.slides[2].shapes if s.has_text_frame)


# -- Part 2's ablation --------------------------------------------------------------------------------------------
def test_the_ablation_edits_the_students_own_models():
    from proj4_code.simple_net import SimpleNet
    from proj4_code.simple_net_final import SimpleNetFinal

    net = SimpleNet()
    dropped = ablation.with_dropout(net)
    linears = [m for m in dropped.modules() if isinstance(m, torch.nn.Sequential) and
               isinstance(m[0], torch.nn.Dropout) and isinstance(m[1], torch.nn.Linear)]
    assert len(linears) == sum(isinstance(m, torch.nn.Linear) for m in net.modules()) == 2
    assert not any(isinstance(m, torch.nn.Dropout) for m in net.modules()), "the student's model is not changed"
    final = SimpleNetFinal()
    plain = ablation.without_batch_norm(final)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in final.modules())
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in plain.modules())
    assert all(m.bias is not None for m in plain.modules() if isinstance(m, torch.nn.Conv2d)), \
        "a convolution batch norm followed gets its bias back"
    assert all(m.bias is None for m in final.modules() if isinstance(m, torch.nn.Conv2d))
    x = torch.rand(2, 1, 64, 64)
    assert dropped.eval()(x).shape == plain.eval()(x).shape == (2, 15)
    assert [row[0] for row in ablation.ROWS] == ["SimpleNet (baseline)", "+ jitter (augmentation)", "+ normalization",
                                                 "+ dropout", "+ deeper network", "+ batch norm"]


def test_the_ablation_says_how_long_first_and_records_every_row(tmp_path):
    from proj4_lib.fixtures import class_tree

    data = class_tree(tmp_path / "data", [f"c{c:02d}" for c in range(15)], 2)
    said = []
    rows = ablation.run_ablation(data, tmp_path / "out", epochs=1, device="cpu", say=said.append)
    assert said[0].startswith("The ablation trains 6 models for 1 epochs each: about") and len(said) == 7
    recorded = run_record.read(run_record.path_in(tmp_path / "out"))["ablation"]
    assert recorded["rows"] == rows and recorded["epochs"] == 1 and len(rows) == len(ablation.ROWS)
    assert [r["model"] for r in rows] == ["SimpleNet"] * 4 + ["SimpleNetFinal"] * 2
    assert rows[3]["parameters"] == rows[0]["parameters"], "dropout adds no parameter"
    assert all(0 <= r["test_accuracy"] <= 1 for r in rows)


def test_the_ablation_estimate_uses_the_students_own_epochs():
    measured = {"parts": {"simple_net": {"history": {"epoch_seconds": [4.0, 1.0, 1.0]}},
                          "simple_net_final": {"history": {"epoch_seconds": [10.0, 3.0]}}}}
    seconds, source = ablation.estimate_seconds(measured, epochs=10)
    assert seconds == pytest.approx(4 * (4 + 9 * 1) + 2 * (10 + 9 * 3)) and "your own" in source
    assert "reference" in ablation.estimate_seconds({}, 10)[1]


# -- the notebook's own run, then `proj4 report` -------------------------------------------------------------------
@pytest.fixture(scope="module")
def made(quick_notebook_run, tmp_path_factory):
    """`proj4 report --slides` on the quick run's saved notebook and record: (pdf, record, seconds, output)."""
    out = tmp_path_factory.mktemp("report")
    record_path = REPO_ROOT / "model_output_quick" / run_record.NAME
    start = time.perf_counter()
    done = subprocess.run(["proj4", "report", "--gt_username", "gburdell3", "--notebook",
                           str(quick_notebook_run["path"]), "--record", str(record_path), "--out", str(out),
                           "--slides"], capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    print(f"proj4 report (with --slides) took {seconds:.1f} s")
    return out / "gburdell3_proj4.pdf", run_record.read(record_path), seconds, done.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_report_of_the_quick_run(made, tmp_path, poppler):
    pdf, record, seconds, stdout = made
    pages = page_texts(pdf)
    assert len(pages) == len(rubric.ITEMS)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == len(rubric.ITEMS) and all(p.stat().st_size > 2000 for p in pngs)

    for number, (item, text) in enumerate(zip(rubric.ITEMS, pages), start=1):
        assert flat(f"{number}. {item.title}") in text and flat(item.question) in text, f"page {number}"
        others = [i for i in rubric.ITEMS if i is not item and flat(i.question) in text]
        assert not others, f"page {number} holds other questions: {[i.key for i in others]}"
        assert "QUICK MODE" in text, "a quick run's report says not to submit it"
        if item.key == UNANSWERED:
            assert report.NO_ANSWER in text
        else:
            assert flat(answer_text(item.key)) in text and report.NO_ANSWER not in text, f"page {number}"
        for kind, name in item.shows:  # the record's numbers, as the page prints them
            entry = record["parts"].get(name, {})
            if kind == "accuracy":
                assert f"test accuracy {entry['test_accuracy']:.2%}" in text, f"page {number}"
                assert f"training accuracy {entry['train_accuracy']:.2%}" in text
                assert entry["checkpoint"]["sha256"][:16] in text, "the saved checkpoint's SHA-256"
            if kind == "hparams":
                hp = entry["hparams"]
                for words in (f"epochs {hp['epochs']}", f"batch size {hp['batch_size']}", f"learning rate {hp['lr']}",
                              f"weight decay {hp['weight_decay']}", f"input {hp['inp_size'][0]}x{hp['inp_size'][1]}"):
                    assert words in text, f"page {number} lacks {words!r}"
            if kind == "curves":
                assert "Loss per epoch" in text and "Accuracy per epoch" in text
            if kind == "parameters":
                assert f"{entry['parameters']['trainable']:,} trainable parameters" in text
            if kind == "ablation":
                rows = record["ablation"]["rows"]
                assert len(rows) == len(ablation.ROWS)
                for row in rows:
                    assert flat(row["change"]) in text and f"{row['test_accuracy']:.2%}" in text
            if kind == "attributes":
                for attribute, value in entry["attributes"]["accuracy"].items():
                    assert re.search(rf"{re.escape(attribute)} {value:.2%}", text), attribute
            if kind == "misclassified" and entry.get("misclassified"):
                assert f"predicted as {entry['misclassified']['predicted']}" in text

    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    per_page = [int(line.split()[0]) for line in images.splitlines()[2:]]
    for key, least in (("p2_confusion", 1), ("p3_mistakes", 1 + len(record["parts"]["my_resnet"]["misclassified"]
                                                                     ["images"]))):
        assert per_page.count(rubric.page_of(key)) >= least, f"the figures of {key} are not on its page"
    assert report.read_embedded(pdf)["record"] == record, "the PDF carries the run record"
    assert f"page {rubric.page_of(UNANSWERED)} (" in stdout and report.NO_ANSWER in stdout

    from pptx import Presentation

    deck = Presentation(str(pdf.with_suffix(".pptx")))
    assert [s.shapes.title.text_frame.text for s in deck.slides] == \
        [f"{k}. {item.title}" for k, item in enumerate(rubric.ITEMS, start=1)]
    assert seconds < 60, f"proj4 report took {seconds:.0f} s"


def test_the_record_names_only_known_parts():
    with pytest.raises(ValueError, match="unknown part"):
        run_record.record_confusion("/nonexistent", "alexnet", [[1.0]], ["a"])
    assert {name for kind, name in (s for item in rubric.ITEMS for s in item.shows) if name} <= set(parts.names())
