"""Compiled programs kept on disk under what decides them, so a new process skips tracing.

JAX's persistent cache keys a program by its lowered module, so a new process must still
trace and lower every program before it can look one up. For the per-node VJP of a Flax block
that is most of the cost: tracing the forward under JVP, then lowering. ResNet18's first
train step spent about 0.7 of its 1.5 s there with every program already in JAX's cache.

Here a costly op's forward and its per-node VJP (``StoredJit``) are keyed instead by the text
of the forward's jaxpr, which is cheap to make (the VJP reuses the forward's), and a tape
optimizer's update by its own code and settings (``tape.optim.optimizer``). The executable is
then loaded without tracing a VJP or lowering anything. An op whose code is declared
(``tape._source_key``: a Flax module and the files that define it) is keyed by that source
instead, so its forward is not traced either; small JSON records (``save_record``) keep what
else a new process would trace for it, such as a Flax module's variable shapes. A cheap op of
tape's own registry, and a whole graph of such ops, is keyed by its name and static arguments
(``tape._signature_key``), which tape's source decides.

A jaxpr keys a program only when its text says everything about it. custom_jvp and custom_vjp
rules and callbacks are Python code that the text does not show, so a jaxpr that holds one
(or any effect) is compiled by ``jax.jit`` as usual. The rest of the key is whatever else
shapes the program: the argument types, tape's own source (how a VJP is built, what an
optimizer computes), JAX's configuration, and the versions, flags and CPU that compile it.

The files are XLA executables, which is native code, in JAX's own serialized form. They are
trusted as JAX's compilation cache is. They are read only from a directory that this user
owns and no one else can write to, checked against a checksum, and written atomically.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import stat
import tempfile
import time
from collections.abc import Callable

import jax
import numpy as np

_MAGIC = b"tape-program-v2\n"
_SUBDIR = "tape-programs"
# Primitives whose meaning lives in Python functions that the printed jaxpr leaves out.
_OPAQUE = ("custom", "callback")

_MESHES = (jax.sharding.Mesh, jax.sharding.AbstractMesh)

_TRACED = object()
_fingerprint: bytes | None = None
_checked_dirs: dict = {}
_forward_texts: dict = {}  # (op label, forward argument types) -> its bytes, or None
# Names of the programs this process loaded or stored, in the order of first use
# (tape._program_prefetch keeps them for the next process run from the same script).
used: list = []
# name -> concurrent.futures.Future of ``load_file``, filled by tape._program_prefetch.
prefetched: dict = {}
_NUMBERS = (bool, int, float)


class StoredJit:
    """``jax.jit(fn)`` for a costly op's forward (``fn`` is ``forward``) or its VJP (``fn(inputs,
    cotangents)``, whose forward is ``forward(*inputs)``; ``recipe`` is its ``(diff,
    float_outs)``). Each argument type gets one program: loaded from disk when an earlier
    process stored it, else compiled and stored. ``label`` names the forward in this process."""

    __slots__ = ("forward", "label", "recipe", "jit", "programs")

    def __init__(self, fn: Callable, forward: Callable, label: tuple, recipe: tuple = ()) -> None:
        self.forward = forward
        self.label = label
        self.recipe = recipe
        self.jit = jax.jit(fn)
        self.programs: dict = {}

    def __call__(self, *args):
        leaves, tree = jax.tree_util.tree_flatten(args)
        key = (tree, *map(leaf_key, leaves))
        program = self.programs.get(key)
        if program is None:
            program = self.programs[key] = self._program(args, leaves)
        return program(*args)

    def _program(self, args: tuple, leaves: list) -> Callable:
        if not storable(leaves):
            return self.jit
        text = _forward_text(self.forward, self.label, args[0] if self.recipe else args)
        if text is None:
            return self.jit
        program = load_or_compile(self.jit, (), args, repr(self.recipe).encode() + text)
        return self.jit if program is None else program


class StoredProgram:
    """``jax.jit(fn)`` for a program that ``identity`` decides with its argument types (an op's
    ``source`` key, a graph signature's ``tape._signature_key``): each argument type's program
    is loaded from the store, else compiled and stored. The last one runs first, as a
    training loop calls one signature with the same types at every step; a program given other
    types or tracers (TypeError) or arrays on another device (ValueError) refuses them before
    it runs, and the call then picks by type."""

    __slots__ = ("identity", "jit", "programs", "last")

    def __init__(self, fn: Callable, identity: bytes) -> None:
        self.identity = identity
        self.jit = jax.jit(fn)
        self.programs: dict = {}
        self.last = None

    def __call__(self, *args):
        last = self.last
        if last is not None:
            try:
                return last(*args)
            except (TypeError, ValueError):
                pass
        leaves, tree = jax.tree_util.tree_flatten(args)
        key = (tree, *map(leaf_key, leaves))
        program = self.programs.get(key)
        if program is None:
            if storable(leaves):
                program = load_or_compile(self.jit, (), args, self.identity)
            program = self.programs[key] = program or self.jit
        self.last = None if program is self.jit else program
        return program(*args)


def storable(leaves: list) -> bool:
    """Whether arguments with these leaves can run a stored program: arrays on the default
    CPU device (numpy's go there) and Python and numpy numbers, no tracers."""
    return bool(leaves) and all(map(_on_default_cpu, leaves))


def load_or_compile(jitted, static: tuple, args: tuple, identity: bytes):
    """The compiled program of ``jitted`` (whose static arguments, ``static``, come first) on
    ``args``, stored under ``identity``: the bytes that, with the argument types and
    ``_environment``, decide the program. Loaded when stored, else compiled and stored; None
    when there is no store."""
    store = store_dir()
    if store is None:
        return None
    leaves, tree = jax.tree_util.tree_flatten(args)
    digest = hashlib.sha256(_environment())
    for part in (_config(), identity, str(tree).encode()):
        digest.update(len(part).to_bytes(8, "little") + part)
    for x in leaves:
        digest.update(_type_text(x).encode())
    name = digest.hexdigest()
    path = os.path.join(store, name + ".xla")
    loaded = _load(path, name, args)
    if loaded is not None:
        return loaded
    # jaxlib 0.10 serializes an executable that JAX loaded from its own cache without its
    # machine code ("Function ... not found" when run). A debug-only option set to a random
    # value gives this compile a key of its own in JAX's cache, so what is stored here is
    # always freshly compiled, even when JAX's cache holds the same program from before.
    fresh = {"xla_debug_buffer_assignment_show_max": int.from_bytes(os.urandom(6), "little")}
    compiled = jitted.lower(*static, *args).compile(fresh)
    _save(path, name, compiled, args)
    used.append(name)
    return compiled


def leaf_key(x):
    """What a program depends on in one argument. A numpy array is keyed as the JAX array it
    becomes, so a parameter's program still fits once an update has made it a JAX array."""
    if isinstance(x, jax.core.Tracer):  # inside a trace (tape.compile): jax.jit's business
        return _TRACED
    if isinstance(x, jax.Array):
        return x.shape, x.dtype, x.weak_type, x.sharding
    if isinstance(x, np.ndarray):
        return x.shape, x.dtype, False, _default_sharding()
    return type(x), np.shape(x), getattr(x, "dtype", None)


def _type_text(x) -> str:
    if type(x) in _NUMBERS:
        return f"{type(x).__name__};"
    return f"{x.shape}{x.dtype}{getattr(x, 'weak_type', False)};"


def _dtype_of(x) -> np.dtype:
    return np.result_type(x) if type(x) in _NUMBERS else np.dtype(x.dtype)


def _on_default_cpu(x) -> bool:
    if isinstance(x, (np.ndarray, np.generic)) or type(x) in _NUMBERS:
        return True
    if isinstance(x, jax.core.Tracer) or not isinstance(x, jax.Array):
        return False
    return x.sharding == _default_sharding()


@functools.cache
def _default_sharding():
    return jax.sharding.SingleDeviceSharding(jax.devices("cpu")[0])


def _forward_text(forward: Callable, label: tuple, inputs: tuple) -> bytes | None:
    """The bytes that identify ``forward`` on these inputs, or None when its jaxpr does not
    show everything it does."""
    leaves, tree = jax.tree_util.tree_flatten(inputs)
    key = (label, tree, *map(leaf_key, leaves))
    if key not in _forward_texts:
        closed = jax.make_jaxpr(forward)(*inputs)
        text = None
        if not closed.effects and _describable(closed.jaxpr):
            text = str(closed).encode()
            for c in closed.consts:
                c = np.asarray(c)
                text += f"\n{c.dtype}{c.shape}".encode() + c.tobytes()
        _forward_texts[key] = text
    return _forward_texts[key]


def _describable(jaxpr) -> bool:
    """Whether the printed ``jaxpr`` determines its program: no custom rules or callbacks,
    and no parameter that is a function or prints as an object address."""
    from jax.extend import core as jax_core  # imports Pallas: only when first needed

    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if any(word in name for word in _OPAQUE):
            return False
        for value in eqn.params.values():
            if not _plain(value):
                return False
        for sub in jax_core.jaxprs_in_params(eqn.params):
            if not _describable(sub):
                return False
    return True


def _plain(value) -> bool:
    from jax.extend import core as jax_core

    if isinstance(value, (tuple, list)):
        return all(map(_plain, value))
    if isinstance(value, (jax_core.Jaxpr, jax_core.ClosedJaxpr)):
        return True
    if callable(value) and not isinstance(value, _MESHES):  # a mesh is data (and callable)
        return False
    return " at 0x" not in repr(value)


def _environment() -> bytes:
    """What else decides a compiled program and stays fixed in a process: tape's source (how a
    VJP is built), the versions of JAX and jaxlib, XLA's flags, the backend and the CPU."""
    global _fingerprint
    if _fingerprint is None:
        import jaxlib

        parts = [jax.__version__, jaxlib.__version__, os.environ.get("XLA_FLAGS", "")]
        device = jax.devices("cpu")[0]
        parts += [device.client.platform_version, device.device_kind, platform.machine()]
        parts.append(_cpu_flags())
        digest = hashlib.sha256("\0".join(parts).encode())
        root = os.path.dirname(os.path.abspath(__file__))
        for folder, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(".py"):
                    with open(os.path.join(folder, f), "rb") as fh:
                        digest.update(f.encode() + fh.read())
        _fingerprint = digest.digest()
    return _fingerprint


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features", "model name")):
                    return line
    except OSError:
        pass
    return platform.processor()


def store_dir() -> str | None:
    """The directory programs are kept in (beside JAX's compilation cache), or None when JAX's
    cache is off or the directory is not safely this user's."""
    base = jax.config.jax_compilation_cache_dir
    if not base:
        return None
    path = os.path.join(base, _SUBDIR)
    ok = _checked_dirs.get(path)
    if ok is None:
        ok = _checked_dirs[path] = _private(path)
    return path if ok else None


def _private(path: str) -> bool:
    """Create ``path`` (mode 700) if needed; whether this user owns it and no one else can
    write to it."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _load(path: str, name: str, args: tuple):
    """The stored program at ``path``, or None when there is none or it does not fit ``args``
    (a damaged or foreign file is ignored; compiling again replaces it). One the prefetcher
    has loaded or is loading is taken from it; one it has not reached yet is loaded here."""
    future = prefetched.pop(name, None)
    if future is not None and not future.cancel():
        program = future.result()
    else:
        program = load_file(path, name)
    if program is None or not _fits(program, args):
        return None
    used.append(name)
    return program


def load_file(path: str, name: str):
    """The program stored at ``path`` under ``name``, loaded for the arguments it was stored
    for, or None when it is missing, damaged, another's or cannot be loaded here."""
    body = read_checked(path, name)
    return None if body is None else _from_body(body)


def _from_body(body: bytes):
    out_text, _, rest = body.partition(b"\n")
    in_text, _, payload = rest.partition(b"\n")
    try:
        out_tree, in_tree = (_tree_from_text(t.decode()) for t in (out_text, in_text))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    from jax.experimental import serialize_executable

    if b"lapack_" in payload:  # its custom calls' names
        ensure_lapack()
    try:
        return serialize_executable.deserialize_and_load(payload, in_tree, out_tree, "cpu")
    except Exception:  # noqa: BLE001 - any failure to load is a miss, never an error
        return None


_lapack_ready = False


def ensure_lapack() -> None:
    """Look up LAPACK's routines (in SciPy) for jaxlib's linear-algebra kernels. jaxlib does
    it when it lowers such an op, which a loaded program skips, and then crashes without
    them; JAX's own deserialization does it first too. Only where needed: importing SciPy
    takes 0.2 s."""
    global _lapack_ready
    if not _lapack_ready:
        from jax._src.lax import linalg as lax_linalg

        lax_linalg.initialize_lapack()
        _lapack_ready = True


def _fits(program, args: tuple) -> bool:
    """Whether ``program`` takes arguments of ``args``' structure, shapes and dtypes."""
    if program.in_tree != jax.tree_util.tree_structure((args, {})):
        return False
    want = [(np.shape(x), _dtype_of(x)) for x in jax.tree_util.tree_leaves(args)]
    got = [(a.shape, a.dtype) for a in jax.tree_util.tree_leaves(program.in_avals)]
    return got == want


def read_checked(path: str, name: str) -> bytes | None:
    """The body of a file that ``write_checked`` wrote under ``name``, or None when it is
    missing, damaged or another's."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    header = _MAGIC + name.encode() + b"\n"
    checksum, _, body = data[len(header) :].partition(b"\n")
    if not data.startswith(header) or checksum != hashlib.sha256(body).hexdigest().encode():
        return None  # what runs or shapes a program must arrive whole
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: ``prune`` keeps it
    return body


MAX_AGE_DAYS = 30  # a stored file not read or written for this long is removed
_PRUNED = "pruned"  # the file whose time says when the store was last pruned
# Set by ``import tape`` when it chose JAX's cache directory itself: then JAX's entries there
# are tape's to prune too (a directory the user gave JAX may be shared with other programs).
owns_jax_cache = False
_JAX_ENTRY = ("-cache", "-atime")  # JAX's file names: ``<name>-<key>-cache`` (and its atime)


def prune(now: float | None = None) -> int:
    """Remove the store's files that no process has read or written for ``MAX_AGE_DAYS``
    (programs of an older tape or JAX, of shapes no longer run), at most once a day, and JAX's
    cache entries written as long ago where tape chose JAX's directory. Returns how many were
    removed. Removing a file only costs a compile: a later process stores it again. JAX does
    not mark the entries it reads, so one still in use is compiled again once a month; JAX's
    own bound (``jax_compilation_cache_max_size``) would instead read every entry's time on
    each write, and needs the ``filelock`` package."""
    store = store_dir()
    if store is None:
        return 0
    now = time.time() if now is None else now
    stamp = os.path.join(store, _PRUNED)
    with contextlib.suppress(OSError):
        if now - os.stat(stamp).st_mtime < 86400:
            return 0
    with contextlib.suppress(OSError):
        with open(stamp, "wb"):
            pass
        os.utime(stamp, (now, now))
    cutoff = now - MAX_AGE_DAYS * 86400
    removed = _remove_older(store, cutoff, lambda name: name != _PRUNED)
    if owns_jax_cache:
        removed += _remove_older(os.path.dirname(store), cutoff, lambda n: n.endswith(_JAX_ENTRY))
    return removed


def _remove_older(folder: str, cutoff: float, chosen: Callable[[str], bool]) -> int:
    """Remove the files in ``folder`` (not its subfolders) that ``chosen`` names and that
    were last modified before ``cutoff``; how many."""
    removed = 0
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if (
                    chosen(entry.name)
                    and entry.is_file(follow_symlinks=False)
                    and entry.stat().st_mtime < cutoff
                ):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def write_checked(path: str, name: str, body: bytes) -> None:
    """Write ``body`` to ``path`` atomically, under a header naming it and its checksum."""
    checksum = hashlib.sha256(body).hexdigest().encode()
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + name.encode() + b"\n" + checksum + b"\n" + body)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def load_record(identity: bytes):
    """The JSON value stored under ``identity`` (with ``_environment`` and JAX's configuration)
    by ``save_record``, or None."""
    path = _record_path(identity)
    body = None if path is None else read_checked(path, os.path.basename(path))
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def save_record(identity: bytes, value) -> None:
    """Keep the JSON-able ``value`` under ``identity``, for ``load_record`` in a later process."""
    path = _record_path(identity)
    if path is not None:
        write_checked(path, os.path.basename(path), json.dumps(value).encode())


def _record_path(identity: bytes) -> str | None:
    store = store_dir()
    if store is None:
        return None
    digest = hashlib.sha256(_environment() + _config() + b"record\0" + identity).hexdigest()
    return os.path.join(store, digest + ".json")


def _config() -> bytes:
    """JAX's configuration, read at each use: a context manager can change it (x64 does)."""
    return repr(sorted((k, repr(v)) for k, v in jax.config.values.items())).encode()


def _save(path: str, name: str, compiled, args: tuple) -> None:
    """Write ``compiled`` to ``path`` atomically, once its serialized form has been loaded back
    and has computed what ``compiled`` does on ``args``: a program that cannot be stored
    faithfully is skipped."""
    from jax.experimental import serialize_executable

    try:
        payload, in_tree, out_tree = serialize_executable.serialize(compiled)
        head = f"{_tree_text(out_tree)}\n{_tree_text(in_tree)}\n".encode()
    except (ValueError, NotImplementedError, TypeError):
        return
    loaded = _from_body(head + payload)
    try:
        # On copies: a program may donate its arguments, which the caller still runs it on.
        want = jax.tree_util.tree_leaves(compiled(*_copies(args)))
        got = jax.tree_util.tree_leaves(loaded(*_copies(args))) if loaded is not None else None
        same = got is not None and all(
            np.array_equal(np.asarray(w), np.asarray(g), equal_nan=True)
            for w, g in zip(want, got, strict=True)
        )
    except Exception:  # noqa: BLE001 - a program that does not run is not stored
        same = False
    if same:
        write_checked(path, name, head + payload)


def _copies(args: tuple) -> tuple:
    return jax.tree_util.tree_map(
        lambda x: x.copy() if isinstance(x, (jax.Array, np.ndarray)) else x, args
    )


def _tree_text(tree) -> str:
    """A program's output tree as JSON: lists, tuples, string-keyed dicts and None around
    leaves (0). Raises TypeError for any other node."""

    def encode(x):
        if x is None or (type(x) is int and x == 0):
            return x
        if type(x) is list:
            return [encode(v) for v in x]
        if type(x) is tuple:
            return {"tuple": [encode(v) for v in x]}
        if type(x) is dict and all(type(k) is str for k in x):
            return {"dict": [[k, encode(v)] for k, v in x.items()]}
        raise TypeError(f"cannot store an output tree node of type {type(x).__name__}")

    text = json.dumps(encode(jax.tree_util.tree_unflatten(tree, [0] * tree.num_leaves)))
    if _tree_from_text(text) != tree:
        raise TypeError(f"output tree {tree} does not survive JSON")
    return text


def _tree_from_text(text: str):
    def decode(x):
        if isinstance(x, list):
            return [decode(v) for v in x]
        if isinstance(x, dict) and "tuple" in x:
            return tuple(decode(v) for v in x["tuple"])
        if isinstance(x, dict):
            return {k: decode(v) for k, v in x["dict"]}
        return x

    return jax.tree_util.tree_structure(decode(json.loads(text)))
