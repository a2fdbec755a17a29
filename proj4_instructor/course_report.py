"""What a regrade writes for the TA: grades.csv, the changed grades, pass rates, failure messages,
histograms, and flags for review (never penalties), gathered in summary.html (open it first).

Flags: byte-identical checkpoints across different submitters; identical student code; and
near-identical code, by the Jaccard similarity of normalised token 5-grams (comments, strings,
whitespace and names removed). The 5-grams of the starter and of the reference solution are left
out: provided code, stubs and the canonical answer to a small TODO make honest students alike, so
only what is a student's own counts as evidence. Each flag names both submissions and the evidence.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import keyword
import re
import tokenize
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from proj4_instructor.gradescope_export import Submission

NGRAM = 5
SIMILAR = 0.85  # Jaccard similarity of code 5-grams at which a pair is flagged
MIN_NGRAMS = 25  # a module with fewer of its own 5-grams says too little to compare
CHANGED = 0.005


@dataclass
class Row:
    """One submission's regrade: its metadata, the new results, and what the flags need."""

    submission: Submission
    results: Optional[dict]  # None: grading failed (see error)
    error: str = ""
    code: Dict[str, str] = field(default_factory=dict)  # graded proj4_code/ module -> source text
    checkpoints: Dict[str, str] = field(default_factory=dict)  # file name -> sha256

    @property
    def score(self) -> Optional[float]:
        return None if self.results is None else float(self.results.get("score", 0.0))

    @property
    def people(self) -> str:
        return "; ".join(p.name for p in self.submission.submitters)

    def tests(self) -> Dict[str, dict]:
        return {t["name"]: t for t in (self.results or {}).get("tests", [])
                if not str(t.get("number", "")).startswith(("0.", "3."))}


def check_names(rows: List[Row]) -> List[str]:
    names: List[str] = []
    for row in rows:
        for name in row.tests():
            if name not in names:
                names.append(name)
    return names


def write_grades_csv(rows: List[Row], path: Path) -> List[str]:
    checks = check_names(rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission_id", "names", "sids", "emails", "created_at", "gradescope_score", "new_score",
                         "changed", "error", *checks])
        for row in rows:
            s = row.submission
            tests = row.tests()
            changed = (row.score is not None and s.score is not None and abs(row.score - s.score) > CHANGED)
            writer.writerow([s.id, row.people, "; ".join(p.sid for p in s.submitters),
                             "; ".join(p.email for p in s.submitters), s.created_at,
                             "" if s.score is None else s.score, "" if row.score is None else row.score,
                             "yes" if changed else "", row.error,
                             *[tests[c]["score"] if c in tests else "" for c in checks]])
    return checks


ONLY_TOTAL = "only the total is known: Gradescope's export holds no per-check results for it"


def changed_grades(rows: List[Row]) -> List[Tuple[Row, List[str]]]:
    """Submissions whose grade changes, each with the checks whose points differ from Gradescope's (or,
    when the export has no per-check results for it, a note that only the total is known)."""
    out = []
    for row in rows:
        old = row.submission.score
        if row.score is None or old is None or abs(row.score - old) <= CHANGED:
            continue
        before = {t.get("name"): t.get("score") for t in (row.submission.results or {}).get("tests", [])
                  if isinstance(t, dict)}
        if not before:
            out.append((row, [ONLY_TOTAL]))
            continue
        diffs = [f"{name}: {before.get(name, '-')} -> {t['score']}" for name, t in row.tests().items()
                 if before.get(name) != t["score"]]
        out.append((row, diffs))
    return out


def normalise_message(text: str) -> str:
    """A failure message with the parts that differ between submissions (numbers, paths) blanked. A first
    line that only announces what follows ("Your code raised an error in the grader's X probe:") keeps
    the line after it, the error's own words."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    first = lines[0]
    if first.endswith(":") and len(lines) > 1:
        first = f"{first} {lines[1]}"
    first = re.sub(r"/[\w./-]+", "<path>", first)
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?%?", "#", first)[:240]


def pass_rates(rows: List[Row]) -> List[Tuple[str, int, int, List[Tuple[str, int]]]]:
    """(check, passed, graded, the three most common failure messages) per check."""
    graded = [r for r in rows if r.results is not None]
    out = []
    for name in check_names(graded):
        outcomes = [r.tests().get(name) for r in graded]
        passed = sum(1 for t in outcomes if t and t["status"] == "passed")
        failures = Counter(normalise_message(t["output"]) for t in outcomes if t and t["status"] != "passed")
        out.append((name, passed, len(graded), failures.most_common(3)))
    return out


def accuracies(rows: List[Row]) -> Dict[str, List[float]]:
    """Test accuracy per part, from the accuracy checks' extra_data (evaluated by the trusted side)."""
    found: Dict[str, List[float]] = defaultdict(list)
    for row in rows:
        for name, test in row.tests().items():
            value = (test.get("extra_data") or {}).get("accuracy")
            if isinstance(value, (int, float)):
                found[name.split("[")[-1].rstrip("]")].append(float(value))
    return dict(found)


# -- flags -------------------------------------------------------------------------------------------------

def tokens(source: str) -> List[str]:
    """Python tokens with names, strings, numbers, comments and layout normalised away."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENCODING, tokenize.ENDMARKER):
                continue
            if tok.type == tokenize.NAME:
                out.append(tok.string if keyword.iskeyword(tok.string) else "N")
            elif tok.type == tokenize.STRING:
                out.append("S")
            elif tok.type == tokenize.NUMBER:
                out.append("#")
            else:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def ngrams(source: str) -> set:
    toks = tokens(source)
    return {tuple(toks[i:i + NGRAM]) for i in range(len(toks) - NGRAM + 1)}


def flags(rows: List[Row], *known: Dict[str, str]) -> List[dict]:
    """Pairs of submissions by different submitters that look copied, with the evidence. `known`:
    {module: source} of code everyone may have (the starter, the reference solution)."""
    found = []
    common: Dict[str, set] = defaultdict(set)
    for sources in known:
        for name, text in sources.items():
            common[name] |= ngrams(text)
    prints: Dict[str, Dict[str, set]] = {}
    for row in rows:
        prints[row.submission.id] = {m: ngrams(t) - common[m] for m, t in row.code.items()}
    people = {r.submission.id: {p.sid or p.email or p.name for p in r.submission.submitters} for r in rows}
    by_hash: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
    for row in rows:
        for name, digest in row.checkpoints.items():
            by_hash[digest].append((row.submission.id, name))
    for digest, owners in by_hash.items():
        ids = sorted({o[0] for o in owners})
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                if not people[a] & people[b]:
                    found.append({"kind": "identical checkpoint", "a": a, "b": b,
                                  "evidence": f"{owners[0][1]} has the same SHA-256 {digest[:16]}..."})
    ids = [r.submission.id for r in rows]
    code = {r.submission.id: r.code for r in rows}
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if people[a] & people[b]:
                continue
            same, similar = [], []
            for module in sorted(set(prints[a]) & set(prints[b])):
                x, y = prints[a][module], prints[b][module]
                if len(x) < MIN_NGRAMS or len(y) < MIN_NGRAMS:
                    continue
                if code[a][module] == code[b][module]:
                    same.append(module)
                    continue
                score = len(x & y) / len(x | y)
                if score >= SIMILAR:
                    similar.append(f"{module} {score:.2f}")
            if same:
                found.append({"kind": "identical code", "a": a, "b": b, "evidence": ", ".join(same)})
            if similar:
                found.append({"kind": "near-identical code", "a": a, "b": b,
                              "evidence": "token 5-gram similarity: " + ", ".join(similar)})
    return found


def write_flags_csv(found: List[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["kind", "a", "b", "evidence"])
        writer.writeheader()
        writer.writerows(found)


# -- the page ----------------------------------------------------------------------------------------------

def histogram_png(values: List[float], title: str, xlabel: str, bins=20, limits=None) -> str:
    """A histogram as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(values, bins=bins, range=limits, color="#3b6ea5", edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("submissions")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def write_summary(rows: List[Row], found: List[dict], out: Path, max_score: float, seconds: float,
                  jobs: int) -> Path:
    """summary.html: what changed, errors, flags, distributions, pass rates (in that order)."""
    e = html.escape
    graded = [r for r in rows if r.results is not None]
    changes = changed_grades(rows)
    parts = [f"<h1>Regrade of {e(str(len(rows)))} submissions</h1>",
             f"<p>{len(graded)} graded, {len(rows) - len(graded)} failed to grade; {len(changes)} grades change; "
             f"{len(found)} flags for review. Grading took {seconds:.0f} s with {jobs} worker(s). Files: "
             "grades.csv, changed_grades.csv, flags.csv, results/&lt;submission&gt;.json.</p>",
             "<h2>Grades that change (review before publishing)</h2>"]
    if changes:
        parts.append("<table><tr><th>submission</th><th>submitters</th><th>Gradescope</th><th>new</th>"
                     "<th>checks that differ</th></tr>")
        for row, diffs in changes:
            parts.append(f"<tr><td>{e(row.submission.id)}</td><td>{e(row.people)}</td><td>{row.submission.score}</td>"
                         f"<td>{row.score}</td><td>{e('; '.join(diffs[:6]))}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    errors = [r for r in rows if r.results is None or any(t.get("name") == "Autograder error"
                                                           for t in r.results.get("tests", []))]
    parts.append("<h2>Submissions that did not grade</h2>")
    parts.append("<ul>" + "".join(f"<li>{e(r.submission.id)} ({e(r.people)}): {e(r.error or 'Autograder error')}"
                                  "</li>" for r in errors) + "</ul>" if errors else "<p>None.</p>")
    parts.append("<h2>Flags for review (not penalties)</h2>")
    if found:
        parts.append("<table><tr><th>kind</th><th>submission</th><th>submission</th><th>evidence</th></tr>" + "".join(
            f"<tr><td>{e(f['kind'])}</td><td>{e(f['a'])}</td><td>{e(f['b'])}</td><td>{e(f['evidence'])}</td></tr>"
            for f in found) + "</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append(report_checks_section(out))  # `proj4-instructor reports`, if it has run into this folder
    parts.append("<h2>Distributions</h2>")
    if graded:
        parts.append(f'<img alt="total scores" src="data:image/png;base64,'
                     f'{histogram_png([r.score for r in graded], "Total scores", "points", limits=(0, max_score))}">')
    for name, values in sorted(accuracies(rows).items()):
        parts.append(f'<img alt="{e(name)} accuracy" src="data:image/png;base64,'
                     f'{histogram_png([100 * v for v in values], f"{name} test accuracy", "%", limits=(0, 100))}">')
    parts.append("<h2>Pass rate per check, and the most common failures</h2><table><tr><th>check</th>"
                 "<th>passed</th><th>most common failure messages</th></tr>")
    for name, passed, total, failures in pass_rates(rows):
        common = "<br>".join(f"{count}&times; {e(message)}" for message, count in failures)
        parts.append(f"<tr><td>{e(name)}</td><td>{passed}/{total} ({passed / max(total, 1):.0%})</td>"
                     f"<td>{common}</td></tr>")
    parts.append("</table>")
    page = out / "summary.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>proj4 regrade</title>"
                    f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>", encoding="utf-8")
    return page


STYLE = ("body{font-family:sans-serif;margin:2em;max-width:70em} table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}")


def write_changes_csv(rows: List[Row], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission_id", "names", "gradescope_score", "new_score", "checks_that_differ"])
        for row, diffs in changed_grades(rows):
            writer.writerow([row.submission.id, row.people, row.submission.score, row.score, "; ".join(diffs)])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the written reports' checks (proj4_instructor/reports.py) ---------------------------------------------------
REPORT_FLAGS = "report_flags.json"  # written by `proj4-instructor reports` into the regrade's folder
SECTION = re.compile(r"<!-- report checks -->.*?<!-- /report checks -->", re.S)


def report_checks_section(out: Path) -> str:
    """The summary's "Report checks" section from out/report_flags.json ("" when there is none)."""
    path = Path(out) / REPORT_FLAGS
    if not path.is_file():
        return "<!-- report checks --><!-- /report checks -->"
    e = html.escape
    data = json.loads(path.read_text(encoding="utf-8"))
    found, unchecked = data.get("flags", []), data.get("not_checked", [])
    flagged = len({f["report"] for f in found})
    parts = [f"<h2>Report checks (flags for review, not penalties)</h2><p>{data.get('checks', 0)} written reports "
             f"compared with the graded code (the run record each PDF carries: checkpoint SHA-256 and test "
             f"accuracy): {flagged} flagged, {len(unchecked)} not checked. Files: report_checks.csv, "
             f"{REPORT_FLAGS}.</p>"]
    if found:
        parts.append("<table><tr><th>kind</th><th>report</th><th>code submission</th><th>submitters</th>"
                     "<th>part</th><th>evidence</th></tr>" + "".join(
                         f"<tr><td>{e(f['kind'])}</td><td>{e(f['report'])}</td><td>{e(f['code'])}</td>"
                         f"<td>{e(f['submitters'])}</td><td>{e(f['part'])}</td><td>{e(f['evidence'])}</td></tr>"
                         for f in found) + "</table>")
    if unchecked:
        parts.append("<p>Not checked:</p><ul>" + "".join(f"<li>{e(i)} ({e(who)}): {e(why)}</li>"
                                                         for i, who, why in unchecked) + "</ul>")
    return "<!-- report checks -->" + "".join(parts) + "<!-- /report checks -->"


def add_report_checks(out: Path) -> Path:
    """Put the section into out/summary.html (replacing an earlier one), or write out/report_checks.html when the
    folder has no regrade summary. Returns the page."""
    page, section = Path(out) / "summary.html", report_checks_section(out)
    text = page.read_text(encoding="utf-8") if page.is_file() else ""
    if SECTION.search(text):
        page.write_text(SECTION.sub(lambda _: section, text), encoding="utf-8")
        return page
    if "<h2>Distributions</h2>" in text:  # a summary from before the section existed
        page.write_text(text.replace("<h2>Distributions</h2>", section + "<h2>Distributions</h2>", 1), encoding="utf-8")
        return page
    page = Path(out) / "report_checks.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>proj4 report checks</title><style>"
                    f"{STYLE}</style></head><body>{section}</body></html>", encoding="utf-8")
    return page
