"""The graded checks catch every realistic student bug that the public tests and the notebook catch.

For each bug of test_student_bugs.py (one change inside one solution block), the probes of the
bug's module run on the mutated code and on the reference with the same seed (as the trusted side
and the sandbox do in a grading), and scoring.py judges every check that reads them: at least one
must fail, and on the reference none. SimpleNetFinal's reference answers come, as in a grading,
from the layer list the (mutated) class declares (proj4_lib.architecture). One worker imports torch
once and forks a child per run, so no module caching crosses bugs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pool import result, run_all
from test_student_bugs import BUG_IDS, BUGS, apply_bug, code_copy

from proj4_instructor.autograder.root import checks, scoring

REPO = Path(__file__).resolve().parents[1]
SEED = 20261201
# The probes that exercise each student module (the checkpoints probe saves and loads its classes).
PROBES_OF = {
    "image_loader.py": ("image_loader",), "stats_helper.py": ("stats_helper",),
    "data_transforms.py": ("data_transforms",), "simple_net.py": ("simple_net", "checkpoints"),
    "simple_net_final.py": ("simple_net_final",), "my_resnet.py": ("my_resnet", "checkpoints"),
    "multilabel_resnet.py": ("multilabel_resnet", "checkpoints"), "dl_utils.py": ("dl_utils", "runner"),
    "optimizer.py": ("optimizer",), "runner.py": ("runner",), "confusion_matrix.py": ("confusion_matrix",),
}
WORKER = r'''
import json, os, sys, traceback
import torch
torch.set_num_threads(1)
from proj4_instructor.autograder.sandboxed import probes
from proj4_lib import architecture, rules

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        out = {"probes": {}, "expected_snf": None, "layers": None}
        try:
            log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.chdir(job["workdir"])
            sys.path.insert(0, job["root"])
            for name in job["probes"]:
                try:
                    out["probes"][name] = {"answer": probes.PROBES[name](probes.Draw(job["seed"], name))}
                except BaseException as err:
                    out["probes"][name] = {"error": repr(err), "traceback": traceback.format_exc()[-2000:]}
            if "simple_net_final" in job["probes"]:
                from proj4_code.simple_net_final import SimpleNetFinal
                try:
                    spec = json.loads(json.dumps(architecture.describe(SimpleNetFinal())))
                    out["layers"] = architecture.check(spec)
                    out["conv_kinds"] = [kind for kind, _ in rules.leaves(spec["conv_layers"])
                                         if kind not in rules.CONTAINERS]
                    out["expected_snf"] = probes.probe_simple_net_final(
                        probes.Draw(job["seed"], "simple_net_final"), make=lambda: architecture.build(spec))
                except Exception as err:
                    out["expected_snf"] = None
                    out["snf_problem"] = repr(err)
        except BaseException as err:
            out["error"] = repr(err)
        with open(job["result"], "w") as f:
            json.dump(out, f)
        os._exit(0)
    os.waitpid(pid, 0)
    print("done", flush=True)
'''


class ProbeWorker:
    def __init__(self, tmp: Path):
        self.tmp, self.count = tmp, 0
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
               "MPLBACKEND": "Agg"}
        self.process = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, cwd=tmp, env=env)

    def run(self, root: Path, names) -> dict:
        self.count += 1
        work = self.tmp / f"work-{self.count}"
        work.mkdir()
        job = {"root": str(root), "probes": list(names), "seed": SEED, "workdir": str(work),
               "result": str(self.tmp / f"result-{self.count}.json"), "log": str(self.tmp / f"log-{self.count}.txt")}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "done"
        result = json.loads(Path(job["result"]).read_text())
        assert "error" not in result, (result["error"], job["log"])
        return result

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


WORKERS = 2  # one per core: each child runs single-threaded


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    pool = [ProbeWorker(tmp_path_factory.mktemp(f"grader_bugs_{k}")) for k in range(WORKERS)]
    yield pool
    for w in pool:
        w.close()


@pytest.fixture(scope="module")
def worker(workers):
    return workers[0]


@pytest.fixture(scope="module")
def bug_probes(workers, tmp_path_factory) -> dict:
    """{bug id: the probes' answers on the mutated code} of every bug, run on the workers at once."""
    tmp = tmp_path_factory.mktemp("bugs")

    def job(b):
        def run(w):
            return w.run(code_copy(tmp / b.id, lambda name, text: apply_bug(b, text)[0] if name == b.file else text),
                         PROBES_OF[b.file])
        return b.id, run

    return run_all(workers, [job(b) for b in BUGS])


@pytest.fixture(scope="module")
def reference(worker, tmp_path_factory):
    """The reference's answers to every probe (the trusted side's, for this seed)."""
    root = code_copy(tmp_path_factory.mktemp("reference"))
    return worker.run(root, sorted({p for names in PROBES_OF.values() for p in names} | {"simple_net_final"}))


def verdicts(reference: dict, student: dict) -> dict:
    """{check name: (credit, message)} for the checks that read only the probes `student` ran."""
    ran = set(student["probes"])
    expected = {name: reference["probes"][name] for name in ran if name != "simple_net_final"}
    if "simple_net_final" in ran:
        expected["simple_net_final"] = ({"answer": student["expected_snf"]} if student["expected_snf"] is not None
                                        else {"unavailable": "SimpleNetFinal cannot be rebuilt from its layers"})
    trusted = {"expected": expected, "checkpoint_outputs": {},
               "checkpoints": {"SimpleNetFinal": {"layers": student["layers"], "conv_kinds": student.get("conv_kinds")}
                               if student["layers"] else {"problem": "no layer list"}}}
    evidence = scoring.Evidence({"probes": student["probes"]}, trusted, {})
    out = {}
    for check in checks.CHECKS + checks.HIDDEN:
        probes = {path.split("/")[0] for path in check.paths} or {"data_transforms"}
        if probes <= ran:
            out[check.name] = scoring.judge_check(check, evidence)
    return out


def test_the_reference_fails_no_check(worker, reference, tmp_path):
    student = worker.run(code_copy(tmp_path), sorted(reference["probes"]))
    failed = {name: message for name, (credit, message) in verdicts(reference, student).items() if credit < 1}
    assert not failed, failed
    assert len(verdicts(reference, student)) == len(checks.CHECKS) + len(checks.HIDDEN)


@pytest.mark.parametrize("b", BUGS, ids=BUG_IDS)
def test_bug_fails_a_graded_check(bug_probes, reference, b):
    student = result(bug_probes, b.id)
    judged = verdicts(reference, student)
    assert judged, f"no check reads the probes of {b.file}"
    assert any(credit < 1 for credit, _ in judged.values()), f"bug {b.id} passes every graded check of {b.file}"
