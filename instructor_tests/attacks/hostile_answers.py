
# ---- attack (appended to a student module of a correct solution): hostile values in the answers ------
# The honest answers are written by answers.py; at exit this rewrites some of them with every kind
# of value a JSON file can hold: integers too large for a float, NaN and infinities, strings where
# numbers belong, deep nesting, huge lists and messages, lone surrogates and control characters,
# RAISED markers in odd places, errors that are not strings, extra keys. Each may cost the checks
# that read it, and nothing else: never an "Autograder error".
import atexit as _hostile_atexit
import json as _hostile_json
import sys as _hostile_sys
from pathlib import Path as _HostilePath


def _hostile_rewrite():
    out = _HostilePath(_hostile_sys.argv[1])
    answers = _hostile_json.loads(out.read_text())
    probes = answers["probes"]
    augmentation = probes["data_transforms"]["answer"]["augmentation"]["outputs"]
    augmentation[0][0][0] = 10 ** 400  # valid JSON; no float holds it
    augmentation[1][0][0] = float("inf")
    probes["dl_utils"]["answer"]["accuracy"] = ["float", float("nan")]
    probes["optimizer"] = {"answer": "a string where a mapping belongs"}
    probes["stats_helper"] = {"answer": {"constant": {"__raised__": "x" * 2_000_000}, "random": [[[[[[[]]]]]]]}}
    deep = []
    for _ in range(900):
        deep = [deep]
    probes["confusion_matrix"]["answer"]["matrix"] = deep
    probes["image_loader"] = {"answer": {"__raised__": 5, "class_dict": {"__raised__": None}, "len": 10 ** 400}}
    probes["runner"]["answer"]["histories"].update({f"extra{i}": i for i in range(10_000)})
    probes["checkpoints"] = {"error": {"not": ["a", "string"]}, "traceback": 12}
    probes["multilabel_resnet"] = {"error": "\ud800\x1b[31m\x00\u202e" * 5000, "traceback": "\udfff" * 5000}
    answers["checkpoint_outputs"] = {"SimpleNet": 10 ** 400, "SimpleNetFinal": {"__raised__": ["a", "list"]}}
    answers["junk"] = ["\ud800"] * 1000
    out.write_text(_hostile_json.dumps(answers))


if _hostile_sys.argv and _hostile_sys.argv[0].endswith("answers.py"):
    _hostile_atexit.register(_hostile_rewrite)
