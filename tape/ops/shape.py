"""Shape ops: views, permutations, joins and splits."""

from __future__ import annotations

import functools
import math
import warnings

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np

from tape import _capture, _dtype, _views
from tape.ops.reduction import _dims
from tape.ops.registry import NONE, SAME, dispatch, register

_NO_SAVE = "none"


def _sizes(args) -> tuple:
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))``."""
    if len(args) == 1 and not isinstance(args[0], int):
        return tuple(int(s) for s in args[0])
    return tuple(int(s) for s in args)


def _infer(shape: tuple, numel: int, original) -> tuple:
    """Resolve a single -1 in ``shape``, with torch's error for an impossible shape."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


_view = register("view", lambda x, shape: jnp.reshape(x, shape), "ViewBackward0", NONE, _NO_SAVE)
_unsafe_view = register(
    "reshape_alias", lambda x, shape: jnp.reshape(x, shape), "UnsafeViewBackward0", NONE, _NO_SAVE
)


_NOT_VIEWABLE = (
    "view size is not compatible with input tensor's size and stride (at least one dimension spans "
    "across two contiguous subspaces). Use .reshape(...) instead."
)


def _view_strides(input, new: tuple):
    """(strides, offset) of ``input.view(new)``, or None where torch would have to copy."""
    info = input._view
    if info is None:
        return _views.contiguous_strides(new), 0
    strides = _views.view_strides(tuple(input.shape), info.strides, new)
    return None if strides is None else (strides, info.offset)


# The in-place forms' ops (t_, squeeze_, ...): the same views, which torch records as
# ...Backward1 and later nodes. Filled in below each view op; used while `_in_place` is set.
_IN_PLACE_OPS: dict = {}
_in_place = False


def _as_view(input, op, static: tuple, geometry):
    """Dispatch the view op ``op`` and mark its result as a view of ``input``'s base."""
    if _in_place:
        op = _IN_PLACE_OPS[op]
    out = dispatch(op, (input,), static)
    return _views.make(input, out, op, static, geometry[0], geometry[1])


def in_place_view(fn):
    """The in-place form of view op ``fn`` (``x.t_()`` from ``t``): ``x`` takes the view's
    shape and history, as torch changes a tensor's sizes and strides in place."""

    def method(self, *args, **kwargs):
        global _in_place
        self._check_inplace()
        _capture.check_tensor_change(self, f"changes the shape (by {fn.__name__}_()) of")
        _in_place = True
        try:
            out = fn(self, *args, **kwargs)
        finally:
            _in_place = False
        return _views.become(self, out)

    method.__name__ = f"{fn.__name__}_"
    method.__doc__ = f"In-place ``{fn.__name__}``: changes this tensor's shape."
    return method


def _geometry(input, fn):
    """(strides, offset) after a view step ``fn(shape, strides) -> strides``."""
    shape, strides, offset = _views.geometry(input)
    return fn(shape, strides), offset


# reshape of a viewable tensor that is not contiguous (torch's _reshape_alias)
_reshape_alias = register(
    "reshape_alias_strided",
    lambda x, shape: jnp.reshape(x, shape),
    "ReshapeAliasBackward0",
    NONE,
    _NO_SAVE,
)


def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        return input.to(shape[0])  # view(dtype)
    new = _infer(_sizes(shape), input.numel(), input)
    geometry = _view_strides(input, new)
    if geometry is None:
        raise RuntimeError(_NOT_VIEWABLE)
    return _as_view(input, _view, (("shape", new),), geometry)


def reshape(input, *shape):
    new = _infer(_sizes(shape), input.numel(), input)
    geometry = _view_strides(input, new)
    if geometry is None:  # torch copies: UnsafeViewBackward0 of CloneBackward0
        from tape.ops.elementwise import clone

        return dispatch(_unsafe_view, (clone(input),), (("shape", new),))
    op = _view if input._view is None or input.is_contiguous() else _reshape_alias
    return _as_view(input, op, (("shape", new),), geometry)


def view_as(input, other):
    return view(input, tuple(other.shape))


def reshape_as(input, other):
    return reshape(input, tuple(other.shape))


def flatten(input, start_dim=0, end_dim=-1):
    nd = input.dim()
    if nd == 0:
        return reshape(input, (1,))
    s, e = start_dim % nd, end_dim % nd
    if s == e:
        return input
    shape = tuple(input.shape)
    return reshape(input, shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])


def unflatten(input, dim, sizes):
    shape = tuple(input.shape)
    d = dim % len(shape)
    sizes = _infer(tuple(sizes), shape[d], input)
    return view(input, shape[:d] + sizes + shape[d + 1 :])


def ravel(input):
    return (
        view(contiguous(input), (-1,)) if input.dim() != 1 or not input.is_contiguous() else input
    )


_squeeze = register(
    "squeeze", lambda x, axis: jnp.squeeze(x, axis), "SqueezeBackward0", NONE, _NO_SAVE
)
_squeeze_dim = register(
    "squeeze_dim", lambda x, axis: jnp.squeeze(x, axis), "SqueezeBackward1", NONE, _NO_SAVE
)
_squeeze_dims = register(
    "squeeze_dims", lambda x, axis: jnp.squeeze(x, axis), "SqueezeBackward2", NONE, _NO_SAVE
)


def squeeze(input, dim=None):
    shape = tuple(input.shape)
    if dim is None:
        axis = tuple(i for i, s in enumerate(shape) if s == 1)
        op = _squeeze
    else:
        dims = _dims(dim, input.dim()) or ()
        axis = tuple(d for d in dims if shape[d] == 1)
        op = _squeeze_dim if isinstance(dim, int) else _squeeze_dims
    geometry = _geometry(input, lambda sh, st: tuple(s for i, s in enumerate(st) if i not in axis))
    return _as_view(input, op, (("axis", axis),), geometry)


_unsqueeze = register(
    "unsqueeze", lambda x, axis: jnp.expand_dims(x, axis), "UnsqueezeBackward0", NONE, _NO_SAVE
)


def unsqueeze(input, dim):
    (d,) = _dims(dim, input.dim() + 1)

    def strides(sh, st):
        return st[:d] + ((sh[d] * st[d]) if d < len(sh) else 1,) + st[d:]

    return _as_view(input, _unsqueeze, (("axis", d),), _geometry(input, strides))


_permute = register(
    "permute", lambda x, axes: jnp.transpose(x, axes), "PermuteBackward0", NONE, _NO_SAVE
)
_transpose = register(
    "transpose", lambda x, a, b: jnp.swapaxes(x, a, b), "TransposeBackward0", NONE, _NO_SAVE
)
_t = register("t", lambda x: x.T, "TBackward0", NONE, _NO_SAVE)
for _op, _name in (
    (_squeeze, "SqueezeBackward3"),
    (_squeeze_dim, "SqueezeBackward4"),
    (_squeeze_dims, "SqueezeBackward5"),
    (_unsqueeze, "UnsqueezeBackward1"),
    (_transpose, "TransposeBackward1"),
    (_t, "TBackward1"),
):
    _IN_PLACE_OPS[_op] = register(f"{_op.name}_", _op.fwd, _name, NONE, _NO_SAVE)


def permute(input, *dims):
    axes = _dims(_sizes(dims), input.dim()) or ()
    if sorted(axes) != list(range(input.dim())):
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {input.dim()} is not "
            f"equal to len(dims) = {len(axes)}"
        )
    geometry = _geometry(input, lambda sh, st: tuple(st[a] for a in axes))
    return _as_view(input, _permute, (("axes", axes),), geometry)


def _swap(st, a, b):
    st = list(st)
    st[a], st[b] = st[b], st[a]
    return tuple(st)


def transpose(input, dim0, dim1):
    a, b = _dims((dim0, dim1), input.dim()) or (0, 0)
    geometry = _geometry(input, lambda sh, st: _swap(st, a, b))
    return _as_view(input, _transpose, (("a", a), ("b", b)), geometry)


swapaxes = swapdims = transpose


def t(input):
    if input.dim() > 2:
        name = "t_" if _in_place else "t"
        raise RuntimeError(
            f"{name}() expects a tensor with <= 2 dimensions, but self is {input.dim()}D"
        )
    return _as_view(input, _t, (), _geometry(input, lambda sh, st: tuple(reversed(st))))


def T(input):
    return permute(input, tuple(reversed(range(input.dim()))))


def mT(input):
    input._matrices("tensor.mT", batches=True)
    return transpose(input, -2, -1)


_expand = register(
    "expand", lambda x, shape: jnp.broadcast_to(x, shape), "ExpandBackward0", NONE, _NO_SAVE
)


def expand(input, *sizes):
    sizes = _sizes(sizes)
    shape = tuple(input.shape)
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"expand(torch.{_dtype.LEGACY_TYPES[input.dtype.name]}{{{list(shape)}}}, "
            f"size={list(sizes)}): the number of sizes provided ({len(sizes)}) must be greater "
            f"or equal to the number of dimensions in the tensor ({len(shape)})"
        )
    out = []
    for i, s in enumerate(sizes):
        old = shape[i - lead] if i >= lead else 1
        if s == -1:
            s = old
        elif old != 1 and old != s:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({old}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(shape)}"
            )
        out.append(s)

    def strides(sh, st):
        new = [0] * lead
        for i, (old, size) in enumerate(zip(sh, out[lead:], strict=True)):
            new.append(0 if old == 1 and size != 1 else st[i])
        return tuple(new)

    return _as_view(input, _expand, (("shape", tuple(out)),), _geometry(input, strides))


def expand_as(input, other):
    return expand(input, tuple(other.shape))


def broadcast_to(input, size):
    return expand(input, tuple(size))


_repeat = register("repeat", lambda x, reps: jnp.tile(x, reps), "RepeatBackward0", NONE, _NO_SAVE)


def repeat(input, *sizes):
    sizes = _sizes(sizes)
    if len(sizes) < input.dim():
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
            "tensor"
        )
    return dispatch(_repeat, (input,), (("reps", sizes),))


def contiguous(input, memory_format=None):
    if input._view is None or input.is_contiguous():
        return input
    from tape.ops.elementwise import clone

    return clone(input)


_diagonal = register(
    "diagonal",
    lambda x, offset, a, b: jnp.diagonal(x, offset, a, b),
    "DiagonalBackward0",
    NONE,
    _NO_SAVE,
)


def diagonal(input, offset=0, dim1=0, dim2=1):
    a, b = _dims((dim1, dim2), input.dim()) or (0, 0)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    shape, st, off = _views.geometry(input)
    n = max(
        min(shape[a], shape[b] - offset) if offset >= 0 else min(shape[a] + offset, shape[b]), 0
    )
    if n:
        off += offset * st[b] if offset >= 0 else -offset * st[a]
    strides = tuple(s for i, s in enumerate(st) if i not in (a, b)) + (st[a] + st[b],)
    static = (("offset", offset), ("a", a), ("b", b))
    return _as_view(input, _diagonal, static, (strides, off))


def _windows(x, axis: int, size: int, step: int):
    """Windows of ``size`` along ``axis``, ``step`` apart, as a new last axis."""
    if not x.ndim:
        return jnp.reshape(x, (1,))
    n = (x.shape[axis] - size) // step + 1
    starts = np.arange(n)[:, None] * step + np.arange(size)[None, :]
    return jnp.moveaxis(jnp.take(x, starts, axis=axis), axis + 1, -1)


_unfold = register("unfold", _windows, "UnfoldBackward0", NONE, _NO_SAVE)


def unfold(input, dimension: int, size: int, step: int):
    """A view of every window of ``size`` elements along ``dimension``, ``step`` apart, each as
    a new last dimension: ``tensor([1, 2, 3, 4]).unfold(0, 2, 1)`` has rows [1, 2], [2, 3], [3, 4].
    """
    ndim = input.dim()
    (axis,) = _dims(dimension, max(ndim, 1)) or (0,)
    length = input.shape[axis] if ndim else 1
    if size > length:
        raise RuntimeError(
            f"maximum size for tensor at dimension {axis} is {length} but size is {size}"
        )
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    _, st, off = _views.geometry(input)
    strides = (*st[:axis], st[axis] * step, *st[axis + 1 :], st[axis]) if ndim else (1,)
    static = (("axis", axis), ("size", size), ("step", step))
    return _as_view(input, _unfold, static, (strides, off))


_flip = register("flip", lambda x, axis: jnp.flip(x, axis), "FlipBackward0", NONE, _NO_SAVE)
_roll = register(
    "roll", lambda x, shift, axis: jnp.roll(x, shift, axis), "RollBackward0", NONE, _NO_SAVE
)


def flip(input, *dims):
    return dispatch(_flip, (input,), (("axis", _dims(_sizes(dims), input.dim())),))


def roll(input, shifts, dims=None):
    shift = shifts if isinstance(shifts, int) else tuple(shifts)
    axis = dims if dims is None or isinstance(dims, int) else tuple(dims)
    return dispatch(_roll, (input,), (("shift", shift), ("axis", axis)))


_cat = register("cat", lambda *xs, axis: jnp.concatenate(xs, axis), "CatBackward0", SAME, _NO_SAVE)
_stack = register("stack", lambda *xs, axis: jnp.stack(xs, axis), "StackBackward0", SAME, _NO_SAVE)


def cat(tensors, dim=0):
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    nonempty = [t for t in tensors if t.dim() != 1 or t.numel() != 0] or tensors[:1]
    (axis,) = _dims(dim, nonempty[0].dim()) or (0,)
    first = tuple(nonempty[0].shape)
    for i, t in enumerate(nonempty[1:], 1):
        shape = tuple(t.shape)
        if len(shape) != len(first):
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {len(first)} and {len(shape)}"
            )
        for d, (a, b) in enumerate(zip(first, shape, strict=True)):
            if d != axis and a != b:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {axis}. Expected size {a} "
                    f"but got size {b} for tensor number {i} in the list."
                )
    if len(nonempty) < len(tensors):  # the skipped empty tensors still count for the dtype
        want = functools.reduce(_dtype.promote_types, (t.dtype for t in tensors))
        if functools.reduce(_dtype.promote_types, (t.dtype for t in nonempty)) is not want:
            nonempty = [nonempty[0].to(want), *nonempty[1:]]
    return dispatch(_cat, tuple(nonempty), (("axis", axis),))


concat = concatenate = cat


def stack(tensors, dim=0):
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    first = list(tensors[0].shape)
    for i, t in enumerate(tensors[1:], 1):
        if list(t.shape) != first:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {first} at entry 0 and "
                f"{list(t.shape)} at entry {i}"
            )
    (axis,) = _dims(dim, tensors[0].dim() + 1)
    return dispatch(_stack, tensors, (("axis", axis),))


def hstack(tensors):
    tensors = tuple(tensors)
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1)


def vstack(tensors):
    return cat([t.unsqueeze(0) if t.dim() == 1 else t for t in tensors], 0)


def _split_fwd(x, bounds, axis):
    return tuple(jnp.split(x, bounds, axis))


_split = register("split", _split_fwd, "SplitBackward0", NONE, _NO_SAVE)
_split_sizes = register("split_with_sizes", _split_fwd, "SplitWithSizesBackward0", NONE, _NO_SAVE)
_unbind = register(
    "unbind", lambda x, axis: tuple(jnp.moveaxis(x, axis, 0)), "UnbindBackward0", NONE, _NO_SAVE
)


_unsafe_split = register("unsafe_split", _split_fwd, "UnsafeSplitBackward0", NONE, _NO_SAVE)
_unsafe_split_sizes = register(
    "unsafe_split_with_sizes", _split_fwd, "UnsafeSplitWithSizesBackward0", NONE, _NO_SAVE
)


def _pieces(tensor, split_size_or_sections, dim, unsafe: bool):
    """(outputs, op, static, sizes, axis) of a split: by a size, or by sizes. ``unsafe``: torch's
    ``unsafe_split``, whose pieces are not views."""
    (axis,) = _dims(dim, tensor.dim()) or (0,)
    n = tensor.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [n]
        op = _unsafe_split if unsafe else _split
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {axis}), but got split_sizes={sizes}"
            )
        op = _unsafe_split_sizes if unsafe else _split_sizes
    bounds = tuple(int(b) for b in _cumulative(sizes)[:-1])
    static = (("bounds", bounds), ("axis", axis))
    return dispatch(op, (tensor,), static), op, static, sizes, axis


def unsafe_split(tensor, split_size, dim=0):
    return _pieces(tensor, split_size, dim, True)[0]


def unsafe_split_with_sizes(input, split_sizes, dim: int = 0):
    return _pieces(input, list(split_sizes), dim, True)[0]


def unsafe_chunk(input, chunks, dim=0):
    return unsafe_split(input, _chunk_size(input, chunks, dim), dim)


def split(tensor, split_size_or_sections, dim=0):
    outs, op, static, sizes, axis = _pieces(tensor, split_size_or_sections, dim, False)
    bounds = dict(static)["bounds"]
    _, st, off = _views.geometry(tensor)
    starts = (0, *bounds)
    geoms = [
        (st, off + (start * st[axis] if size else 0))
        for start, size in zip(starts, sizes, strict=False)
    ]
    if len(geoms) != len(outs):  # split of an empty dim: jnp gives one piece
        geoms = [(st, off)] * len(outs)
    return _views.make_many(tensor, outs, op, static, geoms)


def _cumulative(sizes):
    out, acc = [], 0
    for s in sizes:
        acc += s
        out.append(acc)
    return out


def _chunk_size(input, chunks, dim) -> int:
    n = input.shape[dim]
    return max(-(-n // chunks) if chunks else n, 1)


def chunk(input, chunks, dim=0):
    return split(input, _chunk_size(input, chunks, dim), dim)


def tensor_split(input, indices_or_sections, dim=0):
    """Slices of ``input`` along ``dim``: ``sections`` near-equal ones, or cut at indices."""
    (axis,) = _dims(dim, input.dim()) or (0,)
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        q, r = divmod(input.shape[axis], sections)
        indices_or_sections = _cumulative([q + 1] * r + [q] * (sections - r))[:-1]
    return _slices(input, axis, indices_or_sections)


def _slices(input, axis: int, indices) -> tuple:
    """``input`` cut along ``axis`` at ``indices``, as slice views: each piece is
    ``input[a:b]`` with Python's slice rules (negative indices wrap, b < a is empty)."""
    bounds = [0, *(int(i) for i in indices), None]
    index = (slice(None),) * axis
    return tuple(input[(*index, slice(a, b))] for a, b in zip(bounds, bounds[1:], strict=False))


def unbind(input, dim=0):
    (axis,) = _dims(dim, input.dim()) or (0,)
    static = (("axis", axis),)
    outs = dispatch(_unbind, (input,), static)
    _, st, off = _views.geometry(input)
    rest = st[:axis] + st[axis + 1 :]
    geoms = [(rest, off + i * st[axis]) for i in range(len(outs))]
    return _views.make_many(input, outs, _unbind, static, geoms)


_tril = register("tril", lambda x, k: jnp.tril(x, k), "TrilBackward0", NONE, _NO_SAVE)
_triu = register("triu", lambda x, k: jnp.triu(x, k), "TriuBackward0", NONE, _NO_SAVE)


def tril(input, diagonal=0):
    return dispatch(_tril, (input,), (("k", diagonal),))


def triu(input, diagonal=0):
    return dispatch(_triu, (input,), (("k", diagonal),))


_movedim = register(
    "movedim", lambda x, src, dst: jnp.moveaxis(x, src, dst), "PermuteBackward0", NONE, _NO_SAVE
)


def movedim(input, source, destination):
    src = _dims(source, input.dim()) or ()
    dst = _dims(destination, input.dim()) or ()
    perm = list(range(input.dim()))
    order = [n for n in range(input.dim()) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    perm = order
    geometry = _geometry(input, lambda sh, st: tuple(st[p] for p in perm))
    return _as_view(input, _movedim, (("src", src), ("dst", dst)), geometry)


moveaxis = movedim


def tile(input, dims):
    """``repeat`` with ``dims`` padded with leading ones to the tensor's rank."""
    dims = tuple(dims)
    return repeat(input, (1,) * (input.dim() - len(dims)) + dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element repeated ``repeats`` times along ``dim`` (the flattened input when None).

    An int repeats as torch does (unsqueeze, expand, clone, view: ViewBackward0); a tensor
    picks with index_select (IndexSelectBackward0); ``repeat_interleave(counts)`` alone gives
    each index ``counts[i]`` times."""
    from tape import creation
    from tape.ops.elementwise import clone
    from tape.ops.indexing import index_select
    from tape.tensor import Tensor

    if repeats is None:
        counts = np.asarray(input._storage.array)
        if input.dim() != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if input.dtype.name not in ("int64", "int32"):
            raise NotImplementedError(
                '"repeat_interleave_cpu" not implemented for '
                f"'{_dtype.scalar_type_name(input.dtype)}'"
            )
        if (counts < 0).any():
            raise RuntimeError("repeats can not be negative")
        return creation.tensor(np.repeat(np.arange(len(counts)), counts), dtype=input.dtype)
    x = input if dim is not None else reshape(input, (-1,))
    (axis,) = _dims(0 if dim is None else dim, x.dim()) or (0,)
    if isinstance(repeats, Tensor):
        n = x.shape[axis]
        if repeats.numel() == 1:
            repeats = repeats.reshape(1).expand(n)
        elif repeats.shape[0] != n:
            raise RuntimeError(
                "repeats must have the same size as input along dim, but got "
                f"repeats.size(0) = {repeats.shape[0]} and input.size(0) = {n}"
            )
        return index_select(x, axis, repeat_interleave(repeats))
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    shape = tuple(x.shape)
    wide = expand(unsqueeze(x, axis + 1), shape[: axis + 1] + (repeats,) + shape[axis + 1 :])
    out = shape[:axis] + (shape[axis] * repeats,) + shape[axis + 1 :]
    return view(clone(wide), out)


_diag_embed = register(
    "diag_embed", lambda x, k: jnp.diag(x, k), "DiagEmbedBackward0", NONE, _NO_SAVE
)
_diag = register("diag", lambda x, k: jnp.diagonal(x, k), "DiagonalBackward0_copy", NONE, _NO_SAVE)


def diag(input, diagonal=0):
    """A 1-D input's values on a square matrix's ``diagonal``, or a copy of a matrix's one."""
    if input.dim() == 1:
        return dispatch(_diag_embed, (input,), (("k", diagonal),))
    if input.dim() == 2:
        return dispatch(_diag, (input,), (("k", diagonal),))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")


def _trace_fwd(x, dtype):
    return jnp.trace(x, dtype=dtype)


_trace = register("trace", _trace_fwd, "TraceBackward0", NONE, _NO_SAVE)


def trace(input):
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    dtype = jnp.int64 if input.dtype.np.kind in "biu" else None
    return dispatch(_trace, (input,), (("dtype", dtype),))


def _broadcast_shape(tensors) -> tuple:
    from tape._dispatch import _raise_broadcast_error

    arrays = [t._storage.meta for t in tensors]
    try:
        return tuple(np.broadcast_shapes(*(tuple(a.shape) for a in arrays)))
    except ValueError as error:
        _raise_broadcast_error(arrays, error)
        raise


def broadcast_tensors(*tensors):
    """Each tensor expanded to the shape they broadcast to."""
    tensors = _tensors(tensors)
    shape = _broadcast_shape(tensors)
    return tuple(t if tuple(t.shape) == shape else expand(t, shape) for t in tensors)


def broadcast_shapes(*shapes):
    """The shape tensors of ``shapes`` (sizes, or ints for 1-D) broadcast to, as a Size."""
    from tape.tensor import Size

    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    out: list = []
    for i, shape in enumerate(shapes):
        for k, size in enumerate(reversed(shape), start=1):
            if k > len(out):
                out.insert(0, size)
            elif out[-k] == 1:
                out[-k] = size
            elif size not in (1, out[-k]):
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {size} at {-k}! Mismatching "
                    f"argument at index {i} had {shape}; but expected shape should be "
                    f"broadcastable to {out}"
                )
    return Size(out)


def sum_to_size(input, *size):
    """``input`` summed down to ``size`` (a shape ``input`` broadcasts from), as autograd sums
    a broadcast gradient."""
    from tape.ops.reduction import sum as _sum

    size = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
    shape = tuple(input.shape)
    dims = summed_dims(size, shape)
    if dims is None:
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    if not dims:
        return input
    out = _sum(input, dims, keepdim=True)
    return out.view(size) if len(shape) > len(size) else out


def summed_dims(size: tuple, shape: tuple) -> list | None:
    """The dimensions of ``shape`` to sum (keeping them) to get back to ``size``, which
    broadcasts to it (torch's ``sum_to``); None when ``size`` does not broadcast to ``shape``."""
    lead = len(shape) - len(size)
    if lead < 0 or any(s not in (1, d) for s, d in zip(size, shape[lead:], strict=True)):
        return None
    return [*range(lead)] + [lead + i for i, s in enumerate(size) if s == 1 != shape[lead + i]]


def is_same_size(input, other) -> bool:
    return tuple(input.shape) == tuple(other.shape)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids: tensor ``i`` viewed along axis ``i`` and expanded ('ij'); 'xy' swaps
    the first two axes, as torch's."""
    tensors = _tensors(tensors)
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
            "argument.",
            UserWarning,
            stacklevel=3,  # the caller of the keyword wrapper (tape.ops._keywords)
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t!r}"
            )
    swap = indexing == "xy" and len(tensors) >= 2
    order = (tensors[1], tensors[0], *tensors[2:]) if swap else tensors
    shape = tuple(t.numel() for t in order)
    n = len(order)
    grids = [
        expand(view(t, (1,) * i + (-1,) + (1,) * (n - i - 1)), shape) for i, t in enumerate(order)
    ]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


_rot90 = register(
    "rot90", lambda x, k, axes: jnp.rot90(x, k, axes), "Rot90Backward0", NONE, _NO_SAVE
)


def rot90(input, k: int = 1, dims=(0, 1)):
    """``input`` rotated ``k`` quarter turns from ``dims[0]`` towards ``dims[1]``."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.dim()}")
    a, b = _dims(dims, input.dim())
    if a == b:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {a} and dim1 = {b}"
        )
    return dispatch(_rot90, (input,), (("k", k % 4), ("axes", (a, b))))


def fliplr(input):
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input):
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


def _tensors(tensors) -> tuple:
    """``f(a, b)`` or ``f([a, b])``."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0])
    return tuple(tensors)


def _atleast(ndim: int, tensors) -> list:
    outs = []
    for t in tensors:
        if t.dim() == 0:  # torch reshapes a scalar (ViewBackward0), unsqueezes the rest
            t = reshape(t, (1,) * ndim)
        elif t.dim() == 1 and ndim >= 2:
            t = unsqueeze(t, 0)
            t = unsqueeze(t, -1) if ndim == 3 else t
        elif t.dim() == 2 and ndim == 3:
            t = unsqueeze(t, -1)
        outs.append(t)
    return outs


def _one_or_tuple(outs: list, tensors: tuple):
    return (
        outs[0] if len(tensors) == 1 and not isinstance(tensors[0], (list, tuple)) else tuple(outs)
    )


def atleast_1d(*tensors):
    """Each tensor with at least one dimension."""
    return _one_or_tuple(_atleast(1, _tensors(tensors)), tensors)


def atleast_2d(*tensors):
    """Each tensor with at least two dimensions (a vector becomes a row)."""
    return _one_or_tuple(_atleast(2, _tensors(tensors)), tensors)


def atleast_3d(*tensors):
    """Each tensor with at least three dimensions (a vector becomes (1, n, 1))."""
    return _one_or_tuple(_atleast(3, _tensors(tensors)), tensors)


def column_stack(tensors):
    """Vectors and scalars as columns, joined with the matrices along dim 1."""
    return hstack([reshape(t, (t.numel(), 1)) if t.dim() <= 1 else t for t in tensors])


row_stack = vstack


def dstack(tensors):
    return cat(_atleast(3, tensors), 2)


def split_with_sizes(input, split_sizes, dim: int = 0):
    return split(input, list(split_sizes), dim)


def _split_at(input, dim: int, sections, name: str, min_dim: int):
    """torch's hsplit/vsplit/dsplit: ``tensor_split`` by a count or at indices (slices)."""
    if input.dim() < min_dim:
        raise RuntimeError(
            f"torch.{name} requires a tensor with at least {min_dim} dimension, but got a tensor "
            f"with {input.dim()} dimensions!"
        )
    n = input.shape[dim]
    if isinstance(sections, int):
        if sections == 0 or n % sections:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                f"dimension {n} is not divisible by the split_size {sections}!"
            )
        sections = range(n // sections, n, n // sections)
    return _slices(input, dim, sections)


def hsplit(input, indices_or_sections):
    return _split_at(input, 0 if input.dim() == 1 else 1, indices_or_sections, "hsplit", 1)


def vsplit(input, indices_or_sections):
    return _split_at(input, 0, indices_or_sections, "vsplit", 2)


def dsplit(input, indices_or_sections):
    return _split_at(input, 2, indices_or_sections, "dsplit", 3)


def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim``, after joining ``prepend`` and ``append``."""
    from tape.ops.elementwise import logical_xor, sub

    (axis,) = _dims(dim, input.dim()) or (0,)
    parts = [p for p in (prepend, input, append) if p is not None]
    for p in parts:
        if p.dim() != input.dim():
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    x = cat(parts, axis) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[axis]
        index = (slice(None),) * axis
        later, earlier = x[(*index, slice(1, size))], x[(*index, slice(0, size - 1))]
        x = logical_xor(later, earlier) if x.dtype.name == "bool" else sub(later, earlier)
    return x


_block_diag = register(
    "block_diag",
    lambda *xs: jax.scipy.linalg.block_diag(*xs),
    "BlockDiagBackward0",
    SAME,
    _NO_SAVE,
)


def block_diag(*tensors):
    """The tensors (scalars and vectors as one row) along the diagonal of a zero matrix."""
    for i, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(
                "torch.block_diag: Input tensors must have 2 or fewer dimensions. Input "
                f"{i} has {t.dim()} dimensions"
            )
    if not tensors:
        from tape import creation

        return creation.empty(1, 0)
    return dispatch(_block_diag, tuple(_atleast(2, tensors)))


def cartesian_prod(*tensors):
    """Every combination of one element from each vector, one per row."""
    if len(tensors) == 1:
        return tensors[0]
    return stack([flatten(g) for g in meshgrid(*tensors, indexing="ij")], 1)


def combinations(input, r: int = 2, with_replacement: bool = False):
    """The length-``r`` combinations of the vector's elements, one per row."""
    import itertools

    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    if r == 0 or not len(rows):
        return input.new_empty((0,) if r == 0 else (0, r))
    from tape.tensor import Tensor

    return stack([input[Tensor._wrap(np.ascontiguousarray(c))] for c in rows.T], 1)
