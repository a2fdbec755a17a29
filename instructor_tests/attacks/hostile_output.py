
# ---- attack (appended to a student module): output no results.json can hold as it is -----------------
# Megabytes of invalid UTF-8, lone surrogates, NUL, terminal escapes and bidi controls on stdout and
# stderr and in exception messages, in the answer step (a probe's error) and the public tests (a
# collection error).
import sys as _out_sys

_OUT_UGLY = "\ud800\udfff\x00\x1b[2J\x07\u202e\r\x08é\U0001F600"


def _out_flood():
    raw = b"\xff\xfe\xed\xa0\x80\xc3\x28\x00\x1b[31m" * 300_000
    _out_sys.stdout.buffer.write(raw)
    _out_sys.stderr.buffer.write(raw)
    _out_sys.stdout.flush()
    _out_sys.stderr.flush()
    raise RuntimeError(_OUT_UGLY * 100_000)


if _out_sys.argv and (_out_sys.argv[0].endswith("answers.py") or "pytest" in _out_sys.argv[0]):
    _out_flood()
