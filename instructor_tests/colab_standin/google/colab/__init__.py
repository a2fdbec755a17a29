"""A stand-in for Colab's `google.colab` package, for instructor_tests/test_colab.py.

Colab imports google.colab when a kernel starts; the simulated Colab does the same from an IPython
startup file. Every call is appended, as one JSON line, to $PROJ4_COLAB_ROOT/colab_calls.jsonl, so the
test can see what the notebook asked for.
"""
import json
import os
from pathlib import Path


def record(call: str, **details) -> None:
    log = Path(os.environ["PROJ4_COLAB_ROOT"]) / "colab_calls.jsonl"
    with open(log, "a") as f:
        f.write(json.dumps({"call": call, **details}) + "\n")
