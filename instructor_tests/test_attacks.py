"""The adversary suite (issue 14): a dishonest student who has read the autograder's source, holds
the public test split with its labels and a correct implementation's answers from elsewhere, reads
the feedback of earlier gradings and submits as often as they like.

Every attack is a submission graded by the real autograder (graders.Grader, the two sandbox users of
conftest.py) and asserts SCORES: attacks on the student starter must score exactly 0, attacks added
to a correct solution exactly what its honest part earns; every results.json must pass
submissions.check_results. The attack code that runs in the sandbox is in instructor_tests/attacks/.

The gradings run once for the module, on the two workers at once, in an order that matters: on
worker 0 a process that tries to outlive its grading is followed by a plain starter (two gradings in
a row must not influence each other), and a spy reads the machine while worker 1 grades correct
solutions. What cannot be prevented (a model fitted to the public test split earns accuracy) is
asserted too, as the README states it.

The hostile details that need no sandbox (answer values, checkpoints, layer lists, zips) are tested
on the grader's modules directly, at the end.
"""
import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest
import torch

from proj4_instructor import autograder_build, graders
from proj4_instructor.autograder import checks, intake, sandbox, scoring
from proj4_lib import architecture
from submissions import REFERENCE, by_name, check_results, graded, lost, write_zip

pytestmark = pytest.mark.slow
ATTACKS = Path(__file__).resolve().parent / "attacks"
SN, SNF, MR, ML = (f"trained_{c}_final.pt" for c in ("SimpleNet", "SimpleNetFinal", "MyResNet18", "MultilabelResNet18"))
ENV = {"AUTOGRADER_TOTAL_TIMEOUT": "150", "AUTOGRADER_PUBLIC_TIMEOUT": "60", "AUTOGRADER_TEST_TIMEOUT": "30"}


def accuracy_test(cls: str) -> str:
    return f"test-split accuracy of the submitted checkpoint [{cls}]"


def attack_code(name: str, **values) -> str:
    text = (ATTACKS / f"{name}.py").read_text()
    for key, value in values.items():
        text = text.replace(f"__{key}__", str(value))
    return text


def with_code(base: Path, appended: dict) -> dict:
    """{module file: text} of `base`'s modules with attack code appended (it runs when imported)."""
    return {name: (base / name).read_text() + "".join(appended[name]) for name in appended}


def saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def checkpoint_of(model: torch.nn.Module) -> bytes:
    """What save_trained_model_weights writes for `model` (its layer list included)."""
    from proj4_lib.checkpoints import save_trained_model_weights

    with tempfile.TemporaryDirectory() as tmp:
        return save_trained_model_weights(model, tmp).read_bytes()


# -- hand-made checkpoints: no training loop, only the public test split and its labels -----------------

def public_split(source: Path):
    """The public test split as a student can decode it (64 x 64 images, backbone features, labels):
    read here from the grader's copy, which the student can remake with the provided code."""
    prepared = source / "grader" / "prepared"
    key = json.loads((source / "grader" / "test_key.json").read_text())
    images = torch.load(prepared / "images64.pt", weights_only=True).float() / 255.0
    features = {p.stem.split("-", 1)[1]: torch.load(p, weights_only=True).float()
                for p in prepared.glob("features-*.pt")}
    return images, features, key


def fitted_head(features: torch.Tensor, targets: torch.Tensor) -> tuple:
    """A linear head fitted in closed form (ridge regression) to the test split's targets."""
    x = torch.cat([features, torch.ones(len(features), 1)], 1).double()
    w = torch.linalg.solve(x.T @ x + 1e-3 * torch.eye(x.shape[1], dtype=torch.float64), x.T @ targets.double())
    return w[:-1].T.float().contiguous(), w[-1].float().contiguous()


def head_checkpoint(cls: str, backbone: str, weight: torch.Tensor, bias: torch.Tensor) -> bytes:
    return saved({"format": "full", "class_name": cls, "model_kwargs": {"backbone": backbone}, "architecture": None,
                  "state_dict": {"fc_layers.weight": weight, "fc_layers.bias": bias}})


MEMORIZER = '''"""Part 2, as a memorizer: three identity convolutions, then random ReLU features of the pooled
pixels and a linear read-out solved in closed form on the public test split (no training loop)."""
import torch
from torch import nn


class SimpleNetFinal(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_layers = nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1), nn.ReLU(), nn.Conv2d(1, 1, 1),
                                         nn.ReLU(), nn.Conv2d(1, 1, 1), nn.ReLU(), nn.AvgPool2d(2))
        self.fc_layers = nn.Sequential(nn.Linear(1024, 2000), nn.ReLU(), nn.Dropout(0.1), nn.Linear(2000, 15))
        self.loss_criterion = nn.CrossEntropyLoss(reduction="mean")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_layers(torch.flatten(self.conv_layers(x), 1))
'''


def memorizer_checkpoint(source: Path, config: dict) -> bytes:
    """MEMORIZER's weights made from the public test images and labels: 100 % on the test split."""
    namespace = {}
    exec(compile(MEMORIZER, "memorizer", "exec"), namespace)
    model = namespace["SimpleNetFinal"]()
    images, _, key = public_split(source)
    x = (images - config["pixel_mean"]) / config["pixel_std"]
    with torch.no_grad():
        conv = model.conv_layers
        for layer in (conv[0], conv[3], conv[5]):
            layer.weight.fill_(1.0)
            layer.bias.fill_(0.0)
        conv[0].bias.fill_(5.0)  # everything positive: the ReLUs change nothing
        conv[1].weight.fill_(1.0), conv[1].bias.fill_(0.0), conv[1].running_mean.fill_(0.0)
        conv[1].running_var.fill_(1.0 - conv[1].eps)
        generator = torch.Generator().manual_seed(0)
        model.fc_layers[0].weight.copy_(torch.randn(2000, 1024, generator=generator) / 32)
        model.fc_layers[0].bias.copy_(torch.randn(2000, generator=generator))
        model.eval()
        hidden = model.fc_layers[1](model.fc_layers[0](torch.flatten(conv(x), 1)))
        onehot = torch.nn.functional.one_hot(torch.tensor(key["labels"]), 15).float() * 10
        weight, bias = fitted_head(hidden, onehot)
        model.fc_layers[3].weight.copy_(weight)
        model.fc_layers[3].bias.copy_(bias)
        assert (model(x).argmax(1) == torch.tensor(key["labels"])).float().mean() > 0.99
    return checkpoint_of(model)


def exhausting_spec() -> dict:
    """A layer list within the parameter and multiply-add limits whose first activation is 4096 x 64 x 64
    per image: 6.7 GB for a batch of 100 test images."""
    conv = lambda i, o: ["Conv2d", {"in_channels": i, "out_channels": o, "kernel_size": [1, 1], "stride": [1, 1],  # noqa
                                    "padding": [0, 0], "dilation": [1, 1], "groups": 1, "bias": True}]
    return {"conv_layers": [conv(1, 4096), ["MaxPool2d", {"kernel_size": 8, "stride": 8, "padding": 0, "dilation": 1,
                                                           "ceil_mode": False}],
                            conv(4096, 4), ["BatchNorm2d", {"num_features": 4, "eps": 1e-5, "momentum": 0.1,
                                                            "affine": True, "track_running_stats": True}],
                            ["ReLU", {}], conv(4, 4)],
            "fc_layers": [["Dropout", {"p": 0.5}], ["Linear", {"in_features": 256, "out_features": 16, "bias": True}],
                          ["Linear", {"in_features": 16, "out_features": 15, "bias": True}]]}


def spec_checkpoint(spec: dict) -> bytes:
    """A checkpoint declaring `spec`, with the weights of its layers (built without the grader's checks)."""
    model = architecture.Rebuilt(architecture._layers(spec, "conv_layers", None),
                                 architecture._layers(spec, "fc_layers", None))
    return saved({"format": "full", "class_name": "SimpleNetFinal", "model_kwargs": {}, "architecture": spec,
                  "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}})


# -- hostile checkpoint files ------------------------------------------------------------------------------

def stride0_checkpoint(reference: bytes) -> bytes:
    """The reference SimpleNet with its first weight replaced by one float seen as 2^34 of them (stride 0)."""
    checkpoint = torch.load(io.BytesIO(reference), weights_only=True)
    checkpoint["state_dict"]["conv_layers.0.weight"] = torch.zeros(1).expand(2 ** 34)
    return saved(checkpoint)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/adv-pwned",))


def refused_pickle_checkpoint() -> bytes:
    """A checkpoint torch.load(weights_only=True) refuses: it would run os.system."""
    return saved({"format": "full", "class_name": "SimpleNetFinal", "state_dict": {}, "evil": _Evil()})


def many_keys_checkpoint(reference: bytes) -> bytes:
    """The reference MyResNet18 plus 1,650 junk tensors of 40 KB under 300-character names (66 MB)."""
    checkpoint = torch.load(io.BytesIO(reference), weights_only=True)
    for i in range(1650):
        checkpoint["state_dict"][f"junk.{i:04d}." + "k" * 290] = torch.zeros(10_000)
    return saved(checkpoint)


def slow_pickle_checkpoint(class_name: str, items: int = 10_000_000) -> bytes:
    """A valid torch zip whose pickle is 20 MB of tiny opcodes: tens of seconds and ~0.5 GB to unpickle."""
    body = (b"\x80\x02}q\x00(X\n\x00\x00\x00state_dict}X\n\x00\x00\x00class_nameX"
            + struct.pack("<I", len(class_name)) + class_name.encode() + b"X\x04\x00\x00\x00junk](" + b"K\x01" * items
            + b"eu.")
    template = zipfile.ZipFile(io.BytesIO(saved({"state_dict": {}})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for info in template.infolist():
            zf.writestr(info, body if info.filename.endswith("data.pkl") else template.read(info.filename))
    return out.getvalue()


def ugly_checkpoint(reference: bytes) -> bytes:
    """The reference SimpleNet under keys and a class name full of lone surrogates and control characters."""
    checkpoint = torch.load(io.BytesIO(reference), weights_only=True)
    state = checkpoint["state_dict"]
    checkpoint["state_dict"] = {("conv_layers.0.weight\ud800\x1b[2J\x00" if i == 0 else k): v
                                for i, (k, v) in enumerate(state.items())}
    checkpoint["state_dict"]["conv_layers.0.weight\ud800\x1b[2J\x00"] = torch.zeros(3, 3)
    return saved(checkpoint)


# -- the gradings of the module, on two workers at once -------------------------------------------------------

class Listener:
    """A TCP server on 127.0.0.1 outside the sandbox: records every connection."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.server.close()


def sysv_objects(uid: int) -> list:
    """SysV shared memory segments, message queues and semaphore sets owned or created by `uid`."""
    found = []
    for kind in ("shm", "msg", "sem"):
        path = Path("/proc/sysvipc") / kind
        if not path.is_file():
            continue
        lines = path.read_text().splitlines()
        head = lines[0].split()
        for line in lines[1:]:
            row = dict(zip(head, line.split()))
            if str(uid) in (row.get("uid"), row.get("cuid")):
                found.append((kind, row.get("shmid") or row.get("msqid") or row.get("semid"), row.get("size", "")))
    return found


def remove_sysv(uid: int) -> None:
    """Test hygiene: whatever the grader left (root may remove it)."""
    for kind, ident, _ in sysv_objects(uid):
        subprocess.run(["ipcrm", {"shm": "-m", "msg": "-q", "sem": "-s"}[kind], ident], capture_output=True)


def leftovers(uid: int) -> dict:
    """What `uid` still has on this machine: processes, files in the shared folders, SysV objects."""
    files, stack = [], [Path(top) for top in sandbox.SHARED_DIRS]
    while stack:  # the folders a user can write in: world-writable ones and its own
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid == uid:
                files.append(entry.path)
            elif entry.is_dir(follow_symlinks=False) and info.st_mode & 0o002:
                stack.append(Path(entry.path))
    return {"processes": sandbox.processes_of(uid), "files": files[:10], "sysv": sysv_objects(uid)}


@pytest.fixture(scope="module")
def config(grading_source) -> dict:
    return json.loads((grading_source / "grader" / "config.json").read_text())


@pytest.fixture(scope="module")
def starter(grading_source) -> Path:
    return grading_source / "starter" / "proj4_code"


@pytest.fixture(scope="module")
def max_score(grading_source) -> float:
    return json.loads((grading_source / "grader" / "manifest.json").read_text())["max_score"]


@pytest.fixture(scope="module")
def pasted_answers(grading_source, tmp_path_factory) -> dict:
    """A correct implementation's answers.json, made elsewhere (here, as root, outside any grading) on a
    seed of its own: what a student can paste from a friend's run."""
    tmp = tmp_path_factory.mktemp("pasted")
    code = autograder_build.code_tree(grading_source, REFERENCE, tmp / "code")
    (tmp / "run").mkdir()
    (tmp / "config.json").write_text(json.dumps({"seed": 12345, "threads": 1, "model_dir": str(tmp / "none"),
                                                 "parts": []}))
    subprocess.run([sys.executable, str(code / "grader" / "answers.py"), str(tmp / "answers.json"),
                    str(tmp / "config.json")], cwd=tmp / "run", check=True, capture_output=True, timeout=600,
                   env={**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"})
    return json.loads((tmp / "answers.json").read_text())


def harvest(results_list) -> dict:
    """{answer path: shape} of every "the reference's is (...)" the feedback of earlier gradings showed."""
    found = {}
    for results in results_list:
        for test in results["tests"]:
            for path, shape in re.findall(r"(\S+/\S+)(?: \([^)]*\))? has shape [^;]*; the reference's is \(([\d, ]*)\)",
                                          test["output"]):
                found[path] = [int(s) for s in shape.replace(" ", "").split(",") if s]
    return found


def forged_submission(path: Path, starter: Path, pasted: dict, shapes: dict, seeded: bool) -> Path:
    data = (f"PASTED = {json.dumps(json.dumps(pasted))}\nHARVEST = {json.dumps(json.dumps(shapes))}\n"
            f"SEEDED = {seeded}\n")
    return write_zip(path, starter, overrides={**with_code(starter, {"simple_net.py": attack_code("forge")}),
                                               "adv_data.py": data})


@pytest.fixture(scope="module")
def gradings(grader, grading_source, starter, config, reference_checkpoints, pasted_answers, tmp_path_factory):
    """{name: (results, log)} of every attack of the module (see the module docstring for the order)."""
    tmp = tmp_path_factory.mktemp("attacks")
    listener = Listener()
    ref = reference_checkpoints
    uids = [sandbox.identity(user)[0].uid for user in grader.users]
    images, features, key = public_split(grading_source)
    backbone = sorted(features)[0]
    heads = {
        MR: head_checkpoint("MyResNet18", backbone, *fitted_head(features[backbone], torch.nn.functional.one_hot(
            torch.tensor(key["labels"]), 15).float() * 2 - 1)),
        ML: head_checkpoint("MultilabelResNet18", backbone, *fitted_head(
            features[backbone][key["attribute_index"]], torch.tensor(key["flags"]).float() * 8 - 4)),
    }
    results, logs = {}, {}

    def zip_of(name, base, appended=None, checkpoints=None, overrides=None, extra=None):
        overrides = {**with_code(base, appended or {}), **(overrides or {})}
        return write_zip(tmp / f"{name}.zip", base, overrides=overrides, checkpoints=checkpoints, extra=extra)

    def ugly_zip(name):
        path = zip_of(name, starter, {"simple_net.py": attack_code("hostile_output")},
                      checkpoints={SN: ugly_checkpoint(ref[SN])},
                      extra={"proj4_lib/checkpoints.py": b"raise SystemExit('a provided module of the student')\n",
                             "proj4_code/proj4_lib/checkpoints.py": b"x = 1\n",
                             "proj4_code/probes.py": b"PROBES = {}\n", "proj4_code/answers.py": b"import os\n",
                             "proj4_code/conftest.py": b"import os\nos._exit(0)\n",
                             "proj4_code/\x1b[31mhelper\x07\u202e.py": b"x = 1\n",
                             "old/proj4_code/simple_net.py": (REFERENCE / "simple_net.py").read_bytes(),
                             "/abs/evil.py": b"x = 1\n", "../../evil.py": b"x = 1\n",
                             "/".join(["d"] * 30) + "/proj4_code/dl_utils.py": b"x = 1\n"})
        with zipfile.ZipFile(path, "a") as zf:
            link = zipfile.ZipInfo("proj4_code/link.py")
            link.external_attr = 0o120777 << 16
            zf.writestr(link, "/etc/passwd")
        return path

    plans = {
        0: [
            ("outlive", lambda: zip_of("outlive", starter, {"simple_net.py": attack_code("outlive")}),
             {"AUTOGRADER_MEMORY_MB": "1100"}),
            ("after_outlive", lambda: zip_of("after_outlive", starter), {}),
            ("forged_with_seed", lambda: forged_submission(tmp / "forged.zip", starter, pasted_answers, {}, True), {}),
            ("spy", lambda: zip_of("spy", starter, {"data_transforms.py": attack_code(
                "spy", PORT=listener.port, SECONDS=45)}), {}),
            ("replay", lambda: forged_submission(tmp / "replay.zip", starter, pasted_answers,
                                                 harvest([results[n] for n in ("forged_with_seed", "outlive",
                                                                               "after_outlive")]), False), {}),
            ("disk", lambda: zip_of("disk", starter, {"simple_net.py": attack_code("disk")}), {"small_disk": True}),
        ],
        1: [
            ("hostile_checkpoints", lambda: zip_of("hostile_checkpoints", REFERENCE, checkpoints={
                SN: stride0_checkpoint(ref[SN]), SNF: refused_pickle_checkpoint(), MR: many_keys_checkpoint(ref[MR]),
                ML: slow_pickle_checkpoint("MultilabelResNet18")}), {}),
            ("lying_layer_list", lambda: zip_of("lying", REFERENCE, checkpoints=ref, overrides={
                "simple_net_final.py": (REFERENCE / "simple_net_final.py").read_text().replace(
                    "nn.Dropout(0.5)", "nn.Identity()")}), {}),
            ("handmade_on_starter", lambda: zip_of("handmade", starter, checkpoints={
                SN: saved({"format": "full", "class_name": "SimpleNet", "model_kwargs": {}, "architecture": None,
                           "state_dict": {k: torch.zeros(1) for k in torch.load(io.BytesIO(ref[SN]),
                                                                                weights_only=True)["state_dict"]}}),
                SNF: spec_checkpoint(exhausting_spec()), MR: heads[MR],
                ML: head_checkpoint("MyResNet18", backbone, *fitted_head(features[backbone], torch.zeros(1500, 7)))}),
             {}),
            ("fitted_to_public_split", lambda: zip_of("fitted", REFERENCE, overrides={"simple_net_final.py": MEMORIZER},
                                                      checkpoints={SN: ref[SN], SNF: memorizer_checkpoint(
                                                          grading_source, config), **heads}), {}),
            ("hostile_answers", lambda: zip_of("hostile_answers", REFERENCE,
                                               {"simple_net.py": attack_code("hostile_answers")}, checkpoints=ref), {}),
            ("hostile_output_and_zip", lambda: ugly_zip("ugly"), {}),
        ],
    }

    def grade_one(worker, name, make, env):
        submission = make()
        log = tmp / f"{name}.log"
        limits = {**grader.env, **ENV, **{k: v for k, v in env.items() if k.startswith("AUTOGRADER_")}}
        if env.get("small_disk"):
            results[name] = grade_on_small_disk(grader, limits, submission, worker, name, log)
        else:
            with graders.Grader(grader.source, grader.users, env=limits) as one:
                results[name] = one.grade(submission, worker, name, log_to=log)
        logs[name] = log.read_text(errors="replace") if log.is_file() else ""
        results[name]["_leftovers"] = leftovers(uids[worker])
        results[name]["_finished"] = time.monotonic()

    def run(worker):
        for name, make, env in plans[worker]:
            try:
                grade_one(worker, name, make, env)
            except Exception as err:  # noqa: BLE001 - the test of that grading reports it
                results[name] = {"_error": repr(err)}

    try:
        threads = [threading.Thread(target=run, args=(w,)) for w in plans]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        listener.close()
        for uid in uids:
            remove_sysv(uid)
    return {"results": results, "logs": logs, "listener": listener, "plans": plans}


def grade_on_small_disk(grader, env, submission, worker, name, log) -> dict:
    """Grade with the grading folder on a 48 MB, 2,500-inode tmpfs: the submission can fill it."""
    mount = Path(tempfile.mkdtemp(prefix="proj4-small-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,nr_inodes=2500,mode=755", "tmpfs", str(mount)], check=True)
    try:
        with graders.Grader(grader.source, grader.users, env=env, keep=mount) as small:
            return small.grade(submission, worker, name, log_to=log)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        os.rmdir(mount)


def result(gradings, name) -> dict:
    results = gradings["results"][name]
    assert "_error" not in results, results.get("_error")
    return {k: v for k, v in results.items() if not k.startswith("_")}


def no_autograder_error(results) -> None:
    assert all(t["name"] != "Autograder error" for t in results["tests"]), results["tests"][0]["output"]


def clean_after(gradings, name) -> None:
    left = gradings["results"][name]["_leftovers"]
    assert left == {"processes": [], "files": [], "sysv": []}, left


# -- 1. replay, 3. forged answers ---------------------------------------------------------------------------

def test_answers_pasted_from_another_seed_and_the_feedback_replayed_earn_nothing(gradings):
    """A correct implementation's answers from another seed, with every array reshaped to what earlier
    gradings' feedback said the reference's shape was: 0 (feedback shows shapes, never values)."""
    results = result(gradings, "replay")
    assert graded(results) == 0, lost(results)
    assert harvest([result(gradings, "forged_with_seed")]), "the earlier feedback named no reference shape"
    no_autograder_error(results)


def test_answers_forged_with_the_grading_seed_earn_nothing(gradings):
    """Pasted answers, plus everything this grading's seed gives without student code (batch sizes,
    shapes, the optimizer's settings, mean and std) and augmentation outputs made up to flip and jitter;
    in the public tests, a 'passed' event forged for every test."""
    results = result(gradings, "forged_with_seed")
    assert graded(results) == 0, lost(results)  # graded(): the public tests (3.x) carry no points
    clean_after(gradings, "forged_with_seed")
    feedback = by_name(results)["public test test_public.py::test_simple_net_shape"]
    assert feedback["status"] == "failed"  # a forged 'passed' after the real failure changes nothing


def test_hostile_answer_values_cost_only_the_checks_that_read_them(gradings, max_score):
    """A correct solution whose answers file is rewritten with huge integers, NaN, wrong types, deep
    nesting, surrogates, markers and extra keys in some probes: those checks fail with a message, the
    others keep their points."""
    results = result(gradings, "hostile_answers")
    no_autograder_error(results)
    tests = by_name(results)
    hostile = ("dl_utils/accuracy", "optimizer/", "stats_helper/", "confusion_matrix/matrix", "image_loader/",
               "runner/histories", "checkpoints/", "multilabel_resnet/")
    for check in checks.CHECKS + checks.HIDDEN:
        touched = any(p.startswith(h) if h.endswith("/") else p == h for p in check.paths for h in hostile) or \
            check.name.startswith("data_transforms: augmentation") or "unnormalised" in check.name
        test = tests[check.name]
        if touched:
            assert test["score"] == 0, (check.name, test["output"][:300])
        else:
            assert test["score"] == test["max_score"], (check.name, test["output"][:300])
    for cls in ("SimpleNet", "SimpleNetFinal", "MultilabelResNet18"):
        assert tests[accuracy_test(cls)]["score"] == 0
    assert tests[accuracy_test("MyResNet18")]["score"] == 8
    assert graded(results) < max_score


# -- 2. predictions without a model, hand-made and hostile checkpoints -----------------------------------------

def test_hand_made_checkpoints_with_the_starter_earn_nothing(gradings):
    """A keys-only SimpleNet, a layer list within the parameter and multiply-add limits whose activations
    would exhaust the evaluator (refused by the activation limit), a head fitted to the public labels
    (with the starter's class), a checkpoint of another class: 0, each with its message."""
    results = result(gradings, "handmade_on_starter")
    assert graded(results) == 0, lost(results)
    tests = by_name(results)
    assert "does not compute what the grader evaluated" in tests[accuracy_test("MyResNet18")]["output"]
    assert "not a MultilabelResNet18" in tests[accuracy_test("MultilabelResNet18")]["output"]
    assert "values per image" in tests[accuracy_test("SimpleNetFinal")]["output"]
    no_autograder_error(results)


def test_hostile_checkpoints_cost_only_their_own_checks(gradings, max_score):
    """A stride-0 tensor declaring 2^34 floats, a pickle weights_only refuses, 1,650 large junk keys, a
    pickle of 10 million opcodes: each costs its checkpoint's checks only; the junk keys cost nothing."""
    results = result(gradings, "hostile_checkpoints")
    tests = by_name(results)
    no_autograder_error(results)
    for cls in ("SimpleNet", "SimpleNetFinal", "MultilabelResNet18"):
        assert tests[accuracy_test(cls)]["score"] == 0, tests[accuracy_test(cls)]["output"]
    assert tests[accuracy_test("MyResNet18")]["score"] == 8, tests[accuracy_test("MyResNet18")]["output"]
    assert "weights_only" in tests[accuracy_test("SimpleNetFinal")]["output"]
    final = [c for c in checks.CHECKS + checks.HIDDEN if any(p.startswith("simple_net_final/") for p in c.paths)]
    lost_points = 24 + sum(c.points for c in final)
    assert graded(results) == max_score - lost_points, lost(results)
    assert not Path("/tmp/adv-pwned").exists()


def test_a_layer_list_that_claims_dropout_the_class_lacks_loses_the_dropout_checks(gradings, max_score):
    """The reference SimpleNetFinal with its Dropout layers replaced by Identity, submitted with the
    reference checkpoint (whose layer list declares Dropout): the checks that need Dropout fail."""
    results = result(gradings, "lying_layer_list")
    tests = by_name(results)
    needing = [c for c in checks.CHECKS + checks.HIDDEN if c.rule is checks._final_layers]
    for check in needing:
        assert tests[check.name]["score"] == 0, (check.name, tests[check.name]["output"])
    assert graded(results) == max_score - sum(c.points for c in needing), lost(results)


def test_a_model_fitted_to_the_public_split_earns_accuracy(gradings, max_score):
    """What stays possible (README): the test split is public, so a correct class whose weights are
    solved in closed form on it (a memorizing SimpleNetFinal, heads fitted to the labels) earns the
    accuracy points. The same checkpoints with the starter's classes earn nothing (above)."""
    results = result(gradings, "fitted_to_public_split")
    assert graded(results) == max_score, lost(results)


# -- 4. the sandbox: outliving a grading, leftovers, shared memory, fork bombs, disk, spying ------------

def test_a_process_that_outlives_its_grading_touches_nothing_after_it(gradings):
    """A double-forked setsid process that stops what it may and rewrites later answers files, files
    in every shared folder, SysV and POSIX IPC objects, shared memory hoarded past the memory limit, a
    fork bomb: all gone when the grading ends; the next grading on the same worker is the starter's."""
    outlive, after = result(gradings, "outlive"), result(gradings, "after_outlive")
    assert graded(outlive) == 0 and graded(after) == 0
    clean_after(gradings, "outlive")
    clean_after(gradings, "after_outlive")
    assert "went over the memory limit" in outlive["output"], outlive["output"]
    bomb = re.search(r"ADV fork bomb: (\d+) children", json.dumps(outlive))
    assert bomb and int(bomb.group(1)) < 256, "the process limit stops a fork bomb"
    text = json.dumps(after)
    assert "ADV-TAMPERED" not in text
    assert "NotImplementedError" in by_name(after)["compute_accuracy"]["output"]


def test_filling_the_disk_and_its_inodes_still_gives_complete_results(gradings, config):
    results = result(gradings, "disk")
    no_autograder_error(results)
    assert graded(results) == 0
    names = [t["name"] for t in results["tests"]]
    assert len(names) == len(checks.CHECKS) + len(checks.HIDDEN) + len(config["parts"]) + len(config["public_tests"])
    assert "ADV disk" in gradings["logs"]["disk"]


def test_the_sandbox_reads_nothing_of_other_gradings_and_reaches_no_network(gradings):
    """While worker 1 grades correct solutions, a spy on worker 0 looks for the reference solution, the
    test key, other students' files and the trusted side's results, for a minute: it finds the other
    gradings' folders, reads none of their files, and no connection leaves the sandbox."""
    results = result(gradings, "spy")
    assert graded(results) == 0
    line = next(line for line in gradings["logs"]["spy"].splitlines() if line.startswith("SPY-REPORT "))
    report = json.loads(line[len("SPY-REPORT "):])
    assert report["others_seen"] >= 1, report  # it ran while another grading did
    assert report["n_read"] == 0 and report["proc"] == 0, report
    assert report["net"]["local"] != "connected" and report["net"]["remote"] != "connected", report
    assert gradings["listener"].connections == 0
    assert "SPY-REPORT" in by_name(results)["data_transforms: fundamental values"]["output"]  # what it would show


def test_a_grading_killed_midway_leaves_nothing_open_to_the_next_one(grader, starter, tmp_path):
    """A grading whose root runner dies (kill -9, a crash of the machine) leaves its work folder open to
    its sandbox user, the reference solution in it if that was the trusted step: the next grading with
    that user closes it, and a grading that ends closes its own (a --keep folder is root's alone)."""
    from proj4_instructor.autograder import runner

    user = grader.users[0]
    gid = sandbox.identity(user)[0].gid
    left = tmp_path / "killed" / "autograder" / "work"
    (left / "trusted" / "proj4_code").mkdir(parents=True)
    (left / "trusted" / "proj4_code" / "simple_net.py").write_text("# the reference solution\n")
    os.chown(left, 0, gid)
    os.chmod(left, 0o750)
    lock_folder = next(Path(f) for f in runner.LOCK_DIRS if (Path(f) / f"{user}.lock").exists())
    record = lock_folder / f"{user}.work"
    record.write_text(str(left))  # what the killed runner recorded
    kept = tmp_path / "kept"
    with graders.Grader(grader.source, grader.users, env={**grader.env, **ENV}, keep=kept) as one:
        results = one.grade(write_zip(tmp_path / "starter.zip", starter), 0, "next", log_to=tmp_path / "log")
    assert graded(results) == 0
    assert "closing the work folder of an interrupted grading" in (tmp_path / "log").read_text()
    for work in (left, kept / "next-w0" / "autograder" / "work"):
        info = os.stat(work)
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (0, 0, 0o700), work
    assert record.read_text() == ""


# -- 5. hostile output, 6. hostile zips (end to end) -----------------------------------------------------------

def test_hostile_output_names_and_provided_modules_in_the_zip(gradings):
    """Megabytes of invalid UTF-8, lone surrogates and control characters (output, exception messages,
    checkpoint keys, file names), a proj4_lib of the student's, files named like the grader's modules,
    zip-slip, absolute, deep and symlinked members, an old copy of proj4_code: valid, small results; 0."""
    results = result(gradings, "hostile_output_and_zip")
    assert graded(results) == 0, lost(results)  # check_results: strict UTF-8, under 1 MB
    output = results["output"]
    assert "Code graded: proj4_code/" in output
    assert "zip-slip" in output and "symbolic link" in output
    assert "proj4_lib/checkpoints.py" in output  # listed as not used


def test_every_grading_of_the_module_gave_valid_results(gradings):
    for name, results in gradings["results"].items():
        assert "_error" not in results, (name, results["_error"])
        check_results({k: v for k, v in results.items() if not k.startswith("_")})


# -- the hostile details that need no sandbox: the grader's modules directly ---------------------------------

def trusted_module(grading_source):
    """trusted.py of the built autograder, imported here (it needs torch and its own probes.py)."""
    import importlib.util

    path = grading_source / "grader" / "trusted_code" / "trusted.py"
    spec = importlib.util.spec_from_file_location("adv_trusted", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def legacy_checkpoint() -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": "full", "class_name": "SimpleNet", "state_dict": {}}, buffer,
               _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def test_the_evaluator_refuses_every_hostile_checkpoint_with_a_message(grading_source, config, reference_checkpoints,
                                                                      tmp_path):
    """Each hostile checkpoint is Unusable (a message for the student), never another exception, and
    the ones that would cost minutes to unpickle are refused in well under a second."""
    trusted = trusted_module(grading_source)
    part = next(p for p in config["parts"] if p["class_name"] == "SimpleNet")
    ref = reference_checkpoints[SN]
    checkpoint = torch.load(io.BytesIO(ref), weights_only=True)
    hostile = {
        "slow_zip_pickle": slow_pickle_checkpoint("SimpleNet"),
        "legacy_format": legacy_checkpoint(),
        "refused_pickle": refused_pickle_checkpoint(),
        "not_a_zip": b"\x80\x02}q\x00." * 1000,
        "class_name_tensor": saved({**checkpoint, "class_name": torch.zeros(3)}),
        "class_name_nested": saved({**checkpoint, "class_name": [[["SimpleNet"]]]}),
        "kwargs_tensor": saved({**checkpoint, "model_kwargs": torch.zeros(3)}),
        "kwargs_nested": saved({**checkpoint, "model_kwargs": {"backbone": [["resnet18"]]}}),
        "state_dict_list": saved({**checkpoint, "state_dict": [1, 2, 3]}),
        "key_not_text": saved({**checkpoint, "state_dict": {1: torch.zeros(1)}}),
        "sparse": saved({**checkpoint, "state_dict": {"conv_layers.0.weight": torch.zeros(3, 3).to_sparse()}}),
        "too_many_keys": saved({**checkpoint, "state_dict": {f"k{i}": torch.zeros(1) for i in range(2001)}}),
    }
    for name, data in hostile.items():
        path = tmp_path / SN
        path.write_bytes(data)
        start = time.monotonic()
        with pytest.raises(trusted.Unusable):
            loaded = trusted.load_checkpoint(path, part)
            trusted.from_scratch_model(part, loaded, SN)
        assert time.monotonic() - start < 3, name


def test_hostile_layer_lists_are_refused_by_the_rules(grading_source):
    """Values a layer list can hold (booleans for integers, huge or NaN numbers, nested lists, arguments
    torch refuses, huge activations, pooling-heavy lists, Dropout(p=0)) never reach torch unchecked."""
    base = exhausting_spec()
    conv = base["conv_layers"][0]

    def variant(**changes):
        spec = json.loads(json.dumps(base))
        spec["conv_layers"][0][1].update(changes)
        return spec

    refused = [
        variant(out_channels=True), variant(out_channels=10 ** 400), variant(kernel_size=[[3]]),
        variant(padding="same", stride=[2, 2]), variant(out_channels=4096.0), variant(groups=0),
        base,  # 4096 x 64 x 64 values in one output: the activation limit
        {"conv_layers": [conv] * 70, "fc_layers": base["fc_layers"]},
        {"conv_layers": base["conv_layers"], "fc_layers": [["Dropout", {"p": float("nan")}]] + base["fc_layers"][1:]},
        {"conv_layers": [["AvgPool2d", {"kernel_size": 11, "stride": 1, "padding": 5, "ceil_mode": False,
                                        "count_include_pad": True}]] * 3 + [["Conv2d", {**conv[1], "out_channels": 1000}]]
         + [["AvgPool2d", {"kernel_size": 11, "stride": 1, "padding": 5, "ceil_mode": False,
                           "count_include_pad": True}]] * 20 + base["conv_layers"][1:2], "fc_layers": base["fc_layers"]},
        {"conv_layers": "not a list", "fc_layers": []}, ["not", "a", "mapping"], None,
    ]
    for spec in refused:
        with pytest.raises(architecture.ArchitectureError):
            architecture.check(spec)
    assert checks._final_layers({"checkpoints": {"SimpleNetFinal": {"layers": {
        "Conv2d": 3, "BatchNorm2d": 1, "Linear": 2, "ReLU": 1, "Dropout": 1, "dropping": 0}}}}) != ""


def hostile_values() -> list:
    deep = []
    for _ in range(900):
        deep = [deep]
    return [None, 10 ** 400, -(10 ** 400), float("nan"), float("inf"), "a string", "\ud800\x1b[2J", [], {}, deep,
            [0.0] * 100_000, {"__raised__": "x" * 10_000}, {"__raised__": 10 ** 400}, {"extra": 1}, [[1, 2], [3]],
            True, [True, False], {"answer": 1, "error": 2}]


def mutated(answers: dict, path: str, value) -> dict:
    """`answers` with `path` ("probes/<probe>/...") set to `value` (only that probe is copied)."""
    keys = path.split("/")
    copy = {**answers, "probes": dict(answers["probes"])}
    if len(keys) > 2:
        copy["probes"][keys[1]] = json.loads(json.dumps(answers["probes"][keys[1]]))
    node = copy
    for key in keys[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else {}
    if isinstance(node, dict):
        node[keys[-1]] = value
    return copy


def trusted_from(answers: dict) -> dict:
    """A trusted result whose expected answers are `answers`' own (so `answers` earns every check), the
    reference SimpleNetFinal's layer list as its checkpoint's."""
    from proj4_code.simple_net_final import SimpleNetFinal

    layers = architecture.check(architecture.describe(SimpleNetFinal()))
    return {"expected": {name: {"answer": entry["answer"]} for name, entry in answers["probes"].items()},
            "checkpoint_outputs": {}, "checkpoints": {"SimpleNetFinal": {"layers": layers}}}


def test_the_scorer_survives_every_hostile_value_and_charges_only_what_it_touches(pasted_answers, config,
                                                                                grading_source):
    """Each probe's answer, and each answer path of the checks, replaced by every hostile value a JSON
    file can hold: the scorer never raises, and only the checks that read the value lose points."""
    key = json.loads((grading_source / "grader" / "test_key.json").read_text())
    trusted = trusted_from(pasted_answers)
    honest = scoring.score(scoring.Evidence(pasted_answers, trusted, key), config)[0]
    full = {t["name"] for t in honest if t["score"] == t["max_score"] and t["max_score"] > 0}
    assert {c.name for c in checks.CHECKS + checks.HIDDEN} <= full
    paths = sorted({f"probes/{p.split('/')[0]}/answer/{p.split('/', 1)[1]}" for c in checks.CHECKS + checks.HIDDEN
                    for p in c.paths if "/" in p})
    targets = [f"probes/{name}" for name in pasted_answers["probes"]] + [f"probes/{name}/answer"
                                                                           for name in pasted_answers["probes"]] + paths
    values = hostile_values()
    for target in targets:
        probe = target.split("/")[1]
        for value in (values if target.count("/") < 3 else values[::3]):
            answers = mutated(pasted_answers, target, value)
            tests = scoring.score(scoring.Evidence(answers, trusted, key), config)[0]
            for test, check in zip(tests, checks.CHECKS + checks.HIDDEN):
                reads = any(p.split("/")[0] == probe for p in check.paths) or check.rule is not None
                if not reads:
                    assert test["score"] == test["max_score"], (target, repr(value)[:40], check.name)
                assert scoring.GRADER_ERROR not in test["output"], (target, repr(value)[:40], check.name)
    for hostile in (None, [], "x", {"probes": []}, {"probes": {"simple_net": "x"}}, {"checkpoint_outputs": [1]}):
        scoring.score(scoring.Evidence(hostile, trusted, key), config)


def test_the_feedback_shows_no_expected_value(pasted_answers, config, grading_source):
    """Expected answers made recognisable (every number 7xx.xxx, every text SECRET-...), the student's
    the honest ones: no message of any check contains one of them."""
    key = json.loads((grading_source / "grader" / "test_key.json").read_text())

    def disguise(value, counter=[0]):
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            counter[0] += 1
            return 700.125 + (counter[0] % 97) if isinstance(value, float) else 7_000_000 + counter[0] % 97
        if isinstance(value, str):
            return f"SECRET-{value}"
        if isinstance(value, list):
            return [disguise(v) for v in value]
        return {k: disguise(v) for k, v in value.items()}

    trusted = {"expected": {name: {"answer": disguise(entry["answer"])} for name, entry in
                            pasted_answers["probes"].items()}, "checkpoint_outputs": {}, "checkpoints": {}}
    tests = scoring.score(scoring.Evidence(pasted_answers, trusted, key), config)[0]
    text = "\n".join(t["output"] for t in tests)
    assert "SECRET-" not in text and not re.search(r"7\d\d\.\d|700000\d|70000\d\d", text), text[:2000]
    assert sum(t["score"] for t in tests) == 0


def test_intake_is_bounded_against_lying_and_huge_zips(config, tmp_path):
    """A zip whose end record declares 1 entry but holds 300,000 (zipfile ignores the count), 20,000
    proj4_code/ folders (the choice among them was quadratic), a 200 MB zip bomb in one member: each
    refused or settled in seconds."""
    sub = tmp_path / "sub"
    sub.mkdir()
    with zipfile.ZipFile(sub / "lying.zip", "w") as zf:
        for i in range(300_000):
            zf.writestr(str(i), "")
    data = bytearray((sub / "lying.zip").read_bytes())
    end, record = data.rfind(b"PK\x05\x06"), data.rfind(b"PK\x06\x06")
    data[record + 24:record + 40] = struct.pack("<QQ", 1, 1)
    data[end + 8:end + 12] = struct.pack("<HH", 1, 1)
    (sub / "lying.zip").write_bytes(bytes(data))
    start = time.monotonic()
    with pytest.raises(intake.Refused, match="more than 50,000"):
        intake.take_submission(sub, tmp_path / "w1", config)
    assert time.monotonic() - start < 5
    (sub / "lying.zip").unlink()

    with zipfile.ZipFile(sub / "many.zip", "w") as zf:
        for i in range(20_000):
            zf.writestr(f"copy{i:05d}/proj4_code/simple_net.py", "x = 1\n")
    start = time.monotonic()
    taken = intake.take_submission(sub, tmp_path / "w2", config)
    assert time.monotonic() - start < 15 and taken.code_folder == "copy00000/proj4_code/"
    (sub / "many.zip").unlink()

    with zipfile.ZipFile(sub / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("proj4_code/simple_net.py", b"\0" * (200 * 2**20))
        zf.writestr("model_output/" + SN, b"\0" * (200 * 2**20))
    start = time.monotonic()
    taken = intake.take_submission(sub, tmp_path / "w3", config)
    assert time.monotonic() - start < 15
    assert not taken.accepted and len(taken.refused) == 2, taken.refused


def test_no_constant_prediction_reaches_a_floor(config, grading_source):
    """Predictions without a model at all: the best constant answer (the commonest class, the commonest
    value of each attribute) stays below every part's floor, so it earns no accuracy credit."""
    key = json.loads((grading_source / "grader" / "test_key.json").read_text())
    labels, flags = key["labels"], key["flags"]
    commonest_class = max(labels.count(c) for c in set(labels)) / len(labels)
    commonest_flags = sum(max(sum(r[a] for r in flags), len(flags) - sum(r[a] for r in flags))
                          for a in range(len(flags[0]))) / (len(flags) * len(flags[0]))
    for part in config["parts"]:
        best = commonest_flags if part["task"] == "multi" else commonest_class
        assert scoring.credit(best, part["threshold"], part["floor"]) == 0, (part["class_name"], best)
