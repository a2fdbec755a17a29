"""The solution-marker state machine: what it keeps, what it replaces, and every error it raises."""
import textwrap
from pathlib import Path

import pytest

from proj4_instructor import markers
from proj4_instructor.markers import MarkerError

REPO_ROOT = Path(__file__).resolve().parents[1]


def strip(source: str, filename: str = "mod.py") -> str:
    return markers.strip_text(textwrap.dedent(source), filename)


def test_block_with_stub_becomes_todo_and_raise():
    source = """\
        import torch


        def area(w, h):
            \"\"\"Keep me.\"\"\"
            result = None
            # STUB: multiply the width by the height
            # BEGIN SOLUTION
            result = w * h
            # END SOLUTION
            return result
        """
    expected = """\
        import torch


        def area(w, h):
            \"\"\"Keep me.\"\"\"
            result = None
            # TODO: multiply the width by the height
            raise NotImplementedError("area")
            return result
        """
    assert strip(source) == textwrap.dedent(expected)


def test_methods_nested_blocks_and_indentation():
    source = """\
        class Net:
            def __init__(self):
                self.layers = []
                for i in range(3):
                    # STUB: append a layer
                    # BEGIN SOLUTION
                    self.layers.append(i)
                    # END SOLUTION

            def forward(self, x):
                # BEGIN SOLUTION
                def helper(y):
                    return y + 1
                return helper(x)
                # END SOLUTION
        """
    out = strip(source)
    assert '            # TODO: append a layer\n            raise NotImplementedError("Net.__init__")\n' in out
    assert '        # TODO: complete Net.forward\n        raise NotImplementedError("Net.forward")\n' in out
    assert "helper" not in out and "append(i)" not in out
    compile(out, "mod.py", "exec")


def test_several_stub_lines():
    out = strip("""\
        def f():
            # STUB: first line of the hint
            # STUB: second line
            # BEGIN SOLUTION
            return 1
            # END SOLUTION
        """)
    assert out.splitlines()[1:] == ["    # TODO: first line of the hint", "    #       second line",
                                    '    raise NotImplementedError("f")']


def test_stub_raises_not_implemented_naming_the_function():
    namespace = {}
    exec(strip("""\
        class A:
            def go(self):
                # BEGIN SOLUTION
                return 1
                # END SOLUTION
        """), namespace)
    with pytest.raises(NotImplementedError, match=r"^A\.go$"):
        namespace["A"]().go()


def test_lines_outside_blocks_are_kept_byte_for_byte():
    source = "x = 1\r\n\r\ndef f():\r\n    # BEGIN SOLUTION\r\n    return 2\r\n    # END SOLUTION\r\n# trailing\r\n"
    out = markers.strip_text(source, "crlf.py")
    assert out.startswith("x = 1\r\n\r\ndef f():\r\n") and out.endswith("# trailing\r\n")
    assert "\r\n    raise NotImplementedError(\"f\")\r\n" in out


def test_a_file_without_markers_is_unchanged():
    source = "def f():\n    return 1  # BEGIN SOLUTION is only a marker on its own line\n"
    assert markers.strip_text(source) == source


@pytest.mark.parametrize("source, line, words", [
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", 3, "nested"),
    ("def f():\n    x = 1\n    # END SOLUTION\n", 3, "END SOLUTION without"),
    ("def f():\n    # BEGIN SOLUTION\n    x = 1\n", 2, "without # END SOLUTION"),
    ("def f():\n    # STUB: hint\n    x = 1\n", 2, "STUB line not followed"),
    ("def f():\n    # STUB: hint\n\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", 2,
     "STUB line not followed"),
    ("def f():\n    x = 1\n    # STUB: hint at the end\n", 3, "STUB line not followed"),
    ("def f():\n    # BEGIN SOLUTION\n    # STUB: hint\n    # END SOLUTION\n", 3, "STUB line inside"),
    ("def f():\n    # BEGIN SOLUTION\n    x = 1\n        # END SOLUTION\n", 4, "indented differently"),
    ("def f():\n    # STUB: a\n  # BEGIN SOLUTION\n  # END SOLUTION\n", 3, "indented differently"),
    ("def f():\n    if x:\n        # BEGIN SOLUTION\n    y = 1\n        # END SOLUTION\n", 4, "indented less"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", 1, "outside a function"),
    ("def f():\n    # begin solution\n    x = 1\n", 2, "malformed"),
    ("def f():\n    #END SOLUTION\n", 2, "malformed"),
    ("def f():\n    # STUB hint without colon\n", 2, "malformed"),
])
def test_marker_errors_name_file_and_line(source, line, words):
    with pytest.raises(MarkerError) as err:
        markers.strip_text(source, "pkg/mod.py")
    assert str(err.value).startswith(f"pkg/mod.py:{line}: ")
    assert words in str(err.value)


def test_strip_file_error_names_the_path(tmp_path):
    src = tmp_path / "broken.py"
    src.write_text("def f():\n    # BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(MarkerError, match=f"^{src}:2: "):
        markers.strip_file(src, tmp_path / "out.py")
    assert not (tmp_path / "out.py").exists()


def test_parse_blocks_reports_hints_lines_and_function():
    lines = textwrap.dedent("""\
        def g():
            # STUB: hint
            # BEGIN SOLUTION
            a = 1
            return a
            # END SOLUTION
        """).splitlines()
    (block,) = markers.parse_blocks(lines, "g.py")
    assert (block.begin_line, block.end_line, block.function, block.hints) == (3, 6, "g", ["hint"])
    assert block.lines == ["    a = 1", "    return a"]


def test_has_markers():
    assert markers.has_markers("x\n    # BEGIN SOLUTION\n")
    assert markers.has_markers("    # begin  solution\n")  # malformed ones count: they must not slip through
    assert not markers.has_markers("x = '# BEGIN SOLUTION'\n")


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "proj4_code").glob("*.py")), ids=lambda p: p.name)
def test_every_repository_module_strips_to_valid_python(path):
    """One raise per block, valid Python, no marker left, and stripping twice changes nothing."""
    text = path.read_text()
    blocks = markers.parse_blocks(text.splitlines(), str(path))
    out = markers.strip_text(text, str(path))
    compile(out, str(path), "exec")
    assert not markers.has_markers(out)
    assert out.count("raise NotImplementedError(") - text.count("raise NotImplementedError(") == len(blocks)
    assert markers.strip_text(out, str(path)) == out
