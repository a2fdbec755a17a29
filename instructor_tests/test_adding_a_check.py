"""README's "Adding a check", proven: a toy graded check is one probe function in
proj4_instructor/autograder/sandboxed/probes.py and one Check entry in root/checks.py, nothing else.

The probe is picked up by PROBES (so by the release's config and by both sides of a grading); the
check by the scorer, the results and the maximum score; run on the reference solution and on the
starter, as the trusted side and the sandbox do with one seed, the reference earns the check's
point and the starter does not, with a message in words.
"""
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from proj4_instructor import autograder_build, markers

REPO = Path(__file__).resolve().parents[1]
SEED = 4242
TOY_PROBE = textwrap.dedent('''

    # -- a toy check's probe (README "Adding a check") ------------------------------------------------------
    def probe_toy_accuracy(draw: Draw) -> dict:
        """compute_accuracy on logits where every row ties between two classes (argmax takes the first)."""
        accuracy = student("dl_utils", "compute_accuracy")
        n = draw.int(5, 20)
        logits, labels = torch.zeros(n, 4), draw.labels(n, 4)
        logits[:, 1:3] = 1.0
        ans = {}
        guard(ans, "ties", lambda: values(accuracy(logits, labels)))
        return ans
''')
TOY_CHECK = '\nCHECKS.append(Check("toy: compute_accuracy when scores tie", 1, ("toy_accuracy/ties",)))\n'


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def toy_autograder(tmp_path) -> Path:
    """The autograder's two sides with the toy probe and check added (copies: the repository is untouched)."""
    root = tmp_path / "autograder"
    for side in ("root", "sandboxed"):
        (root / side).mkdir(parents=True)
        for path in (autograder_build.AUTOGRADER_DIR / side).glob("*.py"):
            (root / side / path.name).write_text(path.read_text())
    (root / "root" / "__init__.py").write_text("")
    probes = (root / "sandboxed" / "probes.py").read_text()
    at = probes.index("\nPROBES")  # beside the other probes, before the table that collects them
    (root / "sandboxed" / "probes.py").write_text(probes[:at] + TOY_PROBE + probes[at:])
    with open(root / "root" / "checks.py", "a") as f:
        f.write(TOY_CHECK)
    return root


def answers(probes_file: Path, code: Path, tmp: Path) -> dict:
    """The probe's answer on `code`'s proj4_code (a process of its own, as both sides of a grading run)."""
    script = (f"import json, sys; sys.path[:0] = [{str(code)!r}, {str(probes_file.parent)!r}]\n"
              f"import probes\nprint(json.dumps(probes.PROBES['toy_accuracy'](probes.Draw({SEED}, 'toy_accuracy'))))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_a_check_is_a_probe_and_an_entry(toy_autograder, tmp_path):
    probes_file = toy_autograder / "sandboxed" / "probes.py"
    (toy_autograder / "root").rename(toy_autograder / "toy_runner")  # a package name of its own
    sys.path.insert(0, str(toy_autograder))
    try:
        checks = importlib.import_module("toy_runner.checks")
        scoring = importlib.import_module("toy_runner.scoring")
    finally:
        sys.path.remove(str(toy_autograder))
        for name in [n for n in sys.modules if n.startswith("toy_runner")]:
            del sys.modules[name]
    toy = next(c for c in checks.CHECKS if c.name.startswith("toy:"))
    config = {"parts": []}
    assert scoring.max_score(config) == sum(c.points for c in checks.CHECKS + checks.HIDDEN)
    starter = tmp_path / "starter"
    (starter / "proj4_code").mkdir(parents=True)
    for path in (REPO / "proj4_code").glob("*.py"):
        markers.strip_file(path, starter / "proj4_code" / path.name)
    expected = answers(probes_file, REPO, tmp_path)
    verdicts = {}
    for who, code in (("reference", REPO), ("starter", starter)):
        got = {"probes": {"toy_accuracy": {"answer": answers(probes_file, code, tmp_path)}}}
        evidence = scoring.Evidence(got, {"expected": {"toy_accuracy": {"answer": expected}}, "checkpoint_outputs": {},
                                          "checkpoints": {}}, {})
        verdicts[who] = scoring.judge_check(toy, evidence)
    assert verdicts["reference"] == (1.0, "")
    credit, message = verdicts["starter"]
    assert credit == 0 and "NotImplementedError" in message and "toy_accuracy/ties" in message
    probes = load(probes_file, "toy_probes")
    assert "toy_accuracy" in probes.PROBES  # the release's config lists every probe of PROBES
