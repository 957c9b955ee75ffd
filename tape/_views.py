"""Views: tensors that share their base's memory, as torch's view ops return, on immutable arrays.

A view is an ordinary tensor (its value is whatever the view op's dispatch produced, deferred or
not) that also carries a ``ViewInfo``: its root ``base`` (never itself a view), the ``chain`` of
view steps ``(op, static, output index)`` that compute it from the base, and torch's strides and
storage offset (so ``is_contiguous``/``stride``/``view`` behave like torch's).

Writes keep base and views in sync:

* an in-place op on a view computes the view's new value out of place, then scatters it into
  the base with one ``copy_slices`` op (grad_fn ``CopySlices``, the transpose of the chain);
* every write to a storage (through the base, a view or an alias) refreshes the live views
  registered on that storage: their value is recomputed from the base by one ``as_strided`` op
  (grad_fn ``AsStridedBackward0``, as torch regenerates it) and their version follows the base's.

Tensors that are not views pay nothing for this: the registry is only looked at in ``_assign``.
"""

from __future__ import annotations

import math
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from tape.autograd import grad_mode
from tape.ops.registry import NONE, dispatch, register

NO_GRAD = "no_grad"  # created in no_grad mode: in-place with grad on is an error (base needs grad)
DETACHED = "detached"  # detach() of a view: writes reach the base's value, not its history
MULTI = "multi:"  # prefix: output of split/chunk/unbind (in-place with grad is an error)


class ViewInfo:
    __slots__ = ("base", "chain", "strides", "offset", "creation")

    def __init__(self, base, chain: tuple, strides: tuple, offset: int, creation) -> None:
        self.base = base
        self.chain = chain
        self.strides = strides
        self.offset = offset
        self.creation = creation


# --- geometry (torch's sizes and strides) ------------------------------------------------------
_contiguous: dict = {}


def contiguous_strides(shape) -> tuple:
    strides = _contiguous.get(shape)
    if strides is None:
        out, acc = [], 1
        for s in reversed(shape):
            out.append(acc)
            acc *= max(s, 1)
        strides = _contiguous[tuple(shape)] = tuple(reversed(out))
    return strides


def geometry(t):
    """(shape, strides, storage offset) of ``t`` as torch would lay it out."""
    shape = t._storage.meta.shape
    info = t._view
    if info is None:
        return shape, contiguous_strides(shape), 0
    return shape, info.strides, info.offset


def memory_order(t) -> tuple | None:
    """The dims of ``t`` from outermost to innermost in memory (by stride), where that is not
    its own dim order (a transpose): ``empty_like`` keeps that order, so torch fills a new
    tensor made like ``t`` (a dropout mask) in it. None for a tensor laid out in dim order."""
    shape, strides, _ = geometry(t)
    if t._view is None or is_contiguous(shape, strides):
        return None
    order = tuple(sorted(range(len(shape)), key=lambda d: -strides[d] if shape[d] != 1 else 0))
    return None if order == tuple(range(len(shape))) else order


def is_contiguous(shape, strides) -> bool:
    if any(s == 0 for s in shape):
        return True
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides), strict=True):
        if size != 1:
            if stride != expected:
                return False
            expected *= size
    return True


def view_strides(oldshape, oldstride, newshape):
    """torch's ``computeStride``: the strides of ``view(newshape)``, or None when not viewable."""
    numel = math.prod(oldshape)
    if numel == 0:
        return (
            tuple(oldstride) if tuple(oldshape) == tuple(newshape) else contiguous_strides(newshape)
        )
    if not oldshape:
        return (1,) * len(newshape)
    newstride = [0] * len(newshape)
    view_d = len(newshape) - 1
    chunk_base_stride = oldstride[-1]
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(oldshape) - 1, -1, -1):
        tensor_numel *= oldshape[tensor_d]
        if tensor_d == 0 or (
            oldshape[tensor_d - 1] != 1
            and oldstride[tensor_d - 1] != tensor_numel * chunk_base_stride
        ):
            while view_d >= 0 and (view_numel < tensor_numel or newshape[view_d] == 1):
                newstride[view_d] = view_numel * chunk_base_stride
                view_numel *= newshape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = oldstride[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(newstride)


def index_geometry(static, shape, strides, offset):
    """Shape, strides and offset after basic indexing (ints, slices, None, Ellipsis)."""
    out_shape, out_strides = [], []
    dim = 0
    for s in static:
        kind = type(s)
        if kind is int:
            offset += (s % shape[dim]) * strides[dim]
            dim += 1
        elif kind is tuple:  # ("slice", start, stop, step)
            start, stop, step = slice(s[1], s[2], s[3]).indices(shape[dim])
            n = len(range(start, stop, step))
            out_shape.append(n)
            out_strides.append(strides[dim] * step)
            if n:
                offset += start * strides[dim]
            dim += 1
        elif s is None:
            # torch unsqueezes: the new dim's stride is the next dim's extent (1 at the end)
            out_shape.append(1)
            out_strides.append(shape[dim] * strides[dim] if dim < len(shape) else 1)
        else:  # Ellipsis
            consumed = sum(1 for s in static if s is not None and s is not Ellipsis)
            n = len(shape) - consumed
            out_shape += shape[dim : dim + n]
            out_strides += strides[dim : dim + n]
            dim += n
    out_shape += shape[dim:]
    out_strides += strides[dim:]
    return tuple(out_shape), tuple(out_strides), offset


# --- the two ops that move values between a base and its views ---------------------------------
def apply_chain(chain, x):
    for op, static, nr in chain:
        x = op.fwd(x, **dict(static))
        if nr is not None:
            x = x[nr]
    return x


# op -> setter(base, value, **static): a direct scatter for one-step chains (basic indexing)
SETTERS: dict = {}

_positions: dict = {}


def positions(chain, shape):
    """The flat base position of each element of the view ``chain`` makes of a ``shape`` base."""
    key = (chain, shape)
    p = _positions.get(key)
    if p is None:
        with jax.ensure_compile_time_eval():
            n = math.prod(shape)
            flat = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
            p = _positions[key] = np.asarray(apply_chain(chain, jnp.asarray(flat).reshape(shape)))
    return p


def _copy_slices_fwd(base, value, chain):
    value = value.astype(base.dtype)
    if len(chain) == 1:
        op, static, nr = chain[0]
        setter = SETTERS.get(op)
        if setter is not None and nr is None:
            return setter(base, value, **dict(static))
    pos = positions(chain, base.shape)
    value = jnp.broadcast_to(value, pos.shape)
    flat = base.reshape(-1).at[pos.reshape(-1)].set(value.reshape(-1), unique_indices=True)
    return flat.reshape(base.shape)


_copy_slices = register("copy_slices", _copy_slices_fwd, "CopySlices", NONE, "none")
_as_strided = register(
    "as_strided_view", lambda x, chain: apply_chain(chain, x), "AsStridedBackward0", NONE, "none"
)


# --- making views and keeping them in sync -------------------------------------------------------
def make(input, out, op, static: tuple, strides: tuple, offset: int, nr=None, creation=None):
    """Mark ``out`` (the result of ``op`` on ``input``) as a view of ``input``'s base."""
    info = input._view
    step = (op, static, nr)
    if info is None:
        base, chain = input, (step,)
    else:
        base, chain = info.base, info.chain + (step,)
        if info.creation is not None and (creation is None or info.creation == DETACHED):
            creation = info.creation
    if creation is None and not grad_mode.state.enabled:
        creation = NO_GRAD
    if creation == NO_GRAD and base._requires_grad:
        # torch's view of a base that requires grad does too, even made under no_grad; no
        # gradient reaches the base through it (graph.accumulator_of)
        out._requires_grad = True
    out._view = ViewInfo(base, chain, strides, offset, creation)
    if out._inference != base._inference:  # made in inference mode of a normal base, or not
        out._inference = base._inference
    storage = base._storage
    out._storage.version = storage.version
    _register(storage, out)
    return out


def make_many(input, outs: tuple, op, static: tuple, geoms) -> tuple:
    name = outs[0]._grad_fn.name() if outs and outs[0]._grad_fn is not None else None
    creation = None if name is None else MULTI + name
    for i, (out, (strides, offset)) in enumerate(zip(outs, geoms, strict=True)):
        make(input, out, op, static, strides, offset, i, creation)
    return outs


def _register(storage, t) -> None:
    reg = getattr(storage, "_views", None)
    if reg is None:
        reg = storage._views = {}
    reg[id(t)] = weakref.ref(t)
    if len(reg) % 64 == 0:
        for key in [k for k, r in reg.items() if r() is None]:
            del reg[key]


def detached(t):
    """``t.detach()`` for a view ``t``: the same memory, no history."""
    from tape.tensor import Tensor

    info = t._view
    d = object.__new__(Tensor)
    d._init(t._storage, False, None, 0)
    if t._inference:
        d._inference = True
    d._view = ViewInfo(info.base, info.chain, info.strides, info.offset, DETACHED)
    _register(info.base._storage, d)
    return d


_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."
_NO_GRAD_MSG = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
    "code by moving both the view and the inplace either both inside the no_grad block (if you "
    "don't want the inplace to be tracked) or both outside (if you want the inplace to be tracked)."
)
_OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation."
)


def check_inplace(t, shape=None, strides=None, through: str | None = None) -> None:
    """torch's errors for writing into view ``t`` (or the region ``shape``/``strides`` of it,
    which torch reaches through its view op ``through``: ``Select``, ``Slice``...)."""
    info = t._view
    if shape is None:
        shape, strides = tuple(t._storage.meta.shape), info.strides
    if any(st == 0 and sz > 1 for sz, st in zip(shape, strides, strict=True)):
        raise RuntimeError(_OVERLAP)
    if not grad_mode.state.enabled or info.creation == DETACHED:
        return
    base = info.base
    if not base._requires_grad:
        return
    if info.creation == NO_GRAD:
        if through is None and t._grad_fn is not None:  # a view, taken with grad on, of it
            from tape.autograd.graph import _forward_name

            through = _forward_name(t._grad_fn.name())
        if through is None:
            raise RuntimeError(_NO_GRAD_MSG)
        raise RuntimeError(
            f"Output 0 of {through} is a view of a view which was created in no_grad mode"
            + _NO_GRAD_MSG[len("A view was created in no_grad mode") :]
        )
    if base._grad_fn is None:
        raise RuntimeError(_LEAF)
    if info.creation is not None and info.creation.startswith(MULTI):
        from tape.autograd.graph import _forward_name

        name = t._grad_fn.name() if t._grad_fn is not None else info.creation[len(MULTI) :]
        raise RuntimeError(
            f"Output {t._output_nr} of {_forward_name(name)} is a view and "
            "is being modified inplace. This view is the output of a function that returns "
            "multiple views. Such functions do not allow the output views to be modified "
            "inplace. You should replace the inplace operation by an out-of-place one."
        )


def write(base, chain: tuple, value, track: bool = True) -> None:
    """Scatter ``value`` (broadcast to the region) into ``base`` at the view ``chain``."""
    if track and grad_mode.state.enabled:
        new = dispatch(_copy_slices, (base._snapshot(), value), (("chain", chain),))
    else:
        with grad_mode.no_grad():
            new = dispatch(_copy_slices, (base._snapshot(), value), (("chain", chain),))
    base._assign(new)


def assign(t, result):
    """``t._assign(result)`` for a view ``t``: write the new value through to the base."""
    info = t._view
    new = result._storage.meta
    shape = tuple(t._storage.meta.shape)
    if tuple(new.shape) != shape:
        raise RuntimeError(
            f"output with shape {list(shape)} doesn't match the broadcast shape {list(new.shape)}"
        )
    write(info.base, info.chain, result, info.creation != DETACHED)
    return t


def become(t, out):
    """Make ``t`` the view ``out`` of itself (an in-place view op: ``t.t_()``), keeping the
    object. The version counter moves on, as torch's does, so a value saved before fails its
    backward.

    A view stays a view of its base, with ``out``'s steps and strides. A tensor that is not a
    view takes ``out``'s storage and stays one that is not, unless views were taken of it: those
    and ``t`` then become views of a new base holding ``t``'s old storage and history, so that
    writes through either still reach the other.
    """
    info, storage = t._view, t._storage
    if info is None:
        reg = getattr(storage, "_views", None)
        if reg:
            reg.pop(id(out), None)
            if any(ref() is not None for ref in reg.values()):
                held = _rebase(t, reg)
                step = out._view
                info = ViewInfo(held, step.chain, step.strides, step.offset, step.creation)
                out._view = info
    base = storage if info is None else info.base._storage
    base.version += 1
    out._storage.version = base.version
    if info is not None:
        t._view = out._view
        _register(base, t)
    t._storage = out._storage
    if out._grad_fn is not None:
        t._grad_fn, t._output_nr, t._requires_grad = out._grad_fn, out._output_nr, True
    # The other views of the base share its version counter, and torch regenerates their
    # history (AsStridedBackward0) once it has moved on, as after a write.
    others = {
        k: ref
        for k, ref in (getattr(base, "_views", None) or {}).items()
        if ref() is not None and ref() is not t and ref() is not out
    }
    if others:
        refresh(base, others)
    return t


def _rebase(t, reg: dict):
    """A new tensor holding ``t``'s storage and history, made the base of the live views whose
    base was ``t`` (``t`` is about to take another storage)."""
    from tape.tensor import Tensor

    held = object.__new__(Tensor)
    held._init(t._storage, t._requires_grad, t._grad_fn, t._output_nr)
    for ref in list(reg.values()):
        w = ref()
        info = None if w is None else w._view
        if info is not None and info.base is t:
            w._view = ViewInfo(held, info.chain, info.strides, info.offset, info.creation)
    return held


def refresh(storage, reg: dict) -> None:
    """Recompute every live view registered on ``storage`` after a write to it."""
    state = grad_mode.state
    for key, ref in list(reg.items()):
        w = ref()
        if w is None:
            del reg[key]
            continue
        info = w._view
        if info is None:
            continue
        base = info.base
        track = base._requires_grad and info.creation not in (NO_GRAD, DETACHED)
        prev = state.enabled
        state.enabled = track
        try:
            out = dispatch(_as_strided, (base,), (("chain", info.chain),))
        finally:
            state.enabled = prev
        # The view keeps its storage object, now holding the new value: what shares it (a
        # ``.data`` alias, a value saved for backward) sees the write and the version, as the
        # memory torch's views share would show them.
        old, new = w._storage, out._storage
        old._array, old.meta, old.thunk, old.index = new._array, new.meta, new.thunk, new.index
        old.version = base._storage.version
        if track and out._grad_fn is not None:
            w._grad_fn = out._grad_fn
            w._output_nr = 0
            w._requires_grad = True
