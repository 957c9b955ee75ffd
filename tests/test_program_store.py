"""Programs stored on disk (tape._program_store), costly ops' and optimizers': a later process
loads them and gets the same values as compiling them (and as torch); what cannot be keyed
safely is not stored, and a damaged store is never an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from tape import _program_prefetch, _program_store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A conv, a linear layer and a Flax block (costly ops), forward and backward node by node, and
# SGD steps (tape's optimizers' updates are stored too).
CHILD = """
import json, logging, os, sys
sys.path.insert(0, {root!r})
import flax.linen as fnn
import numpy as np
import tape
from tape import _program_store as ps
from tape.nn import functional as F
import models

lowered = []  # programs JAX lowered to MLIR (each first in JAX's persistent cache)


class _Lowerings(logging.Handler):
    def emit(self, record):
        if "MLIR module conversion" in record.getMessage():
            lowered.append(record.getMessage())


logging.getLogger("jax").setLevel(logging.DEBUG)
logging.getLogger("jax").addHandler(_Lowerings())
loads = []
load = ps._load
ps._load = lambda *a: loads.append(load(*a)) or loads[-1]
taken = []  # for each program loaded: whether the prefetching thread had it


class _Prefetched(dict):
    def pop(self, name, default=None):
        taken.append(name in self)
        return super().pop(name, default)


ps.prefetched = _Prefetched(ps.prefetched)
flax_calls = []  # Flax's init and apply, traced or run
for method in ("init", "apply"):
    real = getattr(fnn.Module, method)
    setattr(fnn.Module, method, lambda *a, real=real, **k: flax_calls.append(1) or real(*a, **k))

rng = np.random.default_rng(0)
x = tape.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
w = tape.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
v = tape.tensor(rng.standard_normal((5, 64)).astype(np.float32), requires_grad=True)
tape.manual_seed(0)
block = models.resnet.BasicBlock(4, 4)
opt = tape.optim.SGD([x, w, v, *block.parameters()], lr=0.01, momentum=0.9)
for i in range(2):
    opt.zero_grad()
    y = F.linear(block(F.conv2d(x, w, padding=1)).relu().flatten(1)[:, :64], v)
    y.tanh().sum().backward()
    opt.step()
    if i == 0:
        first_step_flax = len(flax_calls)
        first_step_lowered = list(lowered)
grads = [t.grad.numpy().tolist() for t in (x, w, v, block.conv1.weight)]
weights = [t.detach().numpy().tolist() for t in (x, w, v, block.conv1.weight)]
stored = sorted(n for n in os.listdir(ps.store_dir()) if n.endswith((".xla", ".json")))
print(json.dumps({{"loads": [p is not None for p in loads], "grads": grads, "weights": weights,
                  "first_step_flax": first_step_flax, "first_step_lowered": first_step_lowered,
                  "stored": stored,
                  "optax": "optax" in sys.modules, "taken": taken, "used": ps.used,
                  "prefetch_list": tape._program_prefetch._started_with}}))
"""


def _child(cache: str) -> dict:
    env = dict(os.environ, TAPE_CACHE_DIR=cache)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    code = CHILD.format(root=ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def _torch_grads() -> list:
    """The child's computation in torch (the block as torchvision's, seeded the same)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from test_models import RefBasicBlock

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    w = torch.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    v = torch.tensor(rng.standard_normal((5, 64)).astype(np.float32), requires_grad=True)
    torch.manual_seed(0)
    block = RefBasicBlock(4, 4)
    opt = torch.optim.SGD([x, w, v, *block.parameters()], lr=0.01, momentum=0.9)
    F = torch.nn.functional
    for _ in range(2):
        opt.zero_grad()
        y = F.linear(block(F.conv2d(x, w, padding=1)).relu().flatten(1)[:, :64], v)
        y.tanh().sum().backward()
        opt.step()
    tensors = (x, w, v, block.conv1.weight)
    return [t.grad.numpy() for t in tensors] + [t.detach().numpy() for t in tensors]


def _assert_grads(got: dict, want: list) -> None:
    for g, t in zip(got["grads"] + got["weights"], want, strict=True):
        np.testing.assert_allclose(np.asarray(g), t, rtol=1e-4, atol=1e-4)


def test_second_process_loads_every_program_and_matches_torch(tmp_path):
    """Both processes match torch; the second loads every program and matches the first bit
    for bit."""
    want = _torch_grads()
    first = _child(str(tmp_path))
    assert first["stored"] and not any(first["loads"]), first
    _assert_grads(first, want)
    second = _child(str(tmp_path))
    assert second["loads"] and all(second["loads"]), second["loads"]
    assert second["stored"] == first["stored"]
    # only tracing an update needs optax: a process that loads them never imports it
    assert first["optax"] and not second["optax"]
    # The block is declared with its source (models.flax_resnet): the second process finds its
    # variable shapes and programs by that source and runs no Flax code to its first step's end.
    assert first["first_step_flax"] > 0 and second["first_step_flax"] == 0
    # Nor does it lower any program to its first step's end: tape's cheap ops (relu, tanh, sum,
    # their VJPs) are stored by registry name too, and lowering a process's first program also
    # sets up MLIR (about 0.1 s).
    assert first["first_step_lowered"] and second["first_step_lowered"] == []
    # bit for bit: the same executables
    assert (second["grads"], second["weights"]) == (first["grads"], first["weights"])
    # The second process's thread loaded, in order, the programs the first one used, and each
    # program the step needed was there.
    assert second["prefetch_list"] == list(dict.fromkeys(first["used"])) and not any(first["taken"])
    assert second["taken"] and all(second["taken"])


def test_damaged_programs_are_compiled_again(tmp_path):
    first = _child(str(tmp_path))
    store = os.path.join(tmp_path, _program_store._SUBDIR)
    for i, name in enumerate(first["stored"]):
        with open(os.path.join(store, name), "r+b") as fh:
            if i % 2:
                fh.truncate(40)  # cut inside the header
            else:
                fh.seek(-64, os.SEEK_END)
                fh.write(b"\0" * 64)  # the machine code garbled: the checksum catches it
    second = _child(str(tmp_path))
    assert second["grads"] == first["grads"]
    # the prefetching thread tried them (the first process's list names them), loaded none
    assert all(second["taken"]) and not any(second["loads"])


def _aged(path, days: float, now: float) -> str:
    """A file at ``path`` last modified ``days`` before ``now``."""
    if not os.path.exists(path):
        with open(path, "wb") as fh:
            fh.write(b"x")
    os.utime(path, (now - days * 86400,) * 2)
    return str(path)


def test_prune_removes_files_no_process_used_for_a_month(tmp_path, monkeypatch):
    monkeypatch.setattr(_program_store, "store_dir", lambda: str(tmp_path))
    monkeypatch.setattr(_program_store, "owns_jax_cache", False)
    now = time.time()
    for name, days in (("old.xla", 31), ("older.json", 400), ("recent.xla", 20)):
        _aged(tmp_path / name, days, now)
    _program_store.write_checked(str(tmp_path / "used.xla"), "used", b"body")
    _aged(tmp_path / "used.xla", 40, now)
    assert _program_store.read_checked(str(tmp_path / "used.xla"), "used") == b"body"
    assert _program_store.prune(now) == 2  # reading used.xla made it recent
    assert sorted(os.listdir(tmp_path)) == ["pruned", "recent.xla", "used.xla"]
    _aged(tmp_path / "stale.xla", 60, now)
    assert _program_store.prune(now + 3600) == 0  # at most once a day
    assert _program_store.prune(now + 86401) == 1


@pytest.mark.parametrize("owned", [True, False], ids=["tape's directory", "the user's"])
def test_prune_removes_old_jax_entries_only_in_tapes_own_directory(tmp_path, monkeypatch, owned):
    store = tmp_path / "tape-programs"
    store.mkdir()
    monkeypatch.setattr(_program_store, "store_dir", lambda: str(store))
    monkeypatch.setattr(_program_store, "owns_jax_cache", owned)
    now = time.time()
    old = ["jit_f-0a1b-cache", "jit_f-0a1b-atime"]
    kept = ["jit_g-2c3d-cache", "notes.txt", "tape-programs"]  # recent, not JAX's, a folder
    for name in old + ["notes.txt"]:
        _aged(tmp_path / name, 45, now)
    _aged(tmp_path / "jit_g-2c3d-cache", 2, now)
    _aged(tmp_path / "tape-programs", 45, now)
    assert _program_store.prune(now) == (2 if owned else 0)
    assert sorted(os.listdir(tmp_path)) == sorted(kept + ([] if owned else old))


def test_import_tape_owns_only_the_directory_it_chose(tmp_path):
    code = "import tape; from tape import _program_store as s; print(s.owns_jax_cache)"
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    runs = {}
    for name, var in (("tape", "TAPE_CACHE_DIR"), ("jax", "JAX_COMPILATION_CACHE_DIR")):
        out = subprocess.run(
            [sys.executable, "-c", code], env={**env, var: str(tmp_path)}, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        runs[name] = out.stdout.strip()
    assert runs == {"tape": "True", "jax": "False"}


@pytest.mark.parametrize(
    "body", [b"not json", b'{"a": 1}', b'["../../etc/passwd"]', b"[1, 2]", b"", b'["ab", 3]']
)
def test_a_damaged_prefetch_list_prefetches_nothing(tmp_path, body):
    path = str(tmp_path / "prefetch-x")
    _program_store.write_checked(path, "prefetch-x", body)
    assert _program_prefetch._read_names(path) == []
    with open(path, "wb") as fh:
        fh.write(b'["ab"]')  # no header: not a file tape wrote
    assert _program_prefetch._read_names(path) == []


def test_store_refills_while_jax_cache_holds_the_programs(tmp_path):
    """jaxlib serializes an executable that JAX loaded from its own cache without its machine
    code. With JAX's cache warm and the store emptied (as after tape changes), the programs are
    compiled afresh, stored whole, and a third process loads them all."""
    first = _child(str(tmp_path))
    store = os.path.join(tmp_path, _program_store._SUBDIR)
    for name in os.listdir(store):
        os.unlink(os.path.join(store, name))
    second = _child(str(tmp_path))
    assert second["grads"] == first["grads"] and not any(second["loads"])
    assert second["stored"] == first["stored"]
    third = _child(str(tmp_path))
    assert third["grads"] == first["grads"]
    assert third["loads"] and all(third["loads"])


@jax.custom_vjp
def _clipped_gradient(x):
    return x


_clipped_gradient.defvjp(lambda x: (x, None), lambda _, g: (jnp.clip(g, -1, 1),))


@pytest.mark.parametrize(
    "fn, stored",
    [
        (lambda x: jnp.tanh(x) @ x.T, True),
        (lambda x: jax.jit(jnp.sin)(x) * 2, True),  # a nested jit is shown in full
        (jax.nn.relu, False),  # a custom_jvp rule: Python the jaxpr does not show
        (_clipped_gradient, False),  # a custom_vjp rule
        (lambda x: jax.pure_callback(np.sin, x, x), False),
    ],
)
def test_only_jaxprs_that_show_everything_key_a_program(fn, stored):
    closed = jax.make_jaxpr(fn)(jnp.ones((3, 3), jnp.float32))
    assert _program_store._describable(closed.jaxpr) is stored


def test_store_writable_by_others_is_not_used(tmp_path):
    store = str(tmp_path / "programs")
    assert _program_store._private(store)
    assert os.stat(store).st_mode & 0o777 == 0o700
    os.chmod(store, 0o777)
    assert not _program_store._private(store)


# A graph whose backward compiles (from its second sighting with a pending forward): its
# whole-graph program is stored too.
GRAPH_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
import numpy as np
import tape
from tape import _program_store as ps

graph = []  # for each whole-graph program: whether it was loaded from the store
real = ps.load_or_compile
load = ps._load

def spy(jitted, static, args, identity, *rest):
    loads = []
    ps._load = lambda *a: loads.append(load(*a)) or loads[-1]
    try:
        return real(jitted, static, args, identity, *rest)
    finally:
        ps._load = load
        if identity.startswith(b"graph:"):
            graph.append(loads[0] is not None)

ps.load_or_compile = spy
w = tape.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
x = tape.tensor(np.arange(8, dtype=np.float32).reshape(2, 4) / 8)
for _ in range(4):
    w.grad = None
    loss = ((x @ w.T).tanh() * 2.5 + 1).sum()
    loss.backward()
print(json.dumps({{"grad": w.grad.numpy().tolist(), "loss": loss.item(), "graph": graph}}))
"""


def test_second_process_loads_the_whole_graph_backward(tmp_path):
    def child() -> dict:
        env = dict(os.environ, TAPE_CACHE_DIR=str(tmp_path))
        env.pop("JAX_COMPILATION_CACHE_DIR", None)
        done = subprocess.run(
            [sys.executable, "-c", GRAPH_CHILD.format(root=ROOT)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout.splitlines()[-1])

    first, second = child(), child()
    assert first["graph"] and not any(first["graph"])
    assert second["graph"] and all(second["graph"])
    assert (second["grad"], second["loss"]) == (first["grad"], first["loss"])
    w = torch.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    x = torch.tensor(np.arange(8, dtype=np.float32).reshape(2, 4) / 8)
    ((x @ w.T).tanh() * 2.5 + 1).sum().backward()
    np.testing.assert_allclose(np.asarray(second["grad"]), w.grad.numpy(), rtol=1e-5)


def test_a_stored_program_follows_its_arguments_to_other_types_and_devices(tmp_path):
    """The program that ran last refuses arguments of other types, tracers, or arrays on
    another device before it runs; the call then takes the program for them."""
    code = f"""
import sys
sys.path.insert(0, {ROOT!r})
import jax, jax.numpy as jnp, numpy as np
import tape
from tape._program_store import StoredProgram

p = StoredProgram(lambda a, b: a * b + 1, b"test: a * b + 1")
cpu0, cpu1 = jax.devices("cpu")[:2]
x = jnp.arange(3.0, dtype=jnp.float32)
assert p.last is None and np.allclose(p(x, x), [1, 2, 5]) and p.last is not None
assert np.allclose(p(x[:2], x[:2]), [1, 2])  # other shapes
assert np.allclose(p(x.astype(jnp.int32), x.astype(jnp.int32)), [1, 2, 5])  # other dtypes
y = jax.device_put(x, cpu1)
assert np.allclose(p(x, x), [1, 2, 5])  # runs last: the same types as y's, on cpu0
out = p(y, y)  # another device
assert np.allclose(out, [1, 2, 5]) and out.devices() == {{cpu1}}
assert np.allclose(jax.jit(lambda v: p(v, v))(x), [1, 2, 5])  # a trace
assert np.allclose(p(x, x), [1, 2, 5])
print("ok")
"""
    env = dict(
        os.environ,
        TAPE_CACHE_DIR=str(tmp_path),
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    assert done.stdout.split()[-1] == "ok"


@pytest.mark.parametrize(
    ("payload", "looked_up"), [(b"...lapack_dgetrf_ffi...", True), (b"x", False)]
)
def test_a_program_calling_lapack_gets_lapack_before_it_loads(monkeypatch, payload, looked_up):
    """jaxlib links LAPACK's routines while it lowers an op, which a loaded program skips."""
    calls = []
    monkeypatch.setattr(_program_store, "ensure_lapack", lambda: calls.append(True))
    body = b'0\n{"tuple": [{"tuple": [0]}, {"dict": []}]}\n' + payload  # out tree, in tree
    assert _program_store._from_body(body) is None  # not a real executable: a miss
    assert calls == ([True] if looked_up else [])
