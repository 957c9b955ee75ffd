"""Flax linen modules as tape ``nn.Module``s: one tape node per call.

>>> block = FlaxModule(MyFlaxBlock(64), tape.zeros(1, 64, 8, 8),
...                    names={"Conv_0": "conv1", "BatchNorm_0": "bn1"})
>>> [k for k in block.state_dict()]
['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var',
 'bn1.num_batches_tracked']

How it maps:

- Flax variables become tape tensors held by child modules, named the torch way: the ``params``
  collection gives Parameters, every other collection (``batch_stats``) gives buffers. Leaf names
  follow torch (``kernel``/``scale`` -> ``weight``, ``mean`` -> ``running_mean``, ``var`` ->
  ``running_var``) and module paths go through ``names``, a map from Flax paths to torch names that
  may name a whole module (``{"Conv_0": "conv1"}``) or one leaf (``{"Conv_0/kernel":
  "conv1.weight"}``). Unmapped paths keep their Flax names with ``/`` spelled ``.``.
- Layouts are torch's at the boundary: a Flax ``kernel`` of rank k+2 (spatial..., in, out) is held
  as (out, in, spatial...), a Dense kernel (in, out) as (out, in); 4-D inputs and outputs are NCHW
  (``nchw=False`` passes them through as they are). The transposes run inside the compiled call.
- One call is one op on the tape (``tape.ops.registry.register`` + ``dispatch``): its forward is
  ``module.apply`` over the flattened variables and the input, its VJP ``jax.vjp`` of that, so the
  shared machinery (deferred forward, compiled whole-graph backward) applies. Parameters with
  ``requires_grad=False`` are inputs without an edge, so the VJP is taken only with respect to the
  others and XLA never computes their gradients.
- BatchNorm follows torch in train mode: Flax's running variance uses the biased batch variance,
  torch's the unbiased one, so each ``flax.linen.BatchNorm`` call is intercepted and its running
  variance corrected by n/(n-1); ``num_batches_tracked`` (int64) is added next to the running
  stats and incremented. Flax's ``momentum`` m is torch's ``1 - m`` (torch 0.1 is Flax 0.9). In
  eval mode the running statistics are used. The module's ``__call__`` gets ``train=`` when it
  takes such an argument (``train_arg``).

Children may be given ready-made (``children={"conv1": nn.Conv2d(...)}``) so that the printed tree
and the initial values are torch's; a variable that such a child already holds with the right shape
keeps the child's value. Missing owners are created as ``FlaxVariables`` holders.

``FlaxCall`` is the same machinery without a module of its own: its variables live under any root
module (a ResNet stem whose conv1/bn1 are the ResNet's own children).
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np

from tape import _dtype, _program_store, creation
from tape._source_key import source_key
from tape.autograd import grad_mode
from tape.nn.module import Module
from tape.nn.parameter import Parameter
from tape.ops.registry import NONE, dispatch, register
from tape.tensor import Tensor

__all__ = ["FlaxModule", "FlaxCall", "FlaxVariables"]

_LEAF_NAMES = {
    "kernel": "weight",
    "scale": "weight",
    "embedding": "weight",
    "mean": "running_mean",
    "var": "running_var",
}
_LEAF_ORDER = {"kernel": 0, "weight": 0, "scale": 0, "embedding": 0, "bias": 1, "mean": 2, "var": 3}


class FlaxVariables(Module):
    """A holder for one Flax submodule's variables (printed with the Flax class name)."""

    def __init__(self, flax_type: str = "FlaxVariables") -> None:
        super().__init__()
        self._flax_type = flax_type

    def _get_name(self) -> str:
        return self._flax_type

    def forward(self, *args):
        raise RuntimeError(
            f"{self._flax_type} only holds variables of a Flax module; call the FlaxModule that "
            "owns it instead"
        )


# --- layouts ----------------------------------------------------------------------------------
def _to_torch(layout: str | None, a):
    if layout == "kernel":
        nd = a.ndim
        if nd == 2:
            return a.T
        return a.transpose(nd - 1, nd - 2, *range(nd - 2))
    return a


def _to_flax(layout: str | None, a):
    if layout == "kernel":
        nd = a.ndim
        if nd == 2:
            return a.T
        return a.transpose(*range(2, nd), 1, 0)
    return a


def _channels_last(x):
    if hasattr(x, "ndim") and x.ndim >= 3:
        return jnp.moveaxis(x, 1, -1)
    return x


def _channels_first(x):
    if hasattr(x, "ndim") and x.ndim >= 3:
        return jnp.moveaxis(x, -1, 1)
    return x


# --- torch's BatchNorm running variance -------------------------------------------------------
def _torch_batchnorm(next_fun, args, kwargs, context):
    """Intercepts ``flax.linen.BatchNorm.__call__`` in train mode: running_var gets torch's
    unbiased batch variance. Flax stores ``m*old + (1-m)*b`` with b biased; torch wants
    ``m*old + (1-m)*b*n/(n-1)``, which is Flax's value plus ``(new - m*old)/(n-1)``."""
    import flax.linen as fnn

    module = context.module
    if not isinstance(module, fnn.BatchNorm) or context.method_name != "__call__":
        return next_fun(*args, **kwargs)
    use_ra = kwargs.get("use_running_average", args[1] if len(args) > 1 else None)
    if use_ra is None:
        use_ra = module.use_running_average
    if use_ra or module.is_initializing() or not module.is_mutable_collection("batch_stats"):
        return next_fun(*args, **kwargs)
    x = args[0]
    axes = module.axis if isinstance(module.axis, tuple) else (module.axis,)
    feature = {a % x.ndim for a in axes}
    n = int(np.prod([x.shape[i] for i in range(x.ndim) if i not in feature]))
    if n <= 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {x.shape}"
        )
    old = module.get_variable("batch_stats", "var")
    y = next_fun(*args, **kwargs)
    new = module.get_variable("batch_stats", "var")
    m = module.momentum
    module.put_variable("batch_stats", "var", new + (new - m * old) / (n - 1))
    return y


# --- the op -----------------------------------------------------------------------------------
class _Entry:
    """One Flax variable: its collection and path, and where the tape tensor lives."""

    __slots__ = ("collection", "path", "owner", "attr", "layout", "shape")

    def __init__(self, collection, path, owner, attr, layout, shape) -> None:
        self.collection = collection
        self.path = path  # tuple of Flax keys inside the collection
        self.owner = owner  # tuple of child names from the root
        self.attr = attr
        self.layout = layout
        self.shape = shape

    def key(self) -> tuple:
        return (self.collection, self.path, self.layout)


_ops: dict = {}
_op_ids = itertools.count()


def _make_op(
    module,
    entries: tuple,
    nchw: bool,
    train_arg: str | None,
    grad_fn: str,
    n_counters: int = 0,
    source: bytes | None = None,
):
    """One registry entry per (Flax module, variable layout); equal configs share compiled code.

    In train mode the op also takes BatchNorm's ``num_batches_tracked`` counters and returns
    them incremented, after the updated statistics: one op updates every buffer, so the buffers
    stay pending with the block's forward (a separate ``add_`` per counter would chain one
    step's pending counter onto the next)."""
    key = (module, tuple(e.key() for e in entries), nchw, train_arg, grad_fn, n_counters)
    op = _ops.get(key)
    if op is not None:
        return op
    import flax.linen as fnn

    mutable = tuple(sorted({e.collection for e in entries if e.collection != "params"}))
    buffer_idx = [i for i, e in enumerate(entries) if e.collection != "params"]

    def forward(x, *leaves, train: bool):
        leaves, counters = leaves[: len(entries)], leaves[len(entries) :]
        variables: dict = {}
        for e, a in zip(entries, leaves, strict=True):
            d = variables.setdefault(e.collection, {})
            for k in e.path[:-1]:
                d = d.setdefault(k, {})
            d[e.path[-1]] = _to_flax(e.layout, a)
        if nchw:
            x = _channels_last(x)
        kwargs = {train_arg: train} if train_arg else {}
        if train and mutable:
            with fnn.intercept_methods(_torch_batchnorm):
                y, updates = module.apply(variables, x, mutable=list(mutable), **kwargs)
            new = []
            for i in buffer_idx:
                e = entries[i]
                v = updates[e.collection]
                for k in e.path:
                    v = v[k]
                new.append(jax.lax.stop_gradient(_to_torch(e.layout, v).astype(leaves[i].dtype)))
            return (_channels_first(y) if nchw else y, *new, *(c + 1 for c in counters))
        y = module.apply(variables, x, **kwargs)
        return _channels_first(y) if nchw else y

    name = f"flax_{type(module).__name__}_{next(_op_ids)}"
    if source is not None:  # what else ``forward`` closes over
        source = hashlib.sha256(source + repr(key[1:]).encode()).digest()
    op = _ops[key] = register(
        name, _replayed(forward), grad_fn, NONE, saves="inputs", remat=False, source=source
    )
    return op


def _replayed(forward: Callable) -> Callable:
    """``forward`` traced once per input types into a jaxpr, which later calls replay.

    An op's forward is traced several times: by its jitted forward, by its jitted VJP (under
    JVP, the most expensive), and by every deferred graph it joins. Running Flax's Python each
    time dominates a first step; replaying the jaxpr binds the same primitives without it."""
    traced: dict = {}

    def replay(*arrays, train: bool):
        key = (train, *((a.shape, a.dtype, getattr(a, "weak_type", False)) for a in arrays))
        hit = traced.get(key)
        if hit is None:
            closed, out = jax.make_jaxpr(lambda *a: forward(*a, train=train), return_shape=True)(
                *arrays
            )
            hit = traced[key] = (closed, jax.tree_util.tree_structure(out))
        closed, tree = hit
        flat = jax.core.eval_jaxpr(closed.jaxpr, closed.consts, *arrays)
        return jax.tree_util.tree_unflatten(tree, flat)

    return replay


def _flatten(tree, prefix=()):
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from _flatten(v, (*prefix, k))
    else:
        yield prefix, tree


def _torch_name(collection: str, path: tuple, names) -> str:
    flax_path = "/".join(path)
    leaf = _LEAF_NAMES.get(path[-1], path[-1])
    if callable(names):
        got = names(collection, flax_path)
        if got is not None:
            return got
        names = {}
    if flax_path in names:
        return names[flax_path]
    for cut in range(len(path) - 1, 0, -1):
        prefix = "/".join(path[:cut])
        if prefix in names:
            rest = ".".join(path[cut:-1])
            mapped = names[prefix]
            return ".".join(p for p in (mapped, rest, leaf) if p)
    return ".".join((*path[:-1], leaf))


class FlaxCall:
    """Calls a Flax module as one tape op whose variables live under ``root``'s submodules."""

    def __init__(
        self,
        module,
        example_input,
        root: Module,
        *,
        names: Mapping[str, str] | Callable | None = None,
        nchw: bool = True,
        train_arg: str | None = "auto",
        grad_fn: str | None = None,
        seed: int | None = None,
        source: Iterable[ModuleType] | None = None,
    ) -> None:
        self.module = module
        # A module declared with its source skips Flax's traces in a process that finds what
        # an earlier one derived (variable shapes, compiled programs) under that source.
        self.source = None if source is None else source_key(module, source)
        if train_arg == "auto":
            try:
                params = inspect.signature(type(module).__call__).parameters
            except (TypeError, ValueError):
                params = {}
            train_arg = "train" if "train" in params else None
        self.train_arg = train_arg
        self.nchw = nchw
        kwargs = {train_arg: False} if train_arg else {}
        # Only shapes are needed unless some variable must come from Flax's init (below): no
        # array is made or moved here, since each such op compiles a program on its first use.
        x_shape = _abstract(example_input)
        if nchw and len(x_shape.shape) >= 3:
            s = x_shape.shape
            x_shape = jax.ShapeDtypeStruct((s[0], *s[2:], s[1]), x_shape.dtype)
        shapes, types = _abstract_init(module, x_shape, kwargs, self.source)
        names = names or {}
        # torch's order: modules in call order, weight before bias, parameters before buffers.
        call_order = {p: i for i, p in enumerate(types)}
        leaves = [
            (collection, path, leaf)
            for collection in shapes
            for path, leaf in _flatten(shapes[collection])
        ]
        leaves.sort(
            key=lambda c: (
                c[0] != "params",
                call_order.get("/".join(c[1][:-1]), len(call_order)),
                _LEAF_ORDER.get(c[1][-1], 9),
                c[0],
            )
        )
        entries = []
        for collection, path, leaf in leaves:
            torch_name = _torch_name(collection, path, names)
            owner, _, attr = torch_name.rpartition(".")
            layout = "kernel" if path[-1] == "kernel" and len(leaf.shape) >= 2 else None
            shape = tuple(_to_torch(layout, np.empty(leaf.shape, np.bool_)).shape)
            entries.append(
                _Entry(
                    collection,
                    path,
                    tuple(owner.split(".")) if owner else (),
                    attr,
                    layout,
                    shape,
                )
            )
        # Values: an owner that already holds a tensor of the right shape keeps it (torch init);
        # the rest come from Flax's own initialisers.
        missing = [e for e in entries if not _holds(root, e)]
        values = {}
        if missing:
            if seed is None:  # drawn from tape's generator only when Flax's init is used
                seed = int(creation.randint(0, 2**31 - 1, (1,)).item())
            x = _array(example_input)
            if nchw:
                x = _channels_last(x)
            rng = jax.random.PRNGKey(seed)
            init = jax.jit(lambda r, x: module.init(r, x, **kwargs))(rng, x)
            for e in missing:
                v = init[e.collection]
                for k in e.path:
                    v = v[k]
                values[id(e)] = np.asarray(_to_torch(e.layout, v))
        for e in entries:
            owner = _owner(root, e.owner, types, e.path)
            if id(e) not in values:
                continue
            t = creation.tensor(values[id(e)])
            if e.collection == "params":
                old = owner._parameters.get(e.attr)
                owner._parameters[e.attr] = Parameter(t, True if old is None else old.requires_grad)
            else:
                owner._buffers[e.attr] = t
                owner._non_persistent_buffers_set.discard(e.attr)
        # torch's num_batches_tracked next to each BatchNorm's running stats.
        counters = []
        for e in entries:
            if e.collection == "batch_stats" and e.path[-1] == "var":
                owner = _owner(root, e.owner, types, e.path)
                if owner._buffers.get("num_batches_tracked") is None:
                    owner._buffers["num_batches_tracked"] = creation.tensor(0, dtype=_dtype.int64)
                counters.append(e.owner)
        self.entries = tuple(entries)
        self.counters = tuple(counters)
        self.op = _make_op(
            module,
            self.entries,
            nchw,
            train_arg,
            grad_fn or f"{type(module).__name__}Backward0",
            len(self.counters),
            self.source,
        )

    def tensors(self, root: Module) -> list:
        out = []
        for e in self.entries:
            m = root
            for k in e.owner:
                m = m._modules[k]
            t = m._parameters.get(e.attr) if e.collection == "params" else m._buffers.get(e.attr)
            if t is None:
                raise RuntimeError(
                    f"the Flax variable {e.collection}/{'/'.join(e.path)} is held as "
                    f"'{'.'.join((*e.owner, e.attr))}', which is missing"
                )
            out.append(t)
        return out

    def __call__(self, root: Module, input, training: bool | None = None):
        if training is None:
            training = root.training
        tensors = self.tensors(root)
        has_stats = any(e.collection != "params" for e in self.entries)
        if not (training and has_stats):
            return dispatch(self.op, (input, *tensors), (("train", bool(training)),))
        # Train mode: the running stats are inputs by value (a snapshot), so updating the
        # buffers in place below is not an in-place change to something saved for backward.
        args = [
            t if e.collection == "params" else t.detach()._snapshot()
            for e, t in zip(self.entries, tensors, strict=True)
        ]
        buffers = [
            t for e, t in zip(self.entries, tensors, strict=True) if e.collection != "params"
        ]
        for owner in self.counters:
            m = root
            for name in owner:
                m = m._modules[name]
            counter = m._buffers["num_batches_tracked"]
            buffers.append(counter)
            args.append(counter.detach()._snapshot())
        out, *new = dispatch(self.op, (input, *args), (("train", True),))
        # ``buffer.copy_(value)`` without its general path: the op made each value in the
        # buffer's shape, dtype and device, so the pending value is taken as it is (about 60
        # buffers a ResNet18 step, each a snapshot and two device lookups less).
        with grad_mode.no_grad():
            for t, value in zip(buffers, new, strict=True):
                t._check_inplace()
                t._assign(value.detach())
        return out


def _abstract(x) -> jax.ShapeDtypeStruct:
    """The shape and dtype of an example input, without converting it to a JAX array."""
    if isinstance(x, Tensor):
        return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype.np)
    if not isinstance(x, (np.ndarray, jax.Array)):
        x = _array(x)
    return jax.ShapeDtypeStruct(x.shape, x.dtype)


def _array(x):
    if isinstance(x, Tensor):
        return x.detach()._storage.array
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return jnp.asarray(x.detach().cpu().numpy())
    return jnp.asarray(x)


def _holds(root: Module, e: _Entry) -> bool:
    m = root
    for k in e.owner:
        m = m._modules.get(k) if m is not None else None
        if m is None:
            return False
    t = m._parameters.get(e.attr) if e.collection == "params" else m._buffers.get(e.attr)
    return t is not None and tuple(t.shape) == e.shape


def _owner(root: Module, path: tuple, types: dict, flax_path: tuple) -> Module:
    m = root
    for i, k in enumerate(path):
        child = m._modules.get(k)
        if child is None:
            last = i == len(path) - 1
            flax_type = types.get("/".join(flax_path[:-1])) if last else None
            child = FlaxVariables(flax_type or "FlaxVariables")
            m.add_module(k, child)
        m = child
    return m


_abstract_inits: dict = {}


def _abstract_init(module, x, kwargs, source: bytes | None = None):
    """Variable shapes, and the Flax class name of each submodule path in call order, from the
    input's shape alone (the key is abstract too: making a real one compiles a program).
    Equal modules on equal inputs (a ResNet's repeated blocks) share one trace of Flax's init,
    and a module with a ``source`` key reads what an earlier process traced."""
    key = (module, x.shape, x.dtype, tuple(sorted(kwargs.items())))
    try:
        hit = _abstract_inits.get(key)
    except TypeError:  # a module with unhashable fields: traced every time
        return _trace_init(module, x, kwargs)
    if hit is None:
        record = None
        if source is not None:
            record = source + repr((x.shape, str(x.dtype), key[3])).encode()
            hit = _from_record(_program_store.load_record(record))
        if hit is None:
            hit = _trace_init(module, x, kwargs)
            if record is not None:
                _program_store.save_record(record, _to_record(*hit))
        _abstract_inits[key] = hit
    return hit


def _to_record(shapes: dict, types: dict) -> dict:
    leaves = [
        [collection, list(path), list(leaf.shape), str(leaf.dtype)]
        for collection in shapes
        for path, leaf in _flatten(shapes[collection])
    ]
    return {"shapes": leaves, "types": list(types.items())}


def _from_record(record) -> tuple | None:
    """``_to_record``'s input again, or None for anything that is not what it writes."""
    try:
        shapes: dict = {}
        for collection, path, shape, dtype in record["shapes"]:
            if not all(type(k) is str for k in (collection, *path)) or not path:
                return None
            if not all(type(n) is int and n >= 0 for n in shape):
                return None
            d = shapes.setdefault(collection, {})
            for k in path[:-1]:
                d = d.setdefault(k, {})
            d[path[-1]] = jax.ShapeDtypeStruct(tuple(shape), np.dtype(dtype))
        types = {}
        for path, name in record["types"]:
            if type(path) is not str or type(name) is not str:
                return None
            types[path] = name
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return shapes, types


def _trace_init(module, x, kwargs):
    import flax.linen as fnn

    types: dict = {}

    def record(next_fun, args, kw, context):
        path = "/".join(context.module.path) if context.module.path else ""
        types.setdefault(path, type(context.module).__name__)
        return next_fun(*args, **kw)

    def init(r, x):
        with fnn.intercept_methods(record):
            return module.init(r, x, **kwargs)

    rng = jax.eval_shape(jax.random.PRNGKey, 0)
    return jax.eval_shape(init, rng, x), types


class FlaxModule(Module):
    """A Flax linen module as a tape ``nn.Module`` (see the module docstring).

    ``module``: the Flax module; ``example_input``: an input it accepts (torch layout), used to
    create its variables; ``names``: Flax path -> torch name; ``children``: ready-made owners of
    the variables (and parameterless modules such as ``ReLU``) in the order torch lists them;
    ``source``: the Python modules whose source, with tape's and the installed Flax, JAX and
    numpy, decides what ``module`` computes (usually the one defining it). Given, a new process
    finds the variable shapes and compiled programs that an earlier one stored under that
    source, and traces no Flax code for them (``tape._source_key``).
    """

    def __init__(
        self,
        module,
        example_input,
        *,
        names: Mapping[str, str] | Callable | None = None,
        children: Mapping[str, Module] | None = None,
        nchw: bool = True,
        train_arg: str | None = "auto",
        grad_fn: str | None = None,
        seed: int | None = None,
        source: Iterable[ModuleType] | None = None,
    ) -> None:
        super().__init__()
        for k, child in (children or {}).items():
            self.add_module(k, child)
        call = FlaxCall(
            module,
            example_input,
            self,
            names=names,
            nchw=nchw,
            train_arg=train_arg,
            grad_fn=grad_fn,
            seed=seed,
            source=source,
        )
        object.__setattr__(self, "_flax_call", call)

    @property
    def flax_module(self):
        return self._flax_call.module

    def forward(self, input):
        return self._flax_call(self, input, self.training)
