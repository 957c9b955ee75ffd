"""The Optimizer base: torch's ``param_groups`` / ``state`` / ``state_dict`` surface over optax.

Each optimizer describes one parameter group's update as an optax ``GradientTransformation``
(``optax.chain`` of optax pieces and, where optax has no exact equivalent of torch's rule, a small
custom piece). ``step()`` runs that update for the whole group as ONE jitted call,

    (params, grads, per-parameter state, hyperparameters) -> (new params, new state)

keyed by the optimizer class and a few static flags (``maximize``, "is weight decay on", ...).
Hyperparameter values (lr, momentum, betas, ...) are traced arguments, so editing
``group['lr']`` between steps reuses the compiled update.

The per-parameter state lives in ``self.state[p]`` as tape tensors under torch's names
(``momentum_buffer``, ``exp_avg``, ``step``, ...). Each optimizer packs those into the optax state
of its chain before the update and unpacks them after, so ``state_dict()`` has torch's format.
"""

from __future__ import annotations

import collections
import copy
import functools
import importlib.metadata
import warnings
import weakref
from collections import defaultdict
from collections.abc import Callable
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from tape import _capture, _device, _donate, _dtype, _program_store, _views
from tape.autograd import grad_mode
from tape.tensor import Tensor

if TYPE_CHECKING:  # imported where used: see _optax_version
    import optax


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

#: How many times each optimizer's jitted group update has been traced (for tests and debugging).
TRACE_COUNTS: collections.Counter = collections.Counter()


class Part(NamedTuple):
    """One link of an optimizer's optax chain, with the map between its optax state and torch's
    per-parameter state (``states`` is ``{torch_key: [array per parameter]}``)."""

    tx: optax.GradientTransformation
    pack: Callable[[dict, list], Any] | None = None  # (states, params) -> optax state
    unpack: Callable[[Any], dict] | None = None  # optax state -> {torch_key: [arrays]}


def _group_update(key, params, grads, states, hyper, extra):
    """The jitted body: one optax update over every parameter of a group that has a grad.
    ``extra``: per-step inputs that are not torch state (keys starting with "_")."""
    import optax

    cls, static = key
    states = {**states, **extra}
    TRACE_COUNTS[cls.__name__] += 1  # runs only while tracing
    parts = cls._parts(static, hyper)
    tx = optax.chain(*(p.tx for p in parts))
    opt_state = tuple(
        p.tx.init(params) if p.pack is None else p.pack(states, params) for p in parts
    )
    updates, new_opt_state = tx.update(grads, opt_state, params)
    new_params = [
        (p + u).astype(p.dtype) for p, u in zip(params, updates, strict=True)
    ]  # optax.apply_updates, spelled out to keep each parameter's dtype
    new_states = {}
    for part, st in zip(parts, new_opt_state, strict=True):
        if part.unpack is not None:
            new_states.update(part.unpack(st))
    new_states = {
        k: [v.astype(old.dtype) for v, old in zip(new_states[k], states[k], strict=True)]
        for k in states
        if k in new_states
    }
    return new_params, new_states


def _flat_group_update(key, params, grads, states, hyper, extra, trips):
    """``_group_update`` on every array as one flat vector, inside a loop that runs ``trips``
    (one) times. XLA CPU runs an elementwise loop over a conv kernel's (512, 512, 3, 3) at about
    half the speed of the same values as one vector (its short minor dimensions), and moves a
    plain reshape around an elementwise op back out of the fusion; a loop body, whose trip
    count it cannot see, keeps the flat shapes (ResNet18's SGD-momentum step: 12.5 -> 7 ms)."""
    from jax import lax

    def flat(xs: list) -> list:
        return [x.reshape(-1) if x.ndim > 1 else x for x in xs]

    kept_keys = []  # the state entries the update returns, found when the body is traced

    def body(carry):
        i, ps, sts = carry
        new_ps, new_sts = _group_update(key, ps, flat(grads), sts, hyper, extra)
        kept_keys[:] = [k for k in sts if k in new_sts]
        return i + 1, new_ps, {k: new_sts.get(k, v) for k, v in sts.items()}

    start = (jnp.zeros((), trips.dtype), flat(params), {k: flat(v) for k, v in states.items()})
    _, new_params, new_states = lax.while_loop(lambda c: c[0] < trips, body, start)
    return (
        [x.reshape(p.shape) for x, p in zip(new_params, params, strict=True)],
        {
            k: [x.reshape(old.shape) for x, old in zip(new_states[k], states[k], strict=True)]
            for k in kept_keys
        },
    )


_ONE_TRIP = np.int32(1)  # an argument, not a constant: XLA would unroll a known single trip
# By (flat, in place): the flat form for eager steps on the CPU (under tape.compile's trace the
# update is part of the step's program, and a GPU's loop would wait for the device to read its
# condition); in place, the parameters' and state's buffers are donated (see tape._donate).
_UPDATES = {
    (flat, in_place): jax.jit(
        _flat_group_update if flat else _group_update,
        static_argnums=0,
        donate_argnums=(1, 3) if in_place else (),
    )
    for flat in (False, True)
    for in_place in (False, True)
}


# Per optimizer and group, the program its last step ran (the fast path); and every program
# this process has used, by argument signature (so alternating shapes never reload one).
_last: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_by_signature: dict = {}


def _run_update(opt, group: int, update, key: tuple, args: tuple):
    """``update(key, *args)``. One of tape's own optimizers (its code and optax's then decide
    the program, and the store's key versions them) runs a program stored on disk, which a
    new process loads without tracing or lowering the update."""
    if _capture.active() is not None:  # traced into tape.compile's program
        return update(key, *args)
    last = _last.get(opt)
    held = None if last is None else last.get(group)
    # Reused only for the same update and flags: a changed param_group flag (weight_decay set,
    # nesterov, ...) changes the update's structure, so it must select another program.
    if held is not None and held[0] is update and held[1] == key:
        try:
            return held[2](*args)
        except TypeError:  # other argument types (the program checks them before it runs)
            pass
    leaves, tree = jax.tree_util.tree_flatten(args)
    signature = (update, key, tree, *map(_program_store.leaf_key, leaves))
    program = _by_signature.get(signature)
    if program is None:
        program = _by_signature[signature] = _stored_update(update, key, args, leaves)
    _last.setdefault(opt, {})[group] = (update, key, program)
    return program(*args)


def _stored_update(update, key: tuple, args: tuple, leaves: list) -> Callable:
    cls, static = key
    program = None
    if cls.__module__.startswith("tape.optim.") and " at 0x" not in repr(static):
        if _program_store.storable(leaves):
            # The in-place program gives its argument buffers to XLA: never run it where the
            # caller still needs them (several groups, where a later group may yet fail).
            in_place = update in (_UPDATES[False, True], _UPDATES[True, True])
            identity = repr((cls.__module__, cls.__qualname__, static, in_place, _optax_version()))
            program = _program_store.load_or_compile(update, (key,), args, identity.encode())
    return functools.partial(update, key) if program is None else program


@functools.cache
def _optax_version() -> str:
    """optax's version, read without importing it: a process that loads its update programs
    from the store never imports optax (about 0.1 s of start-up)."""
    return importlib.metadata.version("optax")


def _scalar_dtype() -> np.dtype:
    """torch keeps ``state['step']`` in float32 (float64 when that is the default dtype)."""
    return np.dtype(np.float64 if _dtype.get_default_dtype() is _dtype.float64 else np.float32)


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor"}.get(
            obj.dtype.name, "torch.Tensor"
        )
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _as_array(value):
    return value._storage.array if isinstance(value, Tensor) else value


class Optimizer:
    """Base class for all optimizers (``torch.optim.Optimizer``).

    Subclasses define ``_static(group)`` (hashable flags that select the update's structure),
    ``_hyper(group)`` (the dynamic float hyperparameters), ``_state_init(p, group)`` (torch's
    per-parameter state, as arrays) and ``_parts(static, hyper)`` (the optax chain).
    """

    # The state keys each (optimizer type, static flags) uses, learned from _state_init once.
    _state_keys: dict = {}

    _state_keys_static: tuple = ()

    #: The group options ``_hyper`` passes to the update as floats.
    _hyper_keys: tuple[str, ...] = ()

    #: Per-parameter state entries that are scalars rather than shaped like the parameter.
    _scalar_state: tuple[str, ...] = ("step",)

    #: The in-place writes torch's step makes to a state tensor, by name (one where not named),
    #: counted in its version (``_version``), which torch's in-place error messages quote.
    _state_writes: dict[str, int] = {}
    #: State torch makes from a parameter's first step (a clone of its gradient), so that the
    #: first step's writes do not count; other state exists before it, zeroed.
    _made_by_step: frozenset[str] = frozenset()
    #: The in-place writes torch's step makes to a parameter (``_param_writes`` may add some).
    _own_param_writes = 1

    def _param_writes(self, group) -> int:
        return self._own_param_writes

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got " + _typename(params)
            )
        self.state: defaultdict[Tensor, Any] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        _capture.track_optimizer(self)
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # --- groups ---------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own options) to ``param_groups``."""
        _capture.changed()
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)
        names, tensors = [], []
        for p in param_group["params"]:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is " + _typename(p)
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization parameter "
                    + name
                )
            param_group.setdefault(name, default)
        if len({id(p) for p in tensors}) != len(tensors):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                "information",
                stacklevel=3,
            )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # --- gradients ------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors (to None by default, like torch)."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if g._grad_fn is not None:
                    g = g.detach()
                    p._grad = g
                else:
                    g.requires_grad_(False)
                g._storage.array = np.zeros(g.shape, g.dtype.np)
                g._storage.version += 1

    # --- the update -----------------------------------------------------------------------------
    def _static(self, group) -> tuple:
        raise NotImplementedError

    def _hyper(self, group) -> dict[str, float]:
        """The group's dynamic hyperparameters; by default those named in ``_hyper_keys``."""
        return {k: hyper_float(group[k]) for k in self._hyper_keys}

    def _state_init(self, p: Tensor, group) -> dict[str, np.ndarray]:
        """torch's initial per-parameter state for ``p`` (empty when the group needs none)."""
        return {}

    @classmethod
    def _parts(cls, static, hyper) -> list[Part]:
        raise NotImplementedError

    def step(self, closure=None):
        """One update of every parameter that has a ``.grad``; returns ``closure()``'s loss.

        Each group is one jitted optax update. All groups are computed before any parameter or
        state is written, so a step that raises leaves the optimizer and parameters unchanged.
        """
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        pending = []
        for gi, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p._grad is not None]
            if not params:
                continue
            static = self._static(group)
            _capture.baked(functools.partial(self._static, group), static)
            hyper = _capture.dynamic(functools.partial(self._hyper, group))
            states: dict[str, list] = {}
            fresh: list[dict] = []
            keys = self._state_keys.get((type(self), static))
            for i, p in enumerate(params):
                held = self.state.get(p, {})
                if keys is not None and all(k in held for k in keys):
                    # The common case: state exists, so no zero templates are allocated.
                    merged = {k: _as_array(held[k]) for k in keys}
                    fresh.append({})
                else:
                    init = self._state_init(p, group)
                    keys = self._state_keys[type(self), static] = tuple(init)
                    merged = {}
                    for k, v in init.items():
                        cur = held.get(k)
                        merged[k] = v if cur is None else _as_array(cur)
                    fresh.append({k: v for k, v in init.items() if held.get(k) is None})
                if i == 0:
                    states = {k: [] for k in merged}
                elif set(merged) != set(states):
                    raise RuntimeError("optimizer state keys differ between parameters of a group")
                for k, v in merged.items():
                    states[k].append(v)
            # The loop's last values would keep the last parameter's state from being donated.
            merged = v = None
            self._check(gi, params, states)
            states = self._extra_state(params, states, fresh)
            extra = {k: states.pop(k) for k in list(states) if k.startswith("_")}
            arrays = [p._storage.array for p in params]
            grads = [p._grad._storage.array for p in params]
            eager = _capture.active() is None
            # One group: anything that fails does so before the update runs, so updating in
            # place keeps "a failed step changes nothing".
            in_place = eager and len(self.param_groups) == 1
            if in_place:
                arrays = _donate.donation(arrays, grads)
                states = {k: _donate.donation(v, grads, arrays) for k, v in states.items()}
            flat = eager and _device.on_cpu(arrays[0])
            args = (arrays, grads, states, hyper, extra) + ((_ONE_TRIP,) if flat else ())
            new_params, new_states = _run_update(
                self, gi, _UPDATES[flat, in_place], (type(self), static), args
            )
            # The program's output dict has sorted keys; torch's state keeps its insertion order.
            order = [k for k in states if k in new_states]
            order += [k for k in new_states if k not in order and not k.startswith("_")]
            pending.append((params, new_params, new_states, order, self._param_writes(group)))
        # Everything computed: now write parameters and state, in place like torch.
        writes = self._state_writes
        for params, new_params, new_states, keys, param_writes in pending:
            for i, (p, new) in enumerate(zip(params, new_params, strict=True)):
                storage = p._storage
                storage.array = new
                storage.version += param_writes
                views = getattr(storage, "_views", None)
                if views:  # views of the parameter see the step, as in torch
                    with grad_mode.no_grad():
                        _views.refresh(storage, views)
                if not keys:
                    continue
                st = self.state[p]
                for k in keys:
                    vals = new_states[k]
                    cur = st.get(k)
                    if isinstance(cur, Tensor) and cur.shape == vals[i].shape:
                        cur._storage.array = vals[i]
                        cur._storage.version += writes.get(k, 1)
                    else:
                        st[k] = Tensor._wrap(vals[i])
                        if k not in self._made_by_step:  # zeroed, then this step's writes
                            st[k]._storage.version = writes.get(k, 1)
        return loss

    def _extra_state(self, params, states, fresh):
        """Hook for transient per-step inputs that are not torch state (e.g. 'first step')."""
        return states

    def _check(self, gi: int, params, states) -> None:
        for i, p in enumerate(params):
            want = tuple(p._storage.meta.shape)  # raw shapes: this runs on every step
            if tuple(p._grad._storage.meta.shape) != want:
                raise RuntimeError(
                    f"parameter {i} of param group {gi} has shape {want} but its .grad "
                    f"has shape {tuple(p._grad.shape)}"
                )
            for k, vals in states.items():
                if k in self._scalar_state:
                    continue
                shape = np.shape(vals[i])
                if shape != want:
                    raise RuntimeError(
                        f"optimizer state '{k}' of parameter {i} in param group {gi} has shape "
                        f"{shape} but the parameter has shape {want}"
                    )

    # --- state_dict -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``, torch's
        format. Like torch, the state tensors are the live ones, not copies."""
        mapping: dict[int, int] = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack_group(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict from ``state_dict()`` (tape's, or torch's with tape tensors)."""
        _capture.changed()  # compiled steps read the state tensors this replaces
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(
            len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups, strict=True)
        ):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
                strict=True,
            )
        )

        def dtype_for(param, dtype: np.dtype, key) -> np.dtype:
            if key != "step" and dtype.kind == "f":
                return param.dtype.np
            return _scalar_dtype() if key == "step" and dtype.kind in "fiu" else dtype

        def cast(param, value, key=None):
            if (
                isinstance(value, Tensor)
                and value.dtype.np == dtype_for(param, value.dtype.np, key)
                and value.device == param.device
            ):
                # Kept as given, like torch (its ``.to`` is then a no-op): the loaded state
                # dict's tensors are the optimizer's live state, updated by each step.
                return value
            if isinstance(value, Tensor) or _is_array(value):
                arr = np.asarray(_as_array(value))
                arr = arr.astype(dtype_for(param, arr.dtype, key))
                return Tensor._wrap(np.array(arr))
            if key == "step" and isinstance(value, (int, float)):
                return Tensor._wrap(np.asarray(value, _scalar_dtype()))
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict[Tensor, Any] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = cast(id_map[k], v)
            else:
                state[k] = v
        new_groups = []
        for g, ng in zip(groups, saved_groups, strict=True):
            ng["params"] = g["params"]
            if "param_names" in g and "param_names" not in ng:
                ng["param_names"] = g["param_names"]
            for k, v in self.defaults.items():  # older state dicts may lack newer options
                ng.setdefault(k, v)
            new_groups.append(ng)
        self.state = state
        self.param_groups = new_groups

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += "\n"
            text += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        text += ")"
        return text


def _is_array(value) -> bool:
    return isinstance(value, (np.ndarray, jax.Array))


def hyper_float(value) -> float:
    """A hyperparameter as a Python float: a weakly typed traced scalar in the jitted update, so
    it takes each parameter's dtype and a new value never recompiles."""
    return float(value)


def stateless(tx: optax.GradientTransformation) -> Part:
    return Part(tx)


def grad_prelude(maximize: bool, decay: bool, hyper) -> list[Part]:
    """torch's gradient preprocessing: ``g = -g`` for ``maximize``, then (``decay``) the L2 term
    ``g += weight_decay * p``."""
    import optax

    parts = []
    if maximize:
        parts.append(stateless(optax.scale(-1.0)))
    if decay:
        parts.append(stateless(optax.add_decayed_weights(hyper["weight_decay"])))
    return parts


def step_zeros(params) -> list[np.ndarray]:
    """torch's ``state['step']`` before the first step, one per parameter."""
    return [np.zeros((), _scalar_dtype()) for _ in params]


def zero_state(p: Tensor, *keys: str) -> dict[str, np.ndarray]:
    """torch's initial state for ``p``: ``step`` 0 and, under each of ``keys``, zeros like ``p``."""
    zeros = np.zeros(tuple(p.shape), p.dtype.np)
    return {"step": step_zeros([p])[0], **dict.fromkeys(keys, zeros)}


def step_counter() -> Part:
    """torch's per-parameter ``state['step'] += 1`` as a GradientTransformation (identity on
    the updates)."""
    import optax

    def init(params):
        return step_zeros(params)

    def update(updates, state, params=None):
        return updates, [s + 1 for s in state]

    return Part(
        optax.GradientTransformation(init, update),
        pack=lambda states, params: states["step"],
        unpack=lambda st: {"step": st},
    )


def per_parameter(keys: tuple[str, ...], rule: Callable) -> Part:
    """A custom optax piece for a rule optax lacks: ``rule(g, p, state) -> (update, new_state)``
    for each parameter, ``state`` being its torch entries named ``keys`` (``step`` included)."""
    import optax

    def init(params):  # unused: the state is always packed from torch's
        return {k: [jnp.zeros_like(p) for p in params] for k in keys}

    def update(updates, state, params=None):
        out = {k: [] for k in keys}
        new_updates = []
        for i, g in enumerate(updates):
            u, st = rule(g, params[i], {k: state[k][i] for k in keys})
            new_updates.append(u)
            for k in keys:
                out[k].append(st[k])
        return new_updates, out

    return Part(
        optax.GradientTransformation(init, update),
        pack=lambda states, params: {k: states[k] for k in keys},
        unpack=lambda st: st,
    )
