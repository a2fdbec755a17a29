"""Solution markers: strip the reference solution out of a file to make the student starter.

The one convention, inside a function body:

        # STUB: <one-line hint>          (optional; one or more lines directly above BEGIN)
        # BEGIN SOLUTION
        ...reference code...
        # END SOLUTION

`strip_solution` replaces each block (with its STUB lines) by

        # TODO: <hint>
        raise NotImplementedError("<Class.function>")

at the block's indentation and keeps every other line as it is. It is a small state machine over
lines, so what it does is easy to check; anything it cannot do safely raises MarkerError naming
file:line: a nested BEGIN, an END without BEGIN, a BEGIN without END, a STUB not followed by
BEGIN, markers at a different indentation than their BEGIN, code inside a block indented less than
its markers, a block outside any function, and misspelt markers ("# begin solution", "#END SOLUTION").
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB = "# STUB:"
# Anything that looks like a marker but is not spelt exactly like one is an error, not code to keep.
_MARKER_LIKE = re.compile(r"^#\s*(?i:BEGIN|END)\s*(?i:SOLUTION)\b|^#\s*STUB\b")
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)")
_CLASS = re.compile(r"^(\s*)class\s+([A-Za-z_]\w*)")


class MarkerError(ValueError):
    """Unbalanced, nested or misplaced solution markers; the message starts with file:line."""


@dataclass
class Block:
    """One solution block: where it is, its STUB hints and the reference lines between the markers."""

    begin_line: int  # 1-based line number of "# BEGIN SOLUTION"
    end_line: int
    indent: str
    function: str  # qualified name of the enclosing function, e.g. "SimpleNet.__init__"
    hints: List[str] = field(default_factory=list)
    lines: List[str] = field(default_factory=list)  # the reference code, without newlines


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _enclosing_functions(lines: Sequence[str]) -> Dict[int, str]:
    """{1-based line number: qualified name of the innermost function containing it}.

    Uses the parser when the source parses (exact, even with odd docstrings); otherwise falls
    back to following `def` / `class` lines by indentation.
    """
    try:
        tree = ast.parse("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    except SyntaxError:
        return _enclosing_functions_by_indent(lines)
    names: Dict[int, str] = {}

    def visit(node, prefix: str, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = prefix + child.name
                for line_no in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    names[line_no] = qualname  # inner functions overwrite their parent's lines
                visit(child, qualname + ".", True)
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".", in_function)
            else:
                visit(child, prefix, in_function)

    visit(tree, "", False)
    return names


def _enclosing_functions_by_indent(lines: Sequence[str]) -> Dict[int, str]:
    names: Dict[int, str] = {}
    stack: List[tuple] = []  # (indent width, name, is_function)
    for line_no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            width = len(_indent(line))
            while stack and stack[-1][0] >= width:
                stack.pop()
            match = _DEF.match(line) or _CLASS.match(line)
            if match:
                stack.append((width, match.group(2), bool(_DEF.match(line))))
        functions = [entry for entry in stack if entry[2]]
        if functions:
            names[line_no] = ".".join(entry[1] for entry in stack[: stack.index(functions[-1]) + 1])
    return names


def parse_blocks(lines: Sequence[str], filename: str = "<string>") -> List[Block]:
    """Every solution block of a file, checked; raises MarkerError on any marker problem."""
    functions = _enclosing_functions(lines)
    blocks: List[Block] = []
    hints: List[str] = []
    hint_line: Optional[int] = None
    hint_indent = ""
    current: Optional[Block] = None

    def fail(line_no: int, message: str):
        raise MarkerError(f"{filename}:{line_no}: {message}")

    for line_no, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        is_begin, is_end, is_stub = stripped == BEGIN, stripped == END, stripped.startswith(STUB)
        if not (is_begin or is_end or is_stub) and _MARKER_LIKE.match(stripped):
            fail(line_no, f"malformed solution marker {stripped!r}; write {BEGIN!r}, {END!r} or '{STUB} <hint>'")

        if current is not None:  # inside a block
            if is_begin:
                fail(line_no, f"nested {BEGIN} (the block opened at line {current.begin_line} is not closed)")
            if is_stub:
                fail(line_no, f"STUB line inside the solution block opened at line {current.begin_line}")
            if is_end:
                if _indent(line) != current.indent:
                    fail(line_no, f"{END} is indented differently from its {BEGIN} at line {current.begin_line}")
                current.end_line = line_no
                blocks.append(current)
                current = None
            elif stripped and not _indent(line).startswith(current.indent):
                fail(line_no, f"code inside the solution block opened at line {current.begin_line} is indented "
                              "less than its markers")
            else:
                current.lines.append(line)
            continue

        if hint_line is not None and not (is_stub or is_begin):
            fail(hint_line, f"STUB line not followed by {BEGIN}")
        if is_end:
            fail(line_no, f"{END} without {BEGIN}")
        if is_stub:
            if hint_line is not None and _indent(line) != hint_indent:
                fail(line_no, "STUB lines of one block must have the same indentation")
            hint_line = hint_line or line_no
            hint_indent = _indent(line)
            hints.append(stripped[len(STUB):].strip())
        elif is_begin:
            if hint_line is not None and hint_indent != _indent(line):
                fail(line_no, f"{BEGIN} is indented differently from its STUB lines (line {hint_line})")
            function = functions.get(line_no)
            if function is None:
                fail(line_no, "solution block outside a function: the stub would raise at import time")
            current = Block(line_no, 0, _indent(line), function, hints)
            hints, hint_line = [], None

    if current is not None:
        fail(current.begin_line, f"{BEGIN} without {END}")
    if hint_line is not None:
        fail(hint_line, f"STUB line not followed by {BEGIN}")
    return blocks


def stub_lines(block: Block) -> List[str]:
    """The lines that replace a block in the starter (no newlines)."""
    hints = block.hints or [f"complete {block.function}"]
    out = [f"{block.indent}# TODO: {hints[0]}"]
    out += [f"{block.indent}#       {hint}" for hint in hints[1:]]
    out.append(f'{block.indent}raise NotImplementedError("{block.function}")')
    return out


def strip_solution(lines: Sequence[str], filename: str = "<string>") -> List[str]:
    """Lines in, lines out: every block replaced by its stub, everything else unchanged.

    Input lines may keep their newlines (as from readlines()); output lines keep them too.
    """
    blocks = parse_blocks(lines, filename)
    starts = {}
    for block in blocks:
        first = block.begin_line - len(block.hints)  # STUB lines sit directly above BEGIN
        starts[first] = block
    out: List[str] = []
    line_no = 1
    newline = "\n"
    while line_no <= len(lines):
        block = starts.get(line_no)
        if block is None:
            out.append(lines[line_no - 1])
            line_no += 1
            continue
        newline = "\r\n" if lines[line_no - 1].endswith("\r\n") else "\n"
        out += [text + newline for text in stub_lines(block)]
        line_no = block.end_line + 1
    return out


def strip_text(text: str, filename: str = "<string>") -> str:
    return "".join(strip_solution(text.splitlines(keepends=True), filename))


def strip_file(src, dst) -> int:
    """Write the starter version of `src` to `dst`; returns the number of blocks replaced."""
    src, dst = Path(src), Path(dst)
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    blocks = parse_blocks(lines, str(src))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("".join(strip_solution(lines, str(src))), encoding="utf-8")
    return len(blocks)


def file_blocks(path) -> List[Block]:
    path = Path(path)
    return parse_blocks(path.read_text(encoding="utf-8").splitlines(keepends=True), str(path))


def has_markers(text: str) -> bool:
    """True if any line looks like a solution marker (well-formed or not)."""
    return any(_MARKER_LIKE.match(line.strip()) for line in text.splitlines())
