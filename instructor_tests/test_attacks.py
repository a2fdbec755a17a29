"""The adversary suite (issues 14 and 22): a dishonest student who has read the autograder's source,
holds the public test split with its labels and a correct implementation's answers from elsewhere,
reads the feedback of earlier gradings, submits as often as they like, and knows that a TA grades on
a machine where the course repository is installed editable (README's set-up).

Every attack is a submission graded as `proj4-instructor grade` grades it: in a fresh container of the
session's grading image (conftest.py's `grader`), two at a time. Each asserts SCORES (attacks on the
starter score exactly what the plain starter scores, 0; attacks added to a correct solution exactly
what its honest part earns), that its results.json passes submissions.check_results and shows no
grader path or traceback, that the grading ended under the bound README states (the runner's
deadline + MARGIN_S for the container around it), and that nothing of its sandbox uid is left on
this machine once its container is gone. The attack code that runs in the sandbox is in
instructor_tests/attacks/.

Attacks whose checks do not overlap share one submission, gradings that assert nothing about the
public tests skip them (conftest.NO_FEEDBACK), and the limits are shortened (ENV, FLOOD, SLOW): the
module runs 11 gradings (the suite of issue 14 ran 13). What cannot be prevented (a model fitted to
the public test split earns accuracy) is asserted too, as README states it. The hostile details that need no container
(answer values, checkpoints, layer lists, zips) are tested on the grader's modules directly, at the end.
"""
import io
import itertools
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
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import pytest
import torch
from conftest import NO_FEEDBACK, WORKERS
from submissions import REFERENCE, by_name, check_results, graded, grader_internals, lost, write_zip

from proj4_instructor import autograder_build, containers
from proj4_instructor.autograder.root import checks, intake, protocol, sandbox, scoring
from proj4_lib import architecture

pytestmark = pytest.mark.slow
ATTACKS = Path(__file__).resolve().parent / "attacks"
SN, SNF, MR, ML = (f"trained_{c}_final.pt" for c in ("SimpleNet", "SimpleNetFinal", "MyResNet18", "MultilabelResNet18"))
# The runner's limits for the gradings of this module (seconds): shorter than Gradescope's, as the attacks
# need. FLOOD and SLOW make the deadline, not a step's limit, end the grading.
ENV = {"AUTOGRADER_TOTAL_TIMEOUT": "120", "AUTOGRADER_PUBLIC_TIMEOUT": "60", "AUTOGRADER_TEST_TIMEOUT": "30",
       "AUTOGRADER_PROBE_TIMEOUT": "30"}
FLOOD = {"AUTOGRADER_DEADLINE": "100", "AUTOGRADER_TOTAL_TIMEOUT": "60", "AUTOGRADER_PUBLIC_TIMEOUT": "60",
         "AUTOGRADER_TEST_TIMEOUT": "30"}
SLOW = {"AUTOGRADER_DEADLINE": "170", "AUTOGRADER_TRUSTED_TIMEOUT": "50", "AUTOGRADER_TOTAL_TIMEOUT": "45",
        "AUTOGRADER_PUBLIC_TIMEOUT": "45", "AUTOGRADER_TEST_TIMEOUT": "30"}
# The bound README states for a grading's wall time: the runner's deadline (protocol.LIMITS, or
# AUTOGRADER_DEADLINE) plus this, measured here for what the container adds around the runner
# (create, copy in, start, copy out, remove) and what the runner does after its last step.
MARGIN_S = 30.0


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
    def conv(i, o):
        return ["Conv2d", {"in_channels": i, "out_channels": o, "kernel_size": [1, 1], "stride": [1, 1],
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


def slow_spec(gelus: int = 56) -> dict:
    """A layer list within every size rule (8.4 M multiply-adds and pooling reads, 17 K parameters, its
    largest output 1,024 x 64 x 64 values: the activation limit exactly) that is slow to evaluate: a
    chain of GELUs on that activation costs seconds per layer for the test split at one thread."""
    conv = ["Conv2d", {"in_channels": 1, "out_channels": 1024, "kernel_size": [1, 1], "stride": [1, 1],
                       "padding": [0, 0], "dilation": [1, 1], "groups": 1, "bias": True}]
    return {"conv_layers": [conv] + [["GELU", {"approximate": "none"}]] * gelus
            + [["AdaptiveAvgPool2d", {"output_size": [1, 1]}]],
            "fc_layers": [["Dropout", {"p": 0.5}], ["Linear", {"in_features": 1024, "out_features": 15, "bias": True}]]}


ODD_NAME = b"notes/\xff\xfe.txt"


def with_odd_member(path: Path) -> Path:
    """`path` (a zip) plus one member whose name carries the UTF-8 flag but holds invalid bytes (Python's
    zipfile cannot open such an archive)."""
    placeholder = "notes/@@.txt"
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(placeholder, "my notes\n")
    data = bytearray(path.read_bytes())
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = data.find(signature)
        while at >= 0:
            if data[at + name_at:at + name_at + len(placeholder)] == placeholder.encode():
                data[at + name_at:at + name_at + len(placeholder)] = ODD_NAME
                flag = struct.unpack("<H", data[at + flag_at:at + flag_at + 2])[0] | 0x800
                data[at + flag_at:at + flag_at + 2] = struct.pack("<H", flag)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    with pytest.raises(UnicodeDecodeError):  # what made such a zip cost everything
        zipfile.ZipFile(path)
    return path


# -- what a grading left on this machine --------------------------------------------------------------------

class Listener:
    """A TCP server on 127.0.0.1 of this machine: records every connection."""

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


class UidWatcher:
    """The sandbox uids (containers.SANDBOX_UIDS) of the processes this machine shows, sampled twice a
    second while the module grades: a container's sandbox processes are this machine's processes under
    the same uid (no user namespace), so "no process of that uid once the container is gone" is a claim
    about something that was there."""

    def __init__(self):
        self.seen, self.stop = set(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        low, high = containers.SANDBOX_UIDS
        while not self.stop.wait(0.5):
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/status") as f:
                        line = next(line for line in f if line.startswith("Uid:"))
                except (OSError, StopIteration):
                    continue
                uid = int(line.split()[1])
                if low <= uid <= high:
                    self.seen.add(uid)

    def close(self):
        self.stop.set()
        self.thread.join()


def sysv_objects(uid: int) -> list:
    """SysV shared memory segments, message queues and semaphore sets of this machine owned or made by `uid`."""
    return sandbox.ipc_objects(uid)


def leftovers(uid: int) -> dict:
    """What `uid` has on this machine: processes, files in the shared folders, SysV objects."""
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


def sandbox_uid(one: containers.Graded) -> int:
    """The uid the container's sandbox ran student code as (measurements.json names it)."""
    found = re.search(r"uid (\d+)", one.measurements.get("sandbox", ""))
    assert found, one.measurements.get("sandbox")
    return int(found.group(1))


# -- the submissions ------------------------------------------------------------------------------------------

def forged_submission(path: Path, starter: Path, pasted: dict, shapes: dict, seeded: bool,
                      checkpoints=None) -> Path:
    data = (f"PASTED = {json.dumps(json.dumps(pasted))}\nHARVEST = {json.dumps(json.dumps(shapes))}\n"
            f"SEEDED = {seeded}\n")
    return write_zip(path, starter, overrides={**with_code(starter, {"simple_net.py": attack_code("forge")}),
                                               "adv_data.py": data}, checkpoints=checkpoints)


def ta_paths() -> list:
    """Where the TA's machine keeps the course repository and the Python it is installed editable in: what
    a student would guess, given to the attack as the best case."""
    import site

    return sorted({str(REFERENCE.parent), *site.getsitepackages(), "/work/main", "/root/proj4"})


def reach_code(**values) -> dict:
    """{module: attack code} of the editable-install reach (__init__.py) and its feedback channel."""
    return {"__init__.py": attack_code("reach", GUESSES=ta_paths(), BUDGET=values.get("budget", 300_000)),
            "stats_helper.py": attack_code("leak")}


def harvest(results_list) -> dict:
    """{answer path: shape} of every "the reference's is (...)" the feedback of earlier gradings showed."""
    found = {}
    for results in results_list:
        for test in results["tests"]:
            for path, shape in re.findall(r"(\S+/\S+)(?: \([^)]*\))? has shape [^;]*; the reference's is \(([\d, ]*)\)",
                                          test["output"]):
                found[path] = [int(s) for s in shape.replace(" ", "").split(",") if s]
    return found


def plans(tmp: Path, grading_source: Path, starter: Path, config: dict, ref: dict, pasted: dict, port: int) -> dict:
    """{name: (make the submission, the runner's limits, paths to copy out of the container)} of every
    grading of the module; "replay" is made from the shapes the feedback of "forged_with_seed" showed."""
    images, features, key = public_split(grading_source)
    backbone = sorted(features)[0]
    heads = {
        MR: head_checkpoint("MyResNet18", backbone, *fitted_head(features[backbone], torch.nn.functional.one_hot(
            torch.tensor(key["labels"]), 15).float() * 2 - 1)),
        ML: head_checkpoint("MultilabelResNet18", backbone, *fitted_head(
            features[backbone][key["attribute_index"]], torch.tensor(key["flags"]).float() * 8 - 4)),
    }
    keys_only = saved({"format": "full", "class_name": "SimpleNet", "model_kwargs": {}, "architecture": None,
                       "state_dict": {k: torch.zeros(1) for k in torch.load(io.BytesIO(ref[SN]),
                                                                            weights_only=True)["state_dict"]}})

    def zip_of(name, base, appended=None, checkpoints=None, overrides=None, extra=None):
        overrides = {**with_code(base, appended or {}), **(overrides or {})}
        return write_zip(tmp / f"{name}.zip", base, overrides=overrides, checkpoints=checkpoints, extra=extra)

    def hostile_output_zip():
        """The starter with hostile output (megabytes of invalid UTF-8, surrogates, control characters),
        a proj4_lib and grader-named modules of the student's, zip-slip, absolute, deep and symlinked
        members, an old copy of proj4_code; and hand-made checkpoints (the starter's classes)."""
        path = zip_of("handmade_and_hostile_output", starter, {"simple_net.py": attack_code("hostile_output")},
                      checkpoints={SN: keys_only, SNF: spec_checkpoint(exhausting_spec()), MR: heads[MR],
                                   ML: head_checkpoint("MyResNet18", backbone,
                                                       *fitted_head(features[backbone], torch.zeros(1500, 7)))},
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

    flood_limits, slow_limits = ({"answers": float(env["AUTOGRADER_TOTAL_TIMEOUT"]),
                                  "public": float(env["AUTOGRADER_PUBLIC_TIMEOUT"])} for env in (FLOOD, SLOW))

    def flood(when, limits, deadline):
        return attack_code("flood", WHEN=when, LIMITS=limits, DEADLINE=deadline,
                           RESERVE=protocol.LIMITS["finish_reserve"].value)

    return {
        # a process that tries to outlive its grading, and beside it the plain starter with the reference's
        # checkpoints (the score every starter-based attack must get)
        "outlive": (lambda: zip_of("outlive", starter, {"simple_net.py": attack_code("outlive")}),
                    {**ENV, "AUTOGRADER_MEMORY_MB": "1100"}, ()),
        "starter_with_checkpoints": (lambda: zip_of("starter_with_checkpoints", starter, checkpoints=ref),
                                     NO_FEEDBACK, ()),
        "slow_layer_list": (lambda: zip_of("slow", REFERENCE, {"__init__.py": flood(
            {"answers": "late", "public": "late"}, slow_limits, SLOW["AUTOGRADER_DEADLINE"])},
            checkpoints={**ref, SNF: spec_checkpoint(slow_spec())}), SLOW, ()),
        "flood": (lambda: zip_of("flood", starter, {"__init__.py": flood(
            {"answers": "import", "public": "late"}, flood_limits, FLOOD["AUTOGRADER_DEADLINE"])},
            checkpoints={SN: ugly_checkpoint(ref[SN])}), FLOOD, ()),
        "reach": (lambda: zip_of("reach", starter, {**reach_code(), "data_transforms.py": attack_code(
            "spy", PORT=port, SECONDS=15)}, checkpoints=ref), ENV, ()),
        "forged_with_seed": (lambda: forged_submission(tmp / "forged.zip", starter, pasted, {}, True), ENV, ()),
        "hostile_checkpoints": (lambda: zip_of("hostile_checkpoints", REFERENCE, checkpoints={
            SN: stride0_checkpoint(ref[SN]), SNF: refused_pickle_checkpoint(), MR: many_keys_checkpoint(ref[MR]),
            ML: slow_pickle_checkpoint("MultilabelResNet18")}), {**ENV, **NO_FEEDBACK}, ("/tmp/adv-pwned",)),
        "hostile_answers_and_lying_layers": (lambda: zip_of(
            "hostile_answers", REFERENCE, {"simple_net.py": attack_code("hostile_answers")}, checkpoints=ref,
            overrides={"simple_net_final.py": (REFERENCE / "simple_net_final.py").read_text().replace(
                "nn.Dropout(0.5)", "nn.Identity()")}), {**ENV, **NO_FEEDBACK}, ()),
        "fitted_and_odd_member": (lambda: with_odd_member(zip_of(
            "fitted", REFERENCE, overrides={"simple_net_final.py": MEMORIZER},
            checkpoints={SN: ref[SN], SNF: memorizer_checkpoint(grading_source, config), **heads})),
            {**ENV, **NO_FEEDBACK}, ()),
        "handmade_and_hostile_output": (hostile_output_zip, ENV, ()),
        "replay": (lambda shapes: forged_submission(tmp / "replay.zip", starter, pasted, shapes, False,
                                                    checkpoints={SN: keys_only}), {**ENV, **NO_FEEDBACK}, ()),
    }


@pytest.fixture(scope="module")
def gradings(grader, grading_source, starter, config, reference_checkpoints, pasted_answers, tmp_path_factory):
    """{name: {"graded": Graded, "uid": its sandbox uid, "left": what that uid had on this machine once the
    container was gone, "submission": the zip}} of every attack of the module, WORKERS at once, the longest
    first; "replay" once "forged_with_seed" is graded, its feedback harvested."""
    tmp = tmp_path_factory.mktemp("attacks")
    listener, watcher = Listener(), UidWatcher()
    plan = plans(tmp, grading_source, starter, config, reference_checkpoints, pasted_answers, listener.port)
    done, lock = {}, threading.Lock()

    def grade(name):
        make, env, copy_out = plan[name]
        try:
            if name == "replay":  # with the shapes the earlier feedback showed
                submission = make(harvest([done["forged_with_seed"]["graded"].results]))
            else:
                submission = make()
            one = grader.one(submission, env=env, copy_out=copy_out)
            entry = {"graded": one, "submission": submission}
            entry["uid"] = sandbox_uid(one)
            entry["left"] = leftovers(entry["uid"])
        except Exception as err:  # noqa: BLE001 - the test of that grading reports it
            entry = {"error": repr(err)}
        with lock:
            done[name] = entry
        return name

    order = [n for n in plan if n != "replay"]
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            pending = {pool.submit(grade, name) for name in order}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                if any(f.result() == "forged_with_seed" for f in finished):
                    pending.add(pool.submit(grade, "replay"))
    finally:
        listener.close()
        watcher.close()
    return {"done": done, "listener": listener, "seen": watcher.seen}


def graded_one(gradings, name) -> containers.Graded:
    entry = gradings["done"][name]
    assert "error" not in entry, entry.get("error")
    one = entry["graded"]
    assert one.results is not None, (name, one.problem, one.log[-3000:])
    return one


def result(gradings, name) -> dict:
    return graded_one(gradings, name).results


def no_autograder_error(results) -> None:
    assert all(t["name"] != "Autograder error" for t in results["tests"]), results["tests"][0]["output"]


def reports(text: str, tag: str) -> list:
    """The JSON reports an attack printed after `tag` (its log) or raised (its feedback)."""
    found = []
    for line in text.splitlines():
        if tag in line:
            try:
                found.append(json.loads(line.split(tag, 1)[1].strip()))
            except ValueError:
                continue
    return found


def solution_lines(grading_source: Path, starter: Path) -> set:
    """Lines of the reference solution's blocks (proj4_code/*.py between BEGIN and END SOLUTION) that would
    tell a leak: 16 characters or more, and in no file the student has anyway (the starter, the provided
    library, the public tests)."""
    from proj4_instructor import markers

    known = set()
    for folder in (starter, grading_source / "provided", grading_source / "tests" / "public"):
        for path in folder.rglob("*.py"):
            known |= {line.strip() for line in path.read_text().splitlines()}
    lines, inside = set(), False
    for path in REFERENCE.glob("*.py"):
        for line in path.read_text().splitlines():
            text = line.strip()
            if text.startswith(markers.BEGIN):
                inside = True
            elif text.startswith(markers.END):
                inside = False
            elif inside and len(text) >= 16 and text not in known:
                lines.add(text)
    return lines


def texts(value) -> list:
    """Every string in a results.json (keys too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [k, *texts(v)]]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


# -- 1. replay, 3. forged answers ---------------------------------------------------------------------------

def test_answers_pasted_from_another_seed_and_the_feedback_replayed_earn_nothing(gradings):
    """A correct implementation's answers from another seed, with every array reshaped to what an earlier
    grading's feedback said the reference's shape was, and a SimpleNet checkpoint of the right keys with
    nothing learnt in it: 0 (feedback shows shapes, never values)."""
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
    feedback = by_name(results)["public test test_simple_net.py::test_output_shape"]
    assert feedback["status"] == "failed"  # a forged 'passed' after the real failure changes nothing


def test_hostile_answer_values_and_a_lying_layer_list_cost_only_the_checks_that_read_them(gradings, max_score):
    """A correct solution whose answers file is rewritten with huge integers, NaN, wrong types, deep
    nesting, surrogates, markers and extra keys in some probes: those checks fail with a message. Its
    SimpleNetFinal has Identity where the reference checkpoint's layer list declares Dropout: the checks
    that need Dropout fail. Every other check keeps its points."""
    results = result(gradings, "hostile_answers_and_lying_layers")
    no_autograder_error(results)
    tests = by_name(results)
    hostile = ("dl_utils/accuracy", "optimizer/", "stats_helper/", "confusion_matrix/matrix", "image_loader/",
               "runner/histories", "checkpoints/", "multilabel_resnet/")
    needing = {c.name for c in checks.CHECKS + checks.HIDDEN if c.rule is checks._final_layers}
    touched = {c.name for c in checks.CHECKS + checks.HIDDEN
               if any(p.startswith(h) if h.endswith("/") else p == h for p in c.paths for h in hostile)
               or c.name.startswith("data_transforms: augmentation") or "unnormalised" in c.name}
    assert needing and touched and not needing & touched, "the two attacks must not share a check"
    for check in checks.CHECKS + checks.HIDDEN:
        test = tests[check.name]
        if check.name in touched | needing:
            assert test["score"] == 0, (check.name, test["output"][:300])
        else:
            assert test["score"] == test["max_score"], (check.name, test["output"][:300])
    for cls in ("SimpleNet", "SimpleNetFinal", "MultilabelResNet18"):
        assert tests[accuracy_test(cls)]["score"] == 0
    assert tests[accuracy_test("MyResNet18")]["score"] == 8
    lost_points = sum(c.points for c in checks.CHECKS + checks.HIDDEN if c.name in touched | needing) + 24
    assert graded(results) == max_score - lost_points, lost(results)


# -- 2. predictions without a model, hand-made and hostile checkpoints; 5. hostile output, 6. hostile zips ------

def test_hand_made_checkpoints_and_hostile_output_with_the_starter_earn_nothing(gradings):
    """A keys-only SimpleNet, a layer list within the parameter and multiply-add limits whose activations
    would exhaust the evaluator (refused by the activation limit), a head fitted to the public labels
    (with the starter's class), a checkpoint of another class: 0, each with its message. The same
    submission writes megabytes of invalid UTF-8, lone surrogates and control characters (output,
    exception messages, file names), holds a proj4_lib of the student's, files named like the grader's
    modules, zip-slip, absolute, deep and symlinked members and an old copy of proj4_code: valid, small
    results."""
    results = result(gradings, "handmade_and_hostile_output")
    assert graded(results) == 0, lost(results)  # check_results: strict UTF-8, under 1 MB
    tests = by_name(results)
    assert "does not compute what the grader evaluated" in tests[accuracy_test("MyResNet18")]["output"]
    assert "not a MultilabelResNet18" in tests[accuracy_test("MultilabelResNet18")]["output"]
    assert "values per image" in tests[accuracy_test("SimpleNetFinal")]["output"]
    no_autograder_error(results)
    output = results["output"]
    assert "Code graded: proj4_code/" in output
    assert "zip-slip" in output and "symbolic link" in output
    assert "proj4_lib/checkpoints.py" in output  # listed as not used


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
    assert "/tmp/adv-pwned" not in graded_one(gradings, "hostile_checkpoints").extra  # the pickle did not run


def test_a_model_fitted_to_the_public_split_earns_accuracy_and_an_odd_zip_member_costs_nothing(gradings, max_score):
    """What stays possible (README): the test split is public, so a correct class whose weights are
    solved in closed form on it (a memorizing SimpleNetFinal, heads fitted to the labels) earns the
    accuracy points; the same checkpoints with the starter's classes earn nothing (above). The zip also
    holds a member whose name carries the UTF-8 flag but is not UTF-8 (zipfile cannot open the archive):
    graded as if it were not there, the member named as skipped, no grader path or traceback."""
    results = result(gradings, "fitted_and_odd_member")
    assert graded(results) == max_score, lost(results)
    assert "its name is marked UTF-8 but is not (skipped)" in results["output"], results["output"]
    assert "Code graded: proj4_code/" in results["output"]
    assert grader_internals(results) == []


# -- 4. the sandbox: outliving a grading, leftovers, shared memory, fork bombs, spying ------------------------

def test_a_process_that_outlives_its_grading_touches_nothing_after_it(gradings):
    """A double-forked setsid process that stops what it may and rewrites other gradings' answers files,
    files in every shared folder, SysV and POSIX IPC objects, shared memory hoarded past the memory
    limit, a fork bomb: once its container is gone, no process of its sandbox uid is left on this
    machine (where its processes ran under that uid), nor a file or IPC object; the grading beside it,
    the plain starter with the reference's checkpoints, scores 0 and was not touched."""
    outlive, beside = result(gradings, "outlive"), result(gradings, "starter_with_checkpoints")
    assert graded(outlive) == 0 and graded(beside) == 0
    entry = gradings["done"]["outlive"]
    assert entry["uid"] in gradings["seen"], "the sandbox's processes were never seen on this machine"
    assert entry["left"] == {"processes": [], "files": [], "sysv": []}, entry["left"]
    assert "went over the memory limit" in outlive["output"], outlive["output"]
    bomb = re.search(r"ADV fork bomb: (\d+) children", json.dumps(outlive))
    assert bomb and int(bomb.group(1)) < protocol.LIMITS["processes"].value, "the process limit stops a fork bomb"
    assert "ADV-TAMPERED" not in json.dumps(beside)
    assert "NotImplementedError" in by_name(beside)["compute_accuracy"]["output"]
    steps = graded_one(gradings, "outlive").measurements["steps"]  # the IPC objects went with the step that made them
    assert [s["step"] for s in steps if "System V" in " ".join(s["notes"])] == ["answers (run 1)"], steps
    assert all("memory" not in s.get("outcome", "") for s in steps if s["step"] == "public tests (group 2)"), steps


def test_the_sandbox_reads_nothing_of_other_gradings_and_reaches_no_network(gradings):
    """While other gradings run, a spy looks for the reference solution, the test key, other students'
    files and the trusted side's results for 15 s, wherever this machine keeps them (the runner's
    folders, the TA commands' temporary folders, the container engine's storage): it finds no other
    grading, reads none of their files, reads no other user's environment, and no connection leaves
    its container."""
    one = graded_one(gradings, "reach")
    assert graded(one.results) == 0
    report = reports(one.log, "SPY-REPORT ")[0]
    assert report["n_read"] == 0 and report["others_seen"] == 0 and report["proc"] == 0, report
    assert report["net"]["local"] != "connected" and report["net"]["remote"] != "connected", report
    assert gradings["listener"].connections == 0
    assert "SPY-REPORT" in by_name(one.results)["data_transforms: fundamental values"]["output"]  # what it would show


# -- 7. issue 22: the editable install, the feedback as a channel, the file flood, the slow layer list ---------

def test_the_reach_finds_the_reference_on_this_machine_without_a_container(starter, tmp_path):
    """The attack is real: the same code in the starter's __init__.py, run with this machine's Python
    (where README's set-up installs the repository editable), finds the reference solution through
    site-packages and the file system and imports it in place of the starter's modules. That is what
    grading with the TA's own Python gave the student (102 / 141 without checkpoints)."""
    package = tmp_path / "proj4_code"
    package.mkdir()
    for path in starter.glob("*.py"):
        (package / path.name).write_text(path.read_text() + reach_code().get(path.name, ""))
    probe = ("import json, proj4_code, proj4_code.simple_net as s; "
             "print(json.dumps({'report': json.loads(proj4_code._REACH_REPORT), 'file': s.__file__}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    report = found["report"]
    assert report["solved"] and Path(found["file"]).parent == Path(report["solved"]), found
    assert "BEGIN SOLUTION" in Path(found["file"]).read_text()
    import site

    finders = [p for d in site.getsitepackages() for p in Path(d).glob("__editable__*proj4*finder.py")]
    if finders:  # README's set-up: the editable install alone leads to it
        assert {str(p) for p in finders} <= set(report["hints"]), report


def test_the_editable_install_reach_scores_what_the_starter_scores_and_reads_nothing(gradings):
    """The starter with that code in __init__.py and the reference's checkpoints, graded in a container:
    it finds no proj4_code/ but its own and reads nothing of this machine, so it scores exactly what the
    plain starter with the same checkpoints scores (graded beside it): 0. Without checkpoints it could
    earn no more (the accuracy points need them)."""
    one = graded_one(gradings, "reach")
    plain = result(gradings, "starter_with_checkpoints")
    assert graded(one.results) == graded(plain) == 0
    found = reports(one.log, "REACH-REPORT ")
    assert found, one.log[-3000:]
    for report in found:  # one per process that imported the package
        assert report["candidates"] == [] and report["read"] == [] and report["solved"] is None, report
        assert report["walked"] > 1000, report  # it did look
        assert not any(h.startswith(tuple(ta_paths())) for h in report["hints"]), report


def test_the_feedback_carries_no_line_of_the_reference(gradings, grading_source, starter):
    """Whatever the reach read goes into an exception raised at import: the student sees it in the
    checks of that module and in the failing public tests (the channel works: the report is there).
    No line of any reference solution block that a submission did not hold itself appears anywhere in
    the results of any grading of the module."""
    results = result(gradings, "reach")
    tests = by_name(results)
    assert "REACH-REPORT" in tests["compute_mean_and_std: random images"]["output"]
    assert any("REACH-REPORT" in t["output"] for t in results["tests"] if t["number"].startswith("3.")), \
        "the public tests did not carry the message"
    lines = solution_lines(grading_source, starter)
    assert len(lines) > 50, len(lines)
    for name, entry in gradings["done"].items():
        submitted = entry["submission"].read_bytes().decode("utf-8", "replace")  # stored members: the code as text
        body = "\n".join(texts(result(gradings, name)))
        shown = [line for line in lines if line in body and line not in submitted]
        assert shown == [], (name, shown[:5])


def step_notes(one: containers.Graded) -> str:
    return "; ".join(f"{s['step']}: {s.get('outcome', '')} {', '.join(s.get('notes', []))}"
                     for s in one.measurements.get("steps", []))


def removed_after(one: containers.Graded, step: str) -> int:
    """Entries the runner removed (or left) after a step, by its measurements."""
    entry = next(s for s in one.measurements["steps"] if s["step"] == step)
    return sum(int(n) for n in re.findall(r"(?:removed|left) (\d+) entries", " ".join(entry.get("notes", []))))


def test_a_file_flood_at_import_and_before_the_deadline_ends_under_the_bound(gradings, config):
    """120,000 empty files at import in the answer step, and again in the public tests just before the
    step's limit (cut to what the deadline leaves, which the code reads from the container's first
    process): the grading ends under the bound, with every check's result, 0 points."""
    one = graded_one(gradings, "flood")
    results = one.results
    no_autograder_error(results)
    assert graded(results) == 0
    names = [t["name"] for t in results["tests"]]
    assert len(names) == len(checks.CHECKS) + len(checks.HIDDEN) + len(config["parts"]) + len(config["public_tests"])
    assert "ADV flood: " in one.log, step_notes(one)
    steps = {s["step"]: s for s in one.measurements["steps"]}
    assert "disk limit" in steps["answers (run 1)"]["outcome"], step_notes(one)
    assert removed_after(one, "answers (run 1)") > 10_000, step_notes(one)  # the watchdog's 20,000 and more
    assert removed_after(one, "public tests (group 1)") > 1000, step_notes(one)  # as many as the end of a step allows
    deadline = float(FLOOD["AUTOGRADER_DEADLINE"])
    assert one.measurements["deadline_s"] == deadline
    assert one.measurements["seconds"] < deadline and one.wall_s < deadline + MARGIN_S, (one.wall_s, step_notes(one))


def test_a_slow_layer_list_costs_only_simple_net_final(gradings, max_score):
    """A SimpleNetFinal checkpoint within every size rule whose layer list is slow to evaluate (a chain of
    GELUs on a 1,024 x 64 x 64 activation), with 120,000 files made just before each student step's limit:
    the trusted evaluation is stopped at its limit and run again without that checkpoint; the grading
    ends under the bound and loses exactly the SimpleNetFinal checks."""
    size = architecture.check(slow_spec())
    assert size["largest"] == architecture.MAX_ACTIVATION and size["macs"] < architecture.MAX_MACS
    one = graded_one(gradings, "slow_layer_list")
    results = one.results
    no_autograder_error(results)
    final = {c.name for c in checks.CHECKS + checks.HIDDEN if any(p.startswith("simple_net_final/") for p in c.paths)}
    final.add(accuracy_test("SimpleNetFinal"))
    lost_names = {t["name"] for t in results["tests"] if t["score"] < t["max_score"]}
    assert lost_names == final, lost(results)
    assert graded(results) == max_score - sum(t["max_score"] for t in results["tests"] if t["name"] in final)
    steps = [s["step"] for s in one.measurements["steps"]]
    assert "trusted (run 1)" in steps and "trusted (run 2)" in steps, step_notes(one)
    assert removed_after(one, "answers (run 1)") > 1000, step_notes(one)  # the flood after the answers
    deadline = float(SLOW["AUTOGRADER_DEADLINE"])
    assert one.measurements["seconds"] < deadline and one.wall_s < deadline + MARGIN_S, (one.wall_s, step_notes(one))


def test_every_grading_ends_under_the_bound_and_leaves_nothing_on_this_machine(gradings):
    """Every grading of the module: valid results under 1 MB, no grader path or traceback, nothing of
    its sandbox uid on this machine once its container is gone, no tampering, and a wall time under
    the runner's deadline + MARGIN_S (the figures are printed: pytest -s)."""
    rows = []
    for name, entry in sorted(gradings["done"].items()):
        one = graded_one(gradings, name)
        check_results(one.results)
        assert grader_internals(one.results) == [], (name, grader_internals(one.results)[:3])
        assert entry["left"] == {"processes": [], "files": [], "sysv": []}, (name, entry["left"])
        assert "ADV-TAMPERED" not in json.dumps(one.results), name
        deadline = one.measurements["deadline_s"]
        assert one.measurements["seconds"] < deadline, (name, one.measurements["seconds"], deadline)
        assert one.wall_s < deadline + MARGIN_S, (name, one.wall_s, deadline)
        rows.append(f"{name:34} wall {one.wall_s:6.1f} s  runner {one.measurements['seconds']:6.1f} s  "
                    f"deadline {deadline:5.0f} s  outside the runner {one.wall_s - one.measurements['seconds']:5.1f} s")
    print(f"\n{len(rows)} gradings:\n" + "\n".join(rows))


# -- the hostile details that need no container: the grader's modules directly ----------------------------

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
                                        "count_include_pad": True}]] * 3
         + [["Conv2d", {**conv[1], "out_channels": 1000}]]
         + [["AvgPool2d", {"kernel_size": 11, "stride": 1, "padding": 5, "ceil_mode": False,
                           "count_include_pad": True}]] * 20 + base["conv_layers"][1:2],
         "fc_layers": base["fc_layers"]},
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

    counter = itertools.count(1)

    def disguise(value):
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            n = next(counter)
            return 700.125 + (n % 97) if isinstance(value, float) else 7_000_000 + n % 97
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


def test_an_odd_member_after_the_checkpoints_costs_only_itself(config, reference_checkpoints, tmp_path):
    """The reference's zip with its checkpoints and, last, a member whose name is marked UTF-8 but is not:
    the intake reads the zip member by member and skips that one alone. (The last checkpoint is itself a
    ZIP64 archive: its end records, near the zip's end, were once taken for the zip's own, and the whole
    zip was refused.)"""
    sub = tmp_path / "sub"
    sub.mkdir()
    with_odd_member(write_zip(sub / "reference.zip", checkpoints=reference_checkpoints))
    (tmp_path / "work").mkdir()
    taken = intake.take_submission(sub, tmp_path / "work", config)
    assert taken.code_folder == "proj4_code/", taken.refused
    assert {f"model_output/{name}" for name in reference_checkpoints} <= set(taken.accepted)
    assert {f"proj4_code/{p.name}" for p in REFERENCE.glob("*.py")} <= set(taken.accepted)
    assert [r for r in taken.refused if "marked UTF-8 but is not (skipped)" in r] == taken.refused, taken.refused
    assert len(taken.refused) == 1


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
