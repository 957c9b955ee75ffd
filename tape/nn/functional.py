"""``tape.nn.functional``: layers, activations and losses as registry ops.

Each public function validates its arguments the way torch does (same exception types, messages
that name the shapes), then dispatches ONE registry entry whose backward node carries torch's
``grad_fn`` name; where torch composes a function of other ops (``rms_norm``, most margin
losses), tape composes its own ops the same way, so the graph has torch's nodes. Users see
NCHW / OIHW layouts; convolutions and pooling pick per shape the XLA CPU lowering that avoids
its slow paths (see DESIGN.md §3).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from tape import _device, _dtype, creation
from tape._dispatch import _raise_broadcast_error
from tape.autograd import grad_mode
from tape.nn import _conv_lowering as _lowering
from tape.nn._batch_norm import batch_norm_train
from tape.nn._grid_sample import affine_grid, grid_sample  # noqa: F401  (spatial transformers)
from tape.ops import elementwise, linalg
from tape.ops.inplace import INPLACE
from tape.ops.inplace import inplace as _inplace_form
from tape.ops.reduction import pdist  # noqa: F401  (torch.nn.functional.pdist)
from tape.ops.registry import FLOAT, NONE, SAME, dispatch, register

sigmoid = elementwise.sigmoid
tanh = elementwise.tanh

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, reduction: str):
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """torch's deprecated ``size_average`` / ``reduce`` arguments, folded into ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _pair(v, n: int = 2) -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return tuple(int(v[0]) for _ in range(n))
        return tuple(int(x) for x in v)
    return (int(v),) * n


_TYPE_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


def _type_name(t) -> str:
    return _TYPE_NAMES.get(t.dtype.name, t.dtype.name)


def _size_str(t) -> str:
    return str(list(t.shape))


# ================================================================================================
# linear
# ================================================================================================
def _linear_fwd(x, w, b):
    y = jnp.matmul(x, w.T)
    return y if b is None else y + b


# torch's linear ends in addmm (2-D with bias), mm (2-D), or a view of a folded matmul (N-D).
_linear_ops = {
    (2, True): register("linear", _linear_fwd, "AddmmBackward0", SAME, remat=False),
    (2, False): register("linear_nobias", _linear_fwd, "MmBackward0", SAME, remat=False),
    ("nd", True): register("linear_nd", _linear_fwd, "ViewBackward0", SAME, remat=False),
    ("nd", False): register("linear_nd_nobias", _linear_fwd, "UnsafeViewBackward0", SAME, False),
}
_linear_ops[(1, True)] = _linear_ops[("nd", True)]
_linear_1d_nobias = register("linear_1d_nobias", _linear_fwd, "SqueezeBackward4", SAME, remat=False)
_linear_ops[(1, False)] = _linear_1d_nobias


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``."""
    in_shape, w_shape = tuple(input.shape), tuple(weight.shape)
    if input.dim() == 0:
        raise RuntimeError(
            "both arguments to linear need to be at least 1D, but they are 0D and 2D"
        )
    k = in_shape[-1]
    if weight.dim() != 2 or w_shape[1] != k:
        rows = math.prod(in_shape[:-1]) if input.dim() > 1 else 1
        wt = f"{w_shape[1]}x{w_shape[0]}" if weight.dim() == 2 else "x".join(map(str, w_shape))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and {wt})")
    if input.dtype != weight.dtype:  # torch multiplies matrices of one dtype only
        if bias is None:
            linalg.check_same_dtype(input, weight)
        raise RuntimeError(
            "mat1 and mat2 must have the same dtype, but got "
            f"{_dtype.scalar_type_name(input.dtype)} and {_dtype.scalar_type_name(weight.dtype)}"
        )
    nd = input.dim() if input.dim() <= 2 else "nd"
    return dispatch(_linear_ops[(nd, bias is not None)], (input, weight, bias))


_bilinear_core = register(
    "bilinear",
    lambda x1, x2, w: jnp.einsum("ni,oij,nj->no", x1, w, x2),
    "TrilinearBackward0",
    SAME,
    remat=False,
)


def bilinear(input1, input2, weight, bias=None):
    """``input1^T weight[o] input2 + bias[o]`` for each output ``o``, over any leading dims."""
    lead = tuple(input1.shape[:-1])
    if lead != tuple(input2.shape[:-1]):
        k = next(k for k, (a, b) in enumerate(zip(lead, input2.shape[:-1], strict=False)) if a != b)
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match at dim {k}: got "
            f"{lead[k]} and {input2.shape[k]}"
        )
    for what, size, want in (
        ("input1", input1.shape[-1], weight.shape[1]),
        ("input2", input2.shape[-1], weight.shape[2]),
        ("bias", None if bias is None else bias.shape[0], weight.shape[0]),
    ):
        if size is not None and size != want:
            raise RuntimeError(
                f"bilinear(): {what} size does not match weight size: got {size} but expected "
                f"{want}"
            )
    x1, x2 = input1.reshape(-1, input1.shape[-1]), input2.reshape(-1, input2.shape[-1])
    out = dispatch(_bilinear_core, (x1, x2, weight)).view(*lead, weight.shape[0])
    return out if bias is None else out + bias


def channel_shuffle(input, groups):
    """The channels (dim 1) of each group interleaved: (N, g * k, *) -> k groups of g."""
    if input.dim() <= 2:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes "
            f"{_size_str(input)}"
        )
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    c = input.shape[1]
    if c % groups:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups."
        )
    return dispatch(_channel_shuffle, (input,), (("groups", int(groups)),))


_channel_shuffle = register(
    "channel_shuffle",
    lambda x, groups: (
        x.reshape(x.shape[0], groups, x.shape[1] // groups, *x.shape[2:])
        .swapaxes(1, 2)
        .reshape(x.shape)
    ),
    "ChannelShuffleBackward0",
    NONE,
    "none",
)
native_channel_shuffle = channel_shuffle


# ================================================================================================
# convolution
# ================================================================================================
# torch's layouts by spatial dims: (input and output, weight)
_CONV_LAYOUTS = {1: ("NCH", "OIH"), 2: ("NCHW", "OIHW"), 3: ("NCDHW", "OIDHW")}


def _lax_conv(x, w, stride, pads, dilation, groups, lhs_dilation=None):
    """A convolution in torch's layouts (NC + spatial, OI + spatial) by XLA (``lhs_dilation``:
    a transposed convolution's stride)."""
    act, kernel = _CONV_LAYOUTS[x.ndim - 2]
    return lax.conv_general_dilated(
        x,
        w,
        window_strides=stride,
        padding=pads,
        lhs_dilation=lhs_dilation,
        rhs_dilation=dilation,
        dimension_numbers=(act, kernel, act),
        feature_group_count=groups,
    )


def _add_channel_bias(y, b):
    return y if b is None else y + b.reshape((1, -1) + (1,) * (y.ndim - 2))


def _conv3d_fwd(x, w, b, stride, pads, dilation, groups):
    return _add_channel_bias(_lax_conv(x, w, stride, pads, dilation, groups), b)


_conv3d = register("conv3d", _conv3d_fwd, "ConvolutionBackward0", SAME, remat=False)


def _conv2d_fwd(x, w, b, stride, pads, dilation, groups):
    y = _lowering.conv2d(x, w, stride, pads, dilation, groups, layout="NCHW")
    return _add_channel_bias(y, b)


_conv2d = register("conv2d", _conv2d_fwd, "ConvolutionBackward0", SAME, remat=False)


def _conv1d_fwd(x, w, b, stride, pads, dilation, groups):
    y = _conv2d_fwd(
        x[:, :, None, :],
        w[:, :, None, :],
        b,
        (1, stride[0]),
        ((0, 0), pads[0]),
        (1, dilation[0]),
        groups,
    )
    return y[:, :, 0, :]


_conv1d = register("conv1d", _conv1d_fwd, "ConvolutionBackward0", SAME, remat=False)


def _conv_padding(padding, kernel, stride, dilation, n: int) -> tuple:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            out = []
            for k, d in zip(kernel, dilation, strict=True):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return tuple(out)
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    return tuple((p, p) for p in _pair(padding, n))


def _check_conv(name: str, input, weight, groups: int, n: int, transposed: bool = False) -> bool:
    """torch's input checks; returns whether the input is unbatched."""
    dim = input.dim()
    if dim not in (n + 1, n + 2):
        raise RuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got input "
            f"of size: {_size_str(input)}"
        )
    if weight.dim() != n + 2:
        raise RuntimeError(
            "weight should have at least three dimensions"
            if weight.dim() < 3
            else f"Expected {n + 2}-dimensional weight for {n + 2}-dimensional input "
            f"{list(input.shape)}, but got {weight.dim()}-dimensional weight of size "
            f"{list(weight.shape)} instead"
        )
    unbatched = dim == n + 1
    c = input.shape[0 if unbatched else 1]
    shape = [1, *input.shape] if unbatched else list(input.shape)
    if transposed:
        if c != weight.shape[0]:
            raise RuntimeError(
                f"Given transposed=1, weight of size {list(weight.shape)}, expected input{shape} "
                f"to have {weight.shape[0]} channels, but got {c} channels instead"
            )
    elif c != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input{shape} "
            f"to have {weight.shape[1] * groups} channels, but got {c} channels instead"
        )
    return unbatched


def _check_spatial(input, kernel, pads, dilation, unbatched):
    spatial = tuple(input.shape)[1 if unbatched else 2 :]
    for size, k, (lo, hi), d in zip(spatial, kernel, pads, dilation, strict=True):
        if size + lo + hi < d * (k - 1) + 1:
            padded = [s + a + b for s, (a, b) in zip(spatial, pads, strict=True)]
            eff = [d_ * (k_ - 1) + 1 for k_, d_ in zip(kernel, dilation, strict=True)]
            raise RuntimeError(
                f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                f"Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                "actual input size"
            )


def _unsqueeze0(t):
    return t.unsqueeze(0)


def _convnd(name, op, n, input, weight, bias, stride, padding, dilation, groups):
    """conv1d / conv2d (``n`` spatial dims): torch's checks, then ``op``."""
    unbatched = _check_conv(name, input, weight, groups, n)
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(
            f"Input type ({linalg.cpp_type_name(input.dtype)}) and bias type "
            f"({linalg.cpp_type_name(bias.dtype)}) should be the same"
        )
    if weight.dtype != input.dtype:
        raise RuntimeError(
            f"expected scalar type {_dtype.scalar_type_name(input.dtype)} but found "
            f"{_dtype.scalar_type_name(weight.dtype)}"
        )
    stride, dilation = _pair(stride, n), _pair(dilation, n)
    pads = _conv_padding(padding, tuple(weight.shape[2:]), stride, dilation, n)
    _check_spatial(input, tuple(weight.shape[2:]), pads, dilation, unbatched)
    x = _unsqueeze0(input) if unbatched else input
    static = (("stride", stride), ("pads", pads), ("dilation", dilation), ("groups", int(groups)))
    out = dispatch(op, (x, weight, bias), static)
    return out.squeeze(0) if unbatched else out


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd("conv2d", _conv2d, 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd("conv1d", _conv1d, 1, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd("conv3d", _conv3d, 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose_fwd(x, w, b, stride, padding, output_padding, dilation, groups):
    """A transposed convolution over the spatial dims of ``w`` (in, out/g, *kernel): the
    convolution of the stride-dilated input with the flipped, transposed kernel."""
    cin, cout_g, *kernel = w.shape
    n = len(kernel)
    # (in, out/g, *k) -> (out, in/g, *k), spatially flipped.
    wt = w.reshape(groups, cin // groups, cout_g, *kernel).swapaxes(1, 2)
    wt = wt.reshape(groups * cout_g, cin // groups, *kernel)[(..., *[slice(None, None, -1)] * n)]
    pads = tuple(
        (d * (k - 1) - p, d * (k - 1) - p + op)
        for k, p, op, d in zip(kernel, padding, output_padding, dilation, strict=True)
    )
    y = _lax_conv(x, wt, (1,) * n, pads, dilation, groups, lhs_dilation=stride)
    return _add_channel_bias(y, b)


_conv_transpose_ops = {
    n: register(
        f"conv_transpose{n}d", _conv_transpose_fwd, "ConvolutionBackward0", SAME, remat=False
    )
    for n in (1, 2, 3)
}


def _conv_transpose(n, input, weight, bias, stride, padding, output_padding, groups, dilation):
    name = f"conv_transpose{n}d"
    unbatched = _check_conv(name, input, weight, groups, n, transposed=True)
    x = _unsqueeze0(input) if unbatched else input
    static = (
        ("stride", _pair(stride, n)),
        ("padding", _pair(padding, n)),
        ("output_padding", _pair(output_padding, n)),
        ("dilation", _pair(dilation, n)),
        ("groups", int(groups)),
    )
    out = dispatch(_conv_transpose_ops[n], (x, weight, bias), static)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    return _conv_transpose(
        1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    return _conv_transpose(
        2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    return _conv_transpose(
        3, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


# ================================================================================================
# pooling
# ================================================================================================
def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    eff = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * p - eff) // s) + 1
        if (out - 1) * s >= size + p:
            out -= 1
    else:
        out = (size + 2 * p - eff) // s + 1
    return out


def _pool_pads(h, w, kernel, stride, padding, dilation, out_hw):
    """Low/high padding so that every window of the output lies inside the padded input."""
    pads = []
    for size, k, s, p, d, o in zip((h, w), kernel, stride, padding, dilation, out_hw, strict=True):
        need = (o - 1) * s + d * (k - 1) + 1
        pads.append((p, max(need - size - p, 0)))
    return pads


def _max_pool2d_fwd(x, kernel, stride, padding, dilation, out_hw, with_indices):
    """A max over shifted strided slices (``window_max``): the gradient goes to the element
    torch's does, with no ``select_and_scatter``."""
    n, c, h, w = x.shape
    pads = _pool_pads(h, w, kernel, stride, padding, dilation, out_hw)
    xp = jnp.pad(x, ((0, 0), (0, 0), *pads), constant_values=-jnp.inf)
    if not with_indices:
        return _lowering.window_max(xp, kernel, stride, dilation, out_hw, (2, 3))
    best, ki, kj = _lowering.window_max(xp, kernel, stride, dilation, out_hw, (2, 3), True)
    oh, ow = out_hw
    rows = jnp.arange(oh)[:, None] * stride[0] - padding[0] + ki * dilation[0]
    cols = jnp.arange(ow)[None, :] * stride[1] - padding[1] + kj * dilation[1]
    return best, (rows * w + cols).astype(jnp.int64)


_max_pool2d = register(
    "max_pool2d", _max_pool2d_fwd, "MaxPool2DWithIndicesBackward0", NONE, saves="both"
)


def _pool_args(input, kernel_size, stride, padding, dilation, ceil_mode, name):
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"non-empty 3D or 4D (batch mode) tensor expected for input, but got: "
            f"{_size_str(input)}"
            if name == "max_pool2d"
            else f"Expected 3D or 4D (batch mode) tensor for input, but got: {_size_str(input)}"
        )
    kernel = _pair(kernel_size)
    stride = kernel if stride is None or stride == [] or stride == () else _pair(stride)
    padding, dilation = _pair(padding), _pair(dilation)
    for p, k in zip(padding, kernel, strict=True):
        if p > k // 2:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={dilation[0]}"
                if name == "max_pool2d"
                else "pad should be at most half of kernel size, but got pad="
                f"{p} and kernel_size={k}"
            )
    out_hw = _pool_out_sizes(input, kernel, stride, padding, dilation, ceil_mode)
    return kernel, stride, padding, dilation, out_hw


def _pool_out_sizes(input, kernel, stride, padding, dilation, ceil_mode) -> tuple:
    """A pooling's output size over the last ``len(kernel)`` axes; torch's error when one is
    empty."""
    sizes = tuple(input.shape[-len(kernel) :])
    out = tuple(
        _pool_out(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation, strict=True)
    )
    if min(out) <= 0:
        c = input.shape[-len(kernel) - 1]
        raise RuntimeError(
            f"Given input size: ({c}x{'x'.join(map(str, sizes))}). Calculated output size: "
            f"({c}x{'x'.join(map(str, out))}). Output size is too small"
        )
    return out


def max_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    kernel, stride, padding, dilation, out_hw = _pool_args(
        input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d"
    )
    unbatched = input.dim() == 3
    x = _unsqueeze0(input) if unbatched else input
    static = (
        ("kernel", kernel),
        ("stride", stride),
        ("padding", padding),
        ("dilation", dilation),
        ("out_hw", out_hw),
        ("with_indices", bool(return_indices)),
    )
    out = dispatch(_max_pool2d, (x,), static)
    if unbatched:
        out = tuple(o.squeeze(0) for o in out) if return_indices else out.squeeze(0)
    return out


max_pool2d_with_indices = max_pool2d


def _avg_pool2d_fwd(x, kernel, stride, padding, out_hw, divisor):
    n, c, h, w = x.shape
    pads = _pool_pads(h, w, kernel, stride, padding, (1, 1), out_hw)
    xp = jnp.pad(x, ((0, 0), (0, 0), *pads))
    total = None
    for v in _lowering.windows(xp, kernel, stride, (1, 1), out_hw, (2, 3)):
        total = v if total is None else total + v
    return total / jnp.asarray(np.asarray(divisor), x.dtype)


_avg_pool2d = register("avg_pool2d", _avg_pool2d_fwd, "AvgPool2DBackward0", NONE, saves="none")


def _avg_divisor(sizes, kernel, stride, padding, out, count_include_pad, divisor_override):
    """Each output position's divisor, as nested tuples over the spatial axes: the window's
    size, clipped to the padded input (``count_include_pad``) or to the input."""
    if divisor_override:
        return _nested_tuple(np.full((1,) * len(sizes), float(divisor_override)).tolist())
    table = np.ones(())
    for size, k, s, p, o in zip(sizes, kernel, stride, padding, out, strict=True):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        table = np.multiply.outer(table, end - start)
    return _nested_tuple(table.astype(float).tolist())


def _nested_tuple(values):
    return tuple(_nested_tuple(v) for v in values) if isinstance(values, list) else values


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    kernel, stride, padding, _, out_hw = _pool_args(
        input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d"
    )
    unbatched = input.dim() == 3
    x = _unsqueeze0(input) if unbatched else input
    divisor = _avg_divisor(
        tuple(input.shape[-2:]),
        kernel,
        stride,
        padding,
        out_hw,
        count_include_pad,
        divisor_override,
    )
    static = (
        ("kernel", kernel),
        ("stride", stride),
        ("padding", padding),
        ("out_hw", out_hw),
        ("divisor", divisor),
    )
    out = dispatch(_avg_pool2d, (x,), static)
    return out.squeeze(0) if unbatched else out


def _pool3d_slices(x, kernel, stride, padding, dilation, out, fill):
    """(offset, strided slice) for each window offset of a pooling over the last three axes
    of ``x``, in row-major order, with ``x`` padded with ``fill`` so that every window fits."""
    lead = x.ndim - 3
    pads = [
        (p, max((o - 1) * s + d * (k - 1) + 1 - size - p, 0))
        for size, k, s, p, d, o in zip(
            x.shape[lead:], kernel, stride, padding, dilation, out, strict=True
        )
    ]
    xp = jnp.pad(x, ((0, 0),) * lead + tuple(pads), constant_values=fill)
    for offset in itertools.product(*map(range, kernel)):
        start = [i * d for i, d in zip(offset, dilation, strict=True)]
        limit = [b + s * (o - 1) + 1 for b, s, o in zip(start, stride, out, strict=True)]
        start, limit = (0,) * lead + tuple(start), xp.shape[:lead] + tuple(limit)
        yield offset, lax.slice(xp, start, limit, (1,) * lead + tuple(stride))


def _max_pool3d_fwd(x, kernel, stride, padding, dilation, out, with_indices):
    """torch's max over each window: its first maximum in row-major window order, or its last
    NaN; with the flat input index of each, for ``return_indices``."""
    best = where = None
    grid = np.meshgrid(
        *(np.arange(o) * s - p for o, s, p in zip(out, stride, padding, strict=True)), indexing="ij"
    )
    for offset, v in _pool3d_slices(x, kernel, stride, padding, dilation, out, -jnp.inf):
        at = [g + i * d for g, i, d in zip(grid, offset, dilation, strict=True)]
        flat = jnp.asarray((at[0] * x.shape[-2] + at[1]) * x.shape[-1] + at[2], jnp.int64)
        if best is None:
            best, where = v, jnp.broadcast_to(flat, v.shape)
            continue
        take = (v > best) | jnp.isnan(v)
        best = jnp.where(take, v, best)
        where = jnp.where(take, flat, where)
    return (best, where) if with_indices else best


_max_pool3d = register(
    "max_pool3d", _max_pool3d_fwd, "MaxPool3DWithIndicesBackward0", NONE, saves="both"
)


def _avg_pool3d_fwd(x, kernel, stride, padding, out, divisor):
    total = None
    for _, v in _pool3d_slices(x, kernel, stride, padding, (1, 1, 1), out, 0):
        total = v if total is None else total + v
    return total / jnp.asarray(np.asarray(divisor), x.dtype)


_avg_pool3d = register("avg_pool3d", _avg_pool3d_fwd, "AvgPool3DBackward0", NONE, saves="none")


def _pool3d_args(input, kernel_size, stride, padding, dilation, ceil_mode, is_max: bool):
    """torch's checks of a 3-D pooling's arguments; returns them as triples, and the output
    size."""
    if input.dim() not in (4, 5) or input.numel() == 0:
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    kernel = _pair(kernel_size, 3)
    stride = kernel if stride is None or stride == [] or stride == () else _pair(stride, 3)
    padding, dilation = _pair(padding, 3), _pair(dilation, 3)
    for p, k, d in zip(padding, kernel, dilation, strict=True):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )
    sizes = tuple(input.shape[-3:])
    if not is_max and any(s + 2 * p < k for s, p, k in zip(sizes, padding, kernel, strict=True)):
        raise RuntimeError(
            f"input image (T: {sizes[0]} H: {sizes[1]} W: {sizes[2]}) smaller than kernel size "
            f"(kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]})"
        )
    out = _pool_out_sizes(input, kernel, stride, padding, dilation, ceil_mode)
    return kernel, stride, padding, dilation, out


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    kernel, stride, padding, dilation, out = _pool3d_args(
        input, kernel_size, stride, padding, dilation, ceil_mode, True
    )
    static = (
        ("kernel", kernel),
        ("stride", stride),
        ("padding", padding),
        ("dilation", dilation),
        ("out", out),
        ("with_indices", bool(return_indices)),
    )
    return dispatch(_max_pool3d, (input,), static)


max_pool3d_with_indices = max_pool3d


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    kernel, stride, padding, _, out = _pool3d_args(
        input, kernel_size, stride, padding, 1, ceil_mode, False
    )
    divisor = _avg_divisor(
        tuple(input.shape[-3:]), kernel, stride, padding, out, count_include_pad, divisor_override
    )
    static = (
        ("kernel", kernel),
        ("stride", stride),
        ("padding", padding),
        ("out", out),
        ("divisor", divisor),
    )
    return dispatch(_avg_pool3d, (input,), static)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _scatter_rows(x, idx, size: int):
    """(rows, size) zeros with row i's ``x`` written at ``idx[i]``. Its VJP gathers the
    cotangent at every index, a repeated one for each of its writes, as torch's max_unpool
    backward does (JAX's own VJP of a scatter gives it to one write only)."""
    rows = jnp.arange(x.shape[0])[:, None]
    return jnp.zeros((x.shape[0], size), x.dtype).at[rows, idx].set(x)


def _scatter_rows_fwd(x, idx, size: int):
    return _scatter_rows(x, idx, size), idx


def _scatter_rows_bwd(size: int, idx, g):
    return jnp.take_along_axis(g, idx, axis=1), None


_scatter_rows.defvjp(_scatter_rows_fwd, _scatter_rows_bwd)


def _max_unpool_fwd(x, idx, out):
    """Each plane of ``x`` (the last ``len(out)`` axes) written at its flat ``idx`` into a
    zero plane of shape ``out``."""
    n = len(out)
    lead, plane = x.shape[:-n], math.prod(x.shape[-n:])
    y = _scatter_rows(x.reshape(-1, plane), idx.reshape(-1, plane), math.prod(out))
    return y.reshape(*lead, *out)


_max_unpool_ops = {
    n: register(f"max_unpool{n}d", _max_unpool_fwd, f"MaxUnpool{n}DBackward0", NONE) for n in (2, 3)
}


def _unpool_output_size(input, kernel_size, stride, padding, output_size, n: int) -> tuple:
    """torch's output size of an ``n``-d max_unpool: the size the pooling read, or
    ``output_size`` (its last ``n`` entries), which must lie within a stride of it."""
    kernel, padding = _pair(kernel_size, n), _pair(padding, n)
    stride = kernel if stride is None else _pair(stride, n)
    default = [(input.shape[d - n] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(n)]
    size = default
    if output_size is not None:
        if len(output_size) == n + 2:
            output_size = output_size[2:]
        if len(output_size) != n:
            raise ValueError(
                f"output_size should be a sequence containing {n} or {n + 2} elements, but it "
                f"has a length of '{len(output_size)}'"
            )
        for d in range(n):
            low, high = default[d] - stride[d], default[d] + stride[d]
            if not low < output_size[d] < high:
                raise ValueError(
                    f'invalid output_size "{output_size}" (dim {d} must be between {low} and '
                    f"{high})"
                )
        size = output_size
    for d, s in enumerate(size):
        if s < 0:
            raise ValueError(
                "max_unpooling: output_size must contain non-negative spatial dimensions, but "
                f"got output_size[{d}]={s}"
            )
    return tuple(int(s) for s in size)


def _max_unpool_nd(input, indices, out: tuple, n: int):
    """ATen's max_unpool2d/3d: its checks, then one op."""
    name = f"max_unpooling{n}d"
    if indices.dtype.name != "int64":
        got = f" but got: {_type_name(indices)}" if n == 2 else ""
        raise RuntimeError(f"elements in indices should be type int64{got}")
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(
            f"Input to {name} should be a {n + 1}d or {n + 2}d Tensor, but got a tensor with "
            f"{input.dim()} dimensions."
        )
    if tuple(input.shape) != tuple(indices.shape):
        raise RuntimeError(
            f"Expected shape of indices to be same as that of the input tensor "
            f"({_size_str(input)}) but got indices tensor with shape: {_size_str(indices)}"
        )
    empty = [d for d in range(1, input.dim()) if input.shape[d] == 0]
    if empty:
        raise RuntimeError(
            f"{name}_forward_out_cpu(): Expected input to have non-zero size for non-batch "
            f"dimensions, but got {_size_str(input)} with dimension {empty[0]} being empty."
        )
    if not input.dtype.is_floating_point:
        raise _dtype.kernel_missing(f"max_unpool{n}d", input.dtype)
    arr = _checkable(indices)
    if arr is not None:
        bad = arr[(arr < 0) | (arr >= math.prod(out))]
        if bad.size:  # torch's loop reports the last one it meets
            raise RuntimeError(
                f"Found an invalid max index: {bad.flat[-1]} (output volumes are of size "
                f"{'x'.join(map(str, out))})"
            )
    return dispatch(_max_unpool_ops[n], (input, indices), (("out", out),))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool1d: each value written where ``indices`` says, zeros elsewhere
    (torch's max_unpool2d over a width-1 view)."""
    out = _unpool_output_size(input, kernel_size, stride, padding, output_size, 1)
    return _max_unpool_nd(input.unsqueeze(-1), indices.unsqueeze(-1), (*out, 1), 2).squeeze(-1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool2d: each value written where ``indices`` says, zeros elsewhere."""
    out = _unpool_output_size(input, kernel_size, stride, padding, output_size, 2)
    return _max_unpool_nd(input, indices, out, 2)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool3d: each value written where ``indices`` says, zeros elsewhere."""
    out = _unpool_output_size(input, kernel_size, stride, padding, output_size, 3)
    return _max_unpool_nd(input, indices, out, 3)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The ``norm_type``-norm of each window: ``(sum x**p) ** (1/p)``, computed as torch does
    from an average pool (infinite ``norm_type``: a max pool of ``|x|``)."""
    kh, kw = _pair(kernel_size)
    return _lp_pool(
        avg_pool2d, max_pool2d, kh * kw, input, norm_type, kernel_size, stride, ceil_mode
    )


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(
        avg_pool1d, max_pool1d, kernel_size, input, norm_type, kernel_size, stride, ceil_mode
    )


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    kd, kh, kw = _pair(kernel_size, 3)
    return _lp_pool(
        avg_pool3d, max_pool3d, kd * kh * kw, input, norm_type, kernel_size, stride, ceil_mode
    )


def _lp_pool(avg_pool, max_pool, window: int, input, p, kernel_size, stride, ceil_mode):
    if p == math.inf:
        return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if p == -math.inf:
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    stride = kernel_size if stride is None else stride
    out = avg_pool(input.pow(p), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * relu(out.abs())).mul(window).pow(1.0 / p)


def _adaptive_matrix(size: int, out: int) -> np.ndarray:
    m = np.zeros((out, size), np.float64)
    for i in range(out):
        start = (i * size) // out
        end = -((-(i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _adaptive_avg_fwd(x, out_hw):
    """torch's adaptive average over the last ``len(out_hw)`` axes: equal windows as a mean of
    a reshape, otherwise each axis through its averaging matrix."""
    n = len(out_hw)
    sizes = x.shape[-n:]
    if 0 in out_hw:
        return jnp.zeros(x.shape[:-n] + tuple(out_hw), x.dtype)
    if all(s % o == 0 for s, o in zip(sizes, out_hw, strict=True)):
        split = tuple(v for s, o in zip(sizes, out_hw, strict=True) for v in (o, s // o))
        return jnp.mean(x.reshape(x.shape[:-n] + split), axis=tuple(range(-2 * n + 1, 0, 2)))
    for axis, (s, o) in enumerate(zip(sizes, out_hw, strict=True), start=x.ndim - n):
        m = jnp.asarray(_adaptive_matrix(s, o), x.dtype)
        x = jnp.moveaxis(jnp.tensordot(x, m, axes=([axis], [1])), -1, axis)
    return x


_adaptive_avg = register(
    "adaptive_avg_pool2d", _adaptive_avg_fwd, "AdaptiveAvgPool2DBackward0", NONE, saves="none"
)
_adaptive_avg_3d = register(
    "adaptive_avg_pool3d", _adaptive_avg_fwd, "AdaptiveAvgPool3DBackward0", NONE, saves="none"
)
_adaptive_avg_1x1 = register(
    "adaptive_avg_pool2d_1x1",
    lambda x: jnp.mean(x, axis=(-2, -1), keepdims=True),
    "MeanBackward1",
    NONE,
    saves="none",
)


def _adaptive_size(input, output_size, n: int = 2) -> tuple:
    """``output_size`` as ``n`` sizes ((h, w) by default); a None keeps the input's size."""
    if isinstance(output_size, (tuple, list)):
        return tuple(
            s if o is None else int(o) for o, s in zip(output_size, input.shape[-n:], strict=True)
        )
    return _pair(output_size, n)


def _check_adaptive_avg(input, name: str, kernel: str, first: int) -> None:
    """torch's checks of an adaptive average pool that is not a plain mean: no empty dimension
    from ``first`` on (the 2-D pool skips the channels, the 3-D one does not), then a floating
    dtype."""
    for i in range(first, input.dim()):
        if input.shape[i] <= 0:
            raise RuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, but "
                f"input has sizes {list(input.shape)} with dimension {i} being empty"
            )
    if not input.dtype.is_floating_point:
        raise _dtype.kernel_missing(kernel, input.dtype)


def adaptive_avg_pool2d(input, output_size):
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(input.shape)}"
        )
    out = _adaptive_size(input, output_size)
    if out == (1, 1):  # torch takes a mean here, with mean's checks
        if not input.dtype.is_floating_point:
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {_dtype.scalar_type_name(input.dtype)}"
            )
        return dispatch(_adaptive_avg_1x1, (input,))
    _check_adaptive_avg(input, "adaptive_avg_pool2d", "adaptive_avg_pool2d", input.dim() - 2)
    return dispatch(_adaptive_avg, (input,), (("out_hw", out),))


def adaptive_avg_pool3d(input, output_size):
    if input.dim() not in (4, 5):
        raise RuntimeError(
            f"adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got {list(input.shape)}"
        )
    out = _adaptive_size(input, output_size, 3)
    if out == (1, 1, 1) and not input.dtype.is_floating_point:
        raise RuntimeError(  # torch takes a mean here
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_dtype.scalar_type_name(input.dtype)}"
        )
    if out != (1, 1, 1):
        _check_adaptive_avg(input, "adaptive_avg_pool3d", "adaptive_avg_pool3d_cpu", 1)
    return dispatch(_adaptive_avg_3d, (input,), (("out_hw", out),))


# ================================================================================================
# normalization
# ================================================================================================
def _bn_axes(ndim: int) -> tuple:
    return (0, *range(2, ndim))


def _bn_shape(ndim: int, c: int) -> tuple:
    return (1, c) + (1,) * (ndim - 2)


def _bn_train_fwd(x, w, b, eps):
    return batch_norm_train(x, w, b, eps, 1)


def _bn_eval_fwd(x, rm, rv, w, b, eps):
    shape = _bn_shape(x.ndim, x.shape[1])
    out = (x - rm.reshape(shape)) * lax.rsqrt(rv.reshape(shape) + eps)
    if w is not None:
        out = out * w.reshape(shape)
    if b is not None:
        out = out + b.reshape(shape)
    return out


_bn_train = register("batch_norm", _bn_train_fwd, "NativeBatchNormBackward0", SAME, remat=False)
_bn_eval = register("batch_norm_eval", _bn_eval_fwd, "NativeBatchNormBackward0", SAME)


def _bn_update(running, stat, momentum, correction):
    return (1 - momentum) * running + momentum * stat.astype(running.dtype) * correction


_bn_update_op = register("batch_norm_update_stats", _bn_update, None, NONE, saves="none")


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    """torch's batch norm: training normalizes with the biased batch variance and updates
    ``running_var`` with the unbiased one; eval uses the running statistics."""
    if input.dim() < 2:
        raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")
    c = input.shape[1]
    for name, t in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ):
        if t is not None and t.numel() != c:
            raise RuntimeError(
                f"{name} should contain {c} elements not {t.numel()}"
                if name.startswith("running")
                else f"{name} should contain {c} elements not {t.numel()}"
            )
    _check_norm_dtypes(input, weight, bias, running_mean, running_var)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        return dispatch(
            _bn_eval, (input, running_mean, running_var, weight, bias), (("eps", float(eps)),)
        )
    n = input.numel() // c
    if n <= 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {input.shape}"
        )
    out, mean, var = dispatch(_bn_train, (input, weight, bias), (("eps", float(eps)),))
    if running_mean is not None or running_var is not None:
        with grad_mode.no_grad():
            m = float(momentum)
            if running_mean is not None:
                new = dispatch(
                    _bn_update_op,
                    (running_mean, mean.detach()),
                    (("momentum", m), ("correction", 1.0)),
                )
                running_mean.copy_(new)
            if running_var is not None:
                new = dispatch(
                    _bn_update_op,
                    (running_var, var.detach()),
                    (("momentum", m), ("correction", n / (n - 1))),
                )
                running_var.copy_(new)
    return out


def _layer_norm_fwd(x, w, b, axes, eps):
    mean = jnp.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    var = jnp.mean(centered * centered, axis=axes, keepdims=True)
    out = centered * lax.rsqrt(var + eps)
    if w is not None:
        out = out * w
    if b is not None:
        out = out + b
    return out


_layer_norm = register("layer_norm", _layer_norm_fwd, "NativeLayerNormBackward0", SAME)


def _normalized_axes(input, normalized_shape, star: str) -> tuple:
    """The trailing axes that ``normalized_shape`` names, checked as torch checks them (its
    message writes the shape after ``star``)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if tuple(input.shape[input.dim() - k :]) != shape or input.dim() < k:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[{star}{', '.join(map(str, shape))}], but got input of size{_size_str(input)}"
        )
    return tuple(range(input.dim() - k, input.dim()))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    axes = _normalized_axes(input, normalized_shape, "*, ")
    _check_norm_dtypes(input, weight, bias)
    return dispatch(_layer_norm, (input, weight, bias), (("axes", axes), ("eps", float(eps))))


def _check_norm_dtypes(input, *params) -> None:
    """torch's CPU norms take parameters of the input's dtype, or float32 ones for a half or
    bfloat16 input; anything else is its "mixed dtype" error (no promotion)."""
    low = input.dtype in (_dtype.float16, _dtype.bfloat16)
    for p in params:
        if p is not None and p.dtype != input.dtype and not (low and p.dtype == _dtype.float32):
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def _group_norm_fwd(x, w, b, groups, eps):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    mean = jnp.mean(g, axis=-1, keepdims=True)
    centered = g - mean
    var = jnp.mean(centered * centered, axis=-1, keepdims=True)
    out = (centered * lax.rsqrt(var + eps)).reshape(x.shape)
    shape = _bn_shape(x.ndim, c)
    if w is not None:
        out = out * w.reshape(shape)
    if b is not None:
        out = out + b.reshape(shape)
    return out


_group_norm = register("group_norm", _group_norm_fwd, "NativeGroupNormBackward0", SAME)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.dim()}"
        )
    c = input.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {input.shape} and num_groups={num_groups}"
        )
    static = (("groups", int(num_groups)), ("eps", float(eps)))
    return dispatch(_group_norm, (input, weight, bias), static)


# ================================================================================================
# dropout, embedding, one_hot
# ================================================================================================
_dropout = register("dropout", lambda x, noise: x * noise, "MulBackward0", NONE)
_alpha_dropout = register(
    "alpha_dropout", lambda x, noise, shift: x * noise + shift, "AddBackward0", NONE
)
# SELU's negative saturation value (scale * alpha), where alpha dropout sends dropped units
_SELU_SATURATION = 1.7580993408473766


def _dropout_mask(input, keep: float, feature: bool) -> np.ndarray:
    """torch's ``bernoulli_(keep)`` mask from the default generator: one draw per element, in
    memory order (as torch fills the mask ``empty_like`` makes for a transpose), or with
    ``feature`` one per (N, C) channel (``make_feature_noise``)."""
    from tape import _random, _views

    gen, dtype = _random.default_generator, input.dtype.np
    if feature:
        if input.dim() < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        return gen.bernoulli(keep, tuple(input.shape[:2]) + (1,) * (input.dim() - 2), dtype)
    order = _views.memory_order(input) or tuple(range(input.dim()))
    shape = tuple(input.shape[d] for d in order)
    return gen.bernoulli(keep, shape, dtype).transpose(np.argsort(order))


def _dropout_impl(input, p, training, inplace, feature: bool = False, alpha: bool = False):
    """torch's CPU ``_dropout_impl``, with its masks for the same ``manual_seed``: kept units
    scaled by ``1 / (1 - p)``, or with ``alpha`` dropped units sent to SELU's saturation value
    and an affine map that keeps the mean and variance."""
    if not training or p == 0 or input.numel() == 0:
        return input
    dtype = input.dtype.np
    # torch's scalar arithmetic on the mask runs in float for the half types
    opmath = np.float64 if dtype == np.float64 else np.float32
    if p == 1:
        values = [np.zeros((), dtype)]
    elif alpha:
        mask = _dropout_mask(input, 1.0 - p, feature)
        a = 1.0 / math.sqrt((_SELU_SATURATION**2 * p + 1) * (1 - p))
        # torch's ``noise.add(-1).mul_(alpha * a).add_(alpha * a * p)``, rounded op by op
        shift = ((mask - 1) * opmath(_SELU_SATURATION * a)).astype(dtype)
        values = [mask * opmath(a), shift + opmath(_SELU_SATURATION * a * p)]
    else:
        values = [_dropout_mask(input, 1.0 - p, feature) / opmath(1.0 - p)]
    args = [creation.tensor(v.astype(dtype), dtype=input.dtype) for v in values]
    op = _alpha_dropout if alpha and p != 1 else _dropout
    if inplace:
        return _inplace_form(lambda x: dispatch(op, (x, *args)))(input)
    return dispatch(op, (input, *args))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes elements with probability ``p`` and scales the rest by ``1 / (1 - p)``; masks
    equal torch's under the same ``manual_seed``."""
    _check_dropout_p(p)
    return _dropout_impl(input, p, training, inplace)


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout for SELU networks: dropped units become SELU's saturation value and the result
    is rescaled to keep zero mean and unit variance; masks equal torch's under the same
    ``manual_seed``."""
    _check_dropout_p(p)
    return _dropout_impl(input, p, training, inplace, alpha=True)


@jax.custom_vjp
def _grad_scaled(x, scale):
    """``x``, whose gradient is multiplied by ``scale``."""
    return x


_grad_scaled.defvjp(lambda x, scale: (x, scale), lambda scale, ct: (ct * scale, None))


def _rows(w, idx, by_freq: bool):
    """The rows of ``w`` that ``idx`` names; with ``by_freq`` (torch's ``scale_grad_by_freq``)
    each one's gradient is divided by how often its index occurs in ``idx``."""
    rows = jnp.take(w, idx, axis=0)
    if not by_freq:
        return rows
    counts = jnp.zeros(w.shape[0], w.dtype).at[idx.reshape(-1)].add(1)
    return _grad_scaled(rows, lax.stop_gradient(1 / counts[idx])[..., None])


def _renorm_rows_(weight, input, max_norm: float, norm_type: float) -> None:
    """torch's ``embedding_renorm_``: each row of ``weight`` that ``input`` names, whose
    ``norm_type``-norm exceeds ``max_norm``, is scaled in place by ``max_norm / (norm + 1e-7)``,
    the factor taken in float64 as torch takes it."""
    from tape import linalg as tape_linalg

    with grad_mode.no_grad():
        idx = input.reshape(-1)
        rows = weight[idx]
        norms = tape_linalg.vector_norm(rows, norm_type, dim=1, keepdim=True).double()
        scale = elementwise.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[idx] = rows * scale.to(weight.dtype)


def _embedding_fwd(idx, w, padding_idx, by_freq=False):
    rows = _rows(w, idx, by_freq)
    if padding_idx is not None:
        rows = jnp.where((idx == padding_idx)[..., None], lax.stop_gradient(rows), rows)
    return rows


_embedding = register("embedding", _embedding_fwd, "EmbeddingBackward0", NONE)


def _padding_index(padding_idx, n: int, message: str):
    """``padding_idx`` wrapped to [0, n), or torch's AssertionError ``message`` outside
    [-n, n)."""
    if padding_idx is None:
        return None
    if not -n <= padding_idx < n:
        raise AssertionError(message)
    return padding_idx % n


def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    if input.dtype.is_floating_point:
        raise _scalar_types_error(input, "indices", "Long, Int", "embedding")
    n = weight.shape[0]
    padding_idx = _padding_index(padding_idx, n, "Padding_idx must be within num_embeddings")
    arr = _checkable(input)
    if arr is not None and arr.size:
        if arr.min() < 0 or arr.max() >= n:
            raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    static = (("padding_idx", padding_idx),)
    if scale_grad_by_freq:
        static += (("by_freq", True),)
    return dispatch(_embedding, (input, weight), static)


def _scalar_types_error(t, arg: str, allowed: str, op: str) -> RuntimeError:
    """ATen's ``checkScalarTypes`` error for argument ``arg`` of ``op``."""
    return RuntimeError(
        f"Expected tensor for argument #1 '{arg}' to have one of the following scalar types: "
        f"{allowed}; but got torch.{_type_name(t)}Tensor instead (while checking arguments for "
        f"{op})"
    )


def _embedding_bag_fwd(w, idx, offsets, weights, mode, padding_idx, bags, by_freq=False):
    """Index i goes to the last bag whose offset is <= i; past an ``include_last_offset`` end
    that is bag ``bags``, which segment sums drop. A padding index counts for nothing, not even
    in a mean's size; an empty bag gives zeros."""
    n = idx.shape[0]
    if n == 0:
        return jnp.zeros((bags, w.shape[1]), w.dtype)
    bag = jnp.searchsorted(offsets, jnp.arange(n, dtype=offsets.dtype), side="right") - 1
    keep = jnp.ones((n, 1), bool) if padding_idx is None else (idx != padding_idx)[:, None]
    rows = _rows(w, idx, by_freq)
    if mode == "max":
        top = jax.ops.segment_max(jnp.where(keep, rows, -jnp.inf), bag, bags)
        # torch's first maximum of each bag and feature (n where the bag is empty)
        at = jnp.where(keep & (rows == top[bag]), jnp.arange(n)[:, None], n)
        first = jax.ops.segment_min(at, bag, bags)
        best = jnp.take_along_axis(rows, jnp.minimum(first, n - 1), axis=0)
        return jnp.where(first < n, best, 0)
    if weights is not None:
        rows = rows * weights[:, None]
    total = jax.ops.segment_sum(jnp.where(keep, rows, 0), bag, bags)
    if mode == "sum":
        return total
    size = jax.ops.segment_sum(keep[:, 0].astype(jnp.int64), bag, bags)
    return total / jnp.maximum(size, 1).astype(total.dtype)[:, None]


_embedding_bag = register("embedding_bag", _embedding_bag_fwd, "EmbeddingBagBackward0", NONE)


def embedding_bag(
    input,
    weight,
    offsets=None,
    max_norm=None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights=None,
    include_last_offset: bool = False,
    padding_idx=None,
):
    """The sum, mean or max of each bag of ``weight`` rows: a 2-D ``input`` holds one bag per
    row, a 1-D one is cut into bags at ``offsets``."""
    if weight.dtype.name == "int64" and input.dtype.is_floating_point:
        warnings.warn(
            "Argument order of nn.functional.embedding_bag was changed. Usage "
            "`embedding_bag(weight, input, ...)` is deprecated, and should now be "
            "`embedding_bag(input, weight, ...)`.",
            stacklevel=2,
        )
        weight, input = input, weight
    if per_sample_weights is not None and input.shape != per_sample_weights.shape:
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, "
            f"then it must have the same shape as the input ({input.shape})"
        )
    if weight.dim() != 2:
        raise ValueError(
            f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}"
        )
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a mini-batch "
                f"of fixed length sequences. However, found offsets of type {type(offsets)}"
            )
        step = input.shape[1]
        offsets = creation.arange(0, input.numel(), step, dtype=input.dtype, device=input.device)
        include_last_offset = False
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(
            f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}"
        )
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
            "GitHub."
        )
    padding_idx = _embedding_bag_checks(input, weight, offsets, per_sample_weights, padding_idx)
    if include_last_offset and offsets.shape[0] < 1:
        raise RuntimeError("include_last_offset: number of offset should be at least 1")
    bags = offsets.shape[0] - (1 if include_last_offset else 0)
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    static = (("mode", mode), ("padding_idx", padding_idx), ("bags", bags))
    if scale_grad_by_freq:
        static += (("by_freq", True),)
    return dispatch(_embedding_bag, (weight, input, offsets, per_sample_weights), static)


def _embedding_bag_checks(input, weight, offsets, per_sample_weights, padding_idx):
    """ATen's checks of embedding_bag's tensors; returns ``padding_idx`` wrapped to >= 0."""
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise RuntimeError(
                f"padding_idx must be within the number of embeddings, -{n} through {n - 1}, "
                f"but got {padding_idx}"
            )
        padding_idx %= n
    for t in (input, offsets):
        if t.dtype.name not in ("int64", "int32"):
            raise _scalar_types_error(t, "indices", "Long, Int", "embedding_bag")
    if not weight.dtype.is_floating_point:
        raise _scalar_types_error(
            weight, "weight", "Half, BFloat16, Float, Double", "embedding_bag"
        )
    starts = _checkable(offsets)
    if starts is not None and starts.size and starts[0] != 0:
        raise RuntimeError(
            "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
            f"from position 0. However, got {starts[0]}"
        )
    if starts is not None and starts.size and starts[-1] > input.shape[0]:
        raise RuntimeError(
            f"offsets[-1] can not be greater than input's length {input.shape[0]} but got "
            f"offsets[-1] of {starts[-1]}"
        )
    if per_sample_weights is not None and per_sample_weights.dtype != weight.dtype:
        raise RuntimeError(
            "Expected tensor for argument #1 'weight' to have the same type as tensor for "
            f"argument #1 'per_sample_weights'; but type torch.{_type_name(weight)}Tensor does "
            f"not equal torch.{_type_name(per_sample_weights)}Tensor (while checking arguments "
            "for embedding_bag)"
        )
    indices = _checkable(input)
    bad = np.flatnonzero((indices < 0) | (indices >= n)) if indices is not None else []
    if len(bad):
        raise RuntimeError(
            f"Index {bad[0]} of input takes value {indices[bad[0]]} which is not in the valid "
            f"range [0, {n})"
        )
    return padding_idx


_one_hot = register("one_hot", lambda x, n: jax.nn.one_hot(x, n, dtype=jnp.int64), None, NONE)


def one_hot(tensor, num_classes=-1):
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    arr = np.asarray(tensor)
    if num_classes == -1:
        if arr.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(arr.max()) + 1
    if arr.size and arr.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if arr.size and arr.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return dispatch(_one_hot, (tensor,), (("n", int(num_classes)),))


# ================================================================================================
# activations
# ================================================================================================
def relu(input, inplace: bool = False):
    """max(input, 0); ``inplace`` writes it into ``input`` (``relu_``)."""
    return relu_(input) if inplace else elementwise.relu(input)


relu_ = INPLACE["relu_"]


def _activation(op, input, inplace, static=(), inplace_op=None):
    """``op`` on ``input``; with ``inplace`` written into ``input`` as torch's ``op_`` (the op runs
    on a snapshot, so the input it saves is not the tensor the write changes). ``inplace_op`` is
    the in-place form where torch's differs (it saves the output: ``EluBackward1``)."""
    if not inplace:
        return dispatch(op, (input,), static)
    return _inplace_form(lambda x: dispatch(inplace_op or op, (x,), static))(input)


_leaky_relu = register(
    "leaky_relu",
    lambda x, slope: jnp.where(x > 0, x, x * jnp.asarray(slope, x.dtype)),
    "LeakyReluBackward0",
    NONE,
)
_leaky_relu_ = register("leaky_relu_", _leaky_relu.fwd, "LeakyReluBackward1", NONE, "output")


def leaky_relu(input, negative_slope=0.01, inplace=False):
    static = (("slope", float(negative_slope)),)
    return _activation(_leaky_relu, input, inplace, static, _leaky_relu_)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


# leaky_relu's forward, with a slope per element in training (torch's ``noise``)
_rrelu = register("rrelu", _leaky_relu.fwd, "RreluWithNoiseBackward0", NONE)
_rrelu_ = register("rrelu_", _leaky_relu.fwd, "RreluWithNoiseBackward1", NONE, "output")


def rrelu(
    input,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
):
    """Randomized leaky ReLU: in training each input <= 0 is scaled by a slope drawn from
    U(lower, upper) (torch's draws for the same ``manual_seed``), else by ``(lower + upper) / 2``.
    """
    return _rrelu_impl(input, lower, upper, training, inplace)


def _rrelu_impl(input, lower, upper, training: bool, inplace: bool, generator=None):
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        _float_only("leaky_relu_cpu", input)
        static = (("slope", (lower + upper) / 2),)
        return _activation(_rrelu, input, inplace, static, _rrelu_)
    if input.dtype.name not in ("float32", "float64", "bfloat16"):
        raise _dtype.kernel_missing("rrelu_with_noise_out_cpu", input.dtype)
    from tape import _random

    # torch draws one double per input <= 0, in row-major order, so the draws need the values;
    # its bounds are first rounded to the compute type (float but for double input)
    x = input.detach().cpu().numpy()
    opmath = np.float64 if x.dtype == np.float64 else np.float32
    lo, hi = float(opmath(lower)), float(opmath(upper))
    noise = np.ones(x.shape, x.dtype)
    gen = generator or _random.default_generator
    drawn = gen.uniform((int((x <= 0).sum()),), np.float64, lo, hi)
    noise[x <= 0] = drawn.astype(x.dtype)
    noise = creation.tensor(noise, dtype=input.dtype, device=input.device)
    if inplace:
        return _inplace_form(lambda t: dispatch(_rrelu_, (t, noise)))(input)
    return dispatch(_rrelu, (input, noise))


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    return rrelu(input, lower, upper, training, True)


_gelu = register(
    "gelu",
    lambda x, approximate: jax.nn.gelu(x, approximate=approximate == "tanh"),
    "GeluBackward0",
    NONE,
)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return dispatch(_gelu, (input,), (("approximate", approximate),))


_silu = register("silu", jax.nn.silu, "SiluBackward0", NONE)


def silu(input, inplace=False):
    return _activation(_silu, input, inplace)


def _hardtanh_fwd(x, lo, hi):
    """``clip(x, lo, hi)`` with torch's gradient: none at either bound (``jnp.clip`` gives half)."""
    x = jnp.where(x <= lo, jnp.asarray(lo, x.dtype), x)
    return jnp.where(x >= hi, jnp.asarray(hi, x.dtype), x)


_hardtanh = register("hardtanh", _hardtanh_fwd, "HardtanhBackward0", NONE)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    return _activation(_hardtanh, input, inplace, (("lo", float(min_val)), ("hi", float(max_val))))


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def _elu_fwd(x, alpha, scale=1.0, input_scale=1.0):
    """torch's ELU family: ``scale * (alpha * (exp(x * input_scale) - 1) if x <= 0 else x)``,
    with its gradient there at 0 too, and ``scale`` at NaN."""
    y = jnp.where(x <= 0, alpha * jnp.expm1(jnp.where(x <= 0, x * input_scale, 0)), x)
    return y if scale == 1.0 else y * scale


_elu = register("elu", _elu_fwd, "EluBackward0", NONE)
_elu_ = register("elu_", _elu_fwd, "EluBackward1", NONE, "output")
_celu = register("celu", _elu_fwd, "CeluBackward0", NONE)
_celu_ = register("celu_", _elu_fwd, "CeluBackward1", NONE, "output")
# SELU's constants, as torch has them.
_SELU = (("alpha", 1.6732632423543772848170429916717), ("scale", 1.0507009873554804934193349852946))


def _float_only(kernel: str, input) -> None:
    """torch's error for an activation that has no integer kernel, named ``kernel``."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_type_name(input)}'")


def elu(input, alpha=1.0, inplace=False):
    _float_only("elu_cpu", input)
    return _activation(_elu, input, inplace, (("alpha", float(alpha)),), _elu_)


def selu(input, inplace=False):
    _float_only("elu_cpu", input)
    return _activation(_elu, input, inplace, _SELU, _elu_)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    _float_only("elu_cpu", input)
    static = (("alpha", float(alpha)), ("input_scale", 1 / float(alpha)))
    return _activation(_celu, input, inplace, static, _celu_)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu_(input):
    return selu(input, True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def _shrink_fwd(x, lambd, soft):
    """Zero inside ``[-lambd, lambd]`` (soft: ``x * 0``, so -0.0 below 0); outside ``x``, moved
    ``lambd`` towards 0 when ``soft``. torch's gradient: 0 inside, 1 outside and at NaN."""
    inside = (x >= -lambd) & (x <= lambd)
    out = x - lambd * lax.stop_gradient(jnp.sign(x)) if soft else x
    return jnp.where(inside, lax.stop_gradient(x * 0 if soft else jnp.zeros_like(x)), out)


_softshrink = register("softshrink", _shrink_fwd, "SoftshrinkBackward0", NONE)
_hardshrink = register("hardshrink", _shrink_fwd, "HardshrinkBackward0", NONE)


def _shrink(op, input, lambd, soft: bool):
    _float_only("softshrink_check" if soft else "hardshrink_cpu", input)
    if soft and lambd < 0:
        top = float(jnp.finfo(input.dtype.np).max)
        raise RuntimeError(
            f"lambda must be in range [0, {top:g}] for input dtype {_type_name(input)}, but found "
            f"{lambd:g}"
        )
    return dispatch(op, (input,), (("lambd", float(lambd)), ("soft", soft)))


def softshrink(input, lambd=0.5):
    return _shrink(_softshrink, input, lambd, True)


def hardshrink(input, lambd=0.5):
    return _shrink(_hardshrink, input, lambd, False)


_threshold = register(
    "threshold",
    lambda x, threshold, value: jnp.where(x <= threshold, jnp.asarray(value, x.dtype), x),
    "ThresholdBackward0",
    NONE,
)
_threshold_ = register("threshold_", _threshold.fwd, "ThresholdBackward1", NONE, "output")


def _threshold_call(input, limit, value, inplace):
    static = (("threshold", limit), ("value", value))
    return _activation(_threshold, input, inplace, static, _threshold_)


def threshold(input, threshold, value, inplace=False):
    """``value`` where ``input <= threshold``, else ``input``."""
    return _threshold_call(input, threshold, value, inplace)


def threshold_(input, threshold, value):
    return _threshold_call(input, threshold, value, True)


def softsign(input):
    return input / (input.abs() + 1)


def tanhshrink(input):
    return input - input.tanh()


_softplus = register(
    "softplus",
    lambda x, beta, threshold: jnp.where(
        x * beta > threshold,
        x,
        jnp.log1p(jnp.exp(jnp.where(x * beta > threshold, 0, x * beta))) / beta,
    ),
    "SoftplusBackward0",
    NONE,
)


def softplus(input, beta=1.0, threshold=20.0):
    return dispatch(_softplus, (input,), (("beta", float(beta)), ("threshold", float(threshold))))


def _softmax_dim(name: str, ndim: int, dim):
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=4,  # the caller of F.softmax, past _softmax_call
        )
        return 0 if ndim in (0, 1, 3) else 1
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def _cast_for(input, dtype):
    if dtype is not None:
        return input.to(_dtype.to_dtype(dtype))
    return input


_softmax = register(
    "softmax", lambda x, axis: jax.nn.softmax(x, axis=axis), "SoftmaxBackward0", FLOAT, "output"
)
_log_softmax = register(
    "log_softmax",
    lambda x, axis: jax.nn.log_softmax(x, axis=axis),
    "LogSoftmaxBackward0",
    FLOAT,
    "output",
)


def _softmax_call(op, input, dim, dtype):
    """Run ``op`` (softmax or log_softmax) over ``dim`` of ``input`` cast to ``dtype``; torch has
    no integer kernel for either."""
    dim = _softmax_dim(op.name, input.dim(), dim)
    x = _cast_for(input, dtype)
    if not x.dtype.is_floating_point:
        kernel = "lastdim_kernel_impl" if dim >= x.dim() - 1 else "kernel_impl"
        raise NotImplementedError(f"\"{op.name}_{kernel}\" not implemented for '{_type_name(x)}'")
    return dispatch(op, (x,), (("axis", dim if x.dim() else None),))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_call(_softmax, input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_call(_log_softmax, input, dim, dtype)


# ================================================================================================
# pad, interpolate
# ================================================================================================
def _constant_pad_fwd(x, pads, value):
    return lax.pad(x, jnp.asarray(value, x.dtype), [(lo, hi, 0) for lo, hi in pads])


_constant_pad = register("constant_pad", _constant_pad_fwd, "ConstantPadNdBackward0", NONE, "none")
_pad_ops = {
    (mode, n): register(
        f"{mode}_pad{n}d",
        lambda x, pads, np_mode: jnp.pad(x, pads, mode=np_mode),
        f"{'Reflection' if mode == 'reflect' else 'Replication'}Pad{n}DBackward0",
        NONE,
        "none",
    )
    for mode in ("reflect", "replicate")
    for n in (1, 2, 3)
}
_circular_pad = register(
    "circular_pad", lambda x, pads, np_mode: jnp.pad(x, pads, mode="wrap"), "CopySlices", NONE
)


def _im2col(x, kernel, dilation, padding, stride):
    """(N, C, H, W) -> (N, C*kh*kw, L): every kernel-sized patch as a column, channels major.
    Unbatched, (C, H, W) -> (C*kh*kw, L)."""
    if x.ndim == 3:
        return _im2col(x[None], kernel, dilation, padding, stride)[0]
    cols = lax.conv_general_dilated_patches(
        x, kernel, stride, [(p, p) for p in padding], rhs_dilation=dilation
    )
    return jnp.reshape(cols, (*cols.shape[:2], -1))


def _col2im(cols, size, kernel, dilation, padding, stride):
    """The transpose of ``_im2col`` for an (N, C, *size) input: patches summed back in place.
    Unbatched, (C*kh*kw, L) -> (C, *size)."""
    if cols.ndim == 2:
        return _col2im(cols[None], size, kernel, dilation, padding, stride)[0]
    n, c = cols.shape[0], cols.shape[1] // math.prod(kernel)
    image = jax.ShapeDtypeStruct((n, c, *size), cols.dtype)
    (out,) = jax.linear_transpose(lambda x: _im2col(x, kernel, dilation, padding, stride), image)(
        cols
    )
    return out


_unfold = register("im2col", _im2col, "Im2ColBackward0", NONE)
_fold = register("col2im", _col2im, "Col2ImBackward0", NONE)


def _fold_args(kernel_size, dilation, padding, stride) -> tuple:
    """The static arguments of im2col/col2im, each as a pair."""
    names = ("kernel", "dilation", "padding", "stride")
    return tuple(zip(names, map(_pair, (kernel_size, dilation, padding, stride)), strict=True))


def _blocks(size, args: tuple) -> tuple:
    """How many patch positions fit along each spatial dimension (torch's sliding blocks)."""
    kernel, dilation, padding, stride = (v for _, v in args)
    return tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, d, p, s in zip(size, kernel, dilation, padding, stride, strict=True)
    )


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """torch.nn.functional.unfold (im2col): (N, C, H, W) -> (N, C*kh*kw, L), one column per
    patch position; a (C, H, W) input gives (C*kh*kw, L)."""
    d = input.dim()
    if d < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-d}, {d - 1}], "
                         f"but got {d})")  # fmt: skip
    if d > 4:
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
            f"dimensions for input, but got: {list(input.shape)}"
        )
    args = _fold_args(kernel_size, dilation, padding, stride)
    blocks = _blocks(input.shape[-2:], args)
    if min(blocks) < 1:
        kernel, dil, pad_ = (v for _, v in args[:3])
        raise RuntimeError(
            f"Given input with spatial size {tuple(input.shape[-2:])}, kernel_size={kernel}, "
            f"dilation={dil}, padding={pad_}, calculated shape of the array of sliding blocks "
            f"as {blocks}, but its components must be at least one."
        )
    return dispatch(_unfold, (input,), args)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """torch.nn.functional.fold (col2im): (N, C*kh*kw, L) -> (N, C, *output_size), overlapping
    patches summed; the inverse arrangement of ``unfold``."""
    d = input.dim()
    if d not in (2, 3):
        raise RuntimeError(
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
            f"non-zero dimensions for input, but got: {list(input.shape)}"
        )
    size = _pair(output_size)
    args = _fold_args(kernel_size, dilation, padding, stride)
    kernel = args[0][1]
    channels, length = input.shape[-2:]
    if channels % math.prod(kernel):
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
            f"but got input.size(1)={channels} and kernel_size={kernel}."
        )
    blocks = _blocks(size, args)
    if math.prod(blocks) != length:
        given = ", ".join(f"{name}={v}" for name, v in (("kernel_size", kernel), *args[1:]))
        raise RuntimeError(
            f"Given output_size={size}, {given}, expected size of input's dimension 2 to match "
            f"the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
            f"{math.prod(blocks)}, but got input.size(2)={length}."
        )
    return dispatch(_fold, (input,), (("size", size), *args))


def pad(input, pad, mode="constant", value=None):
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    if k > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {input.dim()}"
        )
    pairs = [(0, 0)] * (input.dim() - k) + [
        (pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))
    ]
    if mode == "constant":
        static = (("pads", tuple(pairs)), ("value", 0.0 if value is None else value))
        return dispatch(_constant_pad, (input,), static)
    if value is not None and value != 0:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument.')
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if input.dim() not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.dim()}D input tensor."
        )
    if mode == "reflect":
        for (lo, hi), size in zip(pairs, input.shape, strict=True):
            if lo >= size and lo or hi >= size and hi:
                raise RuntimeError(
                    f"Argument #4: Padding size should be less than the corresponding input "
                    f"dimension, but got: padding ({lo}, {hi}) at dimension "
                    f"{pairs.index((lo, hi))} of input {list(input.shape)}"
                )
    static = (("pads", tuple(pairs)), ("np_mode", {"reflect": "reflect"}.get(mode, "edge")))
    if mode == "circular":
        return dispatch(_circular_pad, (input,), static)
    return dispatch(_pad_ops[(mode, k)], (input,), static)


def _source_scale(in_size: int, out_size: int, scale, dtype=np.float32):
    """Input positions per output position: torch's ``in / out``, or ``1 / scale_factor``."""
    return dtype(in_size) / dtype(out_size) if scale is None else dtype(1.0 / scale)


def _nearest_index(in_size: int, out_size: int, scale, exact: bool = False) -> np.ndarray:
    """Each output position's input index: ``floor(i * s)``, or for nearest-exact the nearest
    centre, ``floor((i + 0.5) * s)``."""
    i = np.arange(out_size, dtype=np.float32) + np.float32(0.5 if exact else 0)
    idx = np.floor(i * _source_scale(in_size, out_size, scale)).astype(np.int64)
    return np.minimum(idx, in_size - 1)


def _source_position(in_size, out_size, scale, align_corners, cubic=False) -> np.ndarray:
    """Where each output position samples the input, in input coordinates (float32, as torch's
    CPU kernels compute it); linear modes clamp it at 0, the cubic one does not."""
    out = np.arange(out_size, dtype=np.float32)
    if align_corners:
        return out * np.float32((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    src = (out + np.float32(0.5)) * _source_scale(in_size, out_size, scale) - np.float32(0.5)
    return src if cubic else np.maximum(src, np.float32(0))


def _linear_taps(in_size, out_size, scale, align_corners):
    """(indices, weights) of the two input positions each output position mixes."""
    src = _source_position(in_size, out_size, scale, align_corners)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam = (src - i0).astype(np.float32)
    return (i0, np.minimum(i0 + 1, in_size - 1)), (1 - lam, lam)


def _cubic_near(x, a):
    """Keys' cubic convolution kernel for |x| <= 1."""
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic_far(x, a):
    """Keys' cubic convolution kernel for 1 < |x| < 2."""
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _cubic_taps(in_size, out_size, scale, align_corners):
    """(indices, weights) of the four input positions each output position mixes: Keys' cubic
    convolution with torch's A = -0.75, indices clamped to the edge."""
    src = _source_position(in_size, out_size, scale, align_corners, cubic=True)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - i0, 0, 1).astype(np.float32)
    a = np.float32(-0.75)
    indices = tuple(np.clip(i0 + k, 0, in_size - 1) for k in (-1, 0, 1, 2))
    weights = (_cubic_far(t + 1, a), _cubic_near(t, a), _cubic_near(1 - t, a), _cubic_far(2 - t, a))
    return indices, weights


# The anti-aliasing filters of torch's CPU kernels (Pillow's), each of |x| in its dtype.
def _triangle(x):
    return np.where(x < 1, 1 - x, 0).astype(x.dtype)


def _keys_cubic(x, a=-0.5):
    # torch's antialiased bicubic uses A = -0.5 (as Pillow does), not the -0.75 of plain bicubic
    a = x.dtype.type(a)
    return np.where(x < 1, _cubic_near(x, a), np.where(x < 2, _cubic_far(x, a), 0)).astype(x.dtype)


def _sinc(x):
    pi_x = x * x.dtype.type(np.pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x == 0, 1, np.sin(pi_x) / pi_x).astype(x.dtype)


def _lanczos3(x):
    third = (x.astype(np.float64) / 3.0).astype(x.dtype)
    return np.where(x < 3, _sinc(x) * _sinc(third), 0).astype(x.dtype)


def _antialias_taps(in_size, out_size, scale, align_corners, kernel, width, dtype):
    """(indices, weights) of torch's anti-aliased interpolation (``_aa_windows``) in the
    input's dtype; align_corners only changes the scale."""
    if in_size == out_size:  # torch's kernel skips such a dimension: a copy
        return (np.arange(in_size),), (np.ones(in_size, dtype),)
    if align_corners:
        s = dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
    else:
        s = _source_scale(in_size, out_size, scale, dtype)
    lo, size, w, _ = _aa_windows(in_size, out_size, s, kernel, width, dtype)
    return tuple(_window_indices(lo, size, len(w), in_size)), tuple(w)


def _aa_windows(in_size, out_size, s, kernel, width, dtype):
    """(first input index, window sizes, weights (taps, out), window sums) of torch's
    anti-aliasing (UpSampleKernel.cpp, ``_compute_indices_min_size_weights_aa``): each output
    position ``i`` averages the input under ``kernel`` centred at ``s * (i + 0.5)``, stretched
    by ``s`` when downsampling, its weights normalised to sum 1; windows shorter than the
    widest are padded with zero weights. In ``dtype`` with torch's float/double mix (the uint8
    kernel's is all double)."""
    # torch works in the input's dtype but takes products and adds each 0.5 in double
    s64 = np.float64(s)
    support = dtype(width * 0.5 * s64 if s >= 1 else width * 0.5)
    taps = int(np.ceil(support)) * 2 + 1
    center = (s64 * (np.arange(out_size) + 0.5)).astype(dtype)
    # C++ casts to int64 by truncation; the values that differ from floor are clamped to 0
    lo = np.maximum(np.trunc((center - support).astype(np.float64) + 0.5), 0).astype(np.int64)
    hi = np.trunc((center + support).astype(np.float64) + 0.5).astype(np.int64)
    size = np.clip(np.minimum(hi, in_size) - lo, 0, taps)
    invscale = np.float64(dtype(1.0 / s64) if s >= 1 else dtype(1.0))
    j = np.arange(taps)[:, None]
    x = (((j + lo).astype(dtype) - center).astype(np.float64) + 0.5) * invscale
    w = np.where(j < size, kernel(np.abs(x.astype(dtype))), dtype(0))
    total = np.add.reduce(w, axis=0, dtype=dtype)  # row by row, as the kernel's loop adds
    w = (w / np.where(total != 0, total, 1)).astype(dtype)  # torch leaves a 0-sum window as is
    return lo, size, w, total


def _window_indices(start, size, taps: int, in_size: int) -> np.ndarray:
    """The input index each tap of each window reads (taps, out): taps past a window read its
    first input, with a 0 weight, so they meet no inf/nan from outside it."""
    j = np.arange(taps)[:, None]
    return np.minimum(np.where(j < size, start + j, start), in_size - 1)


def _fixed_point_scale(in_size: int, out_size: int, scale, align_corners: bool) -> float:
    """torch's ``area_pixel_compute_scale<double>``, which its uint8 kernels use."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else in_size / out_size


def _plain_fixed_point_weights(in_size, out_size, s, align_corners, kernel, taps):
    """(first input index, weights (taps, out), largest partial weight) of torch's uint8
    bilinear/bicubic without anti-aliasing (``_compute_indices_min_size_weights``): the float
    path's taps, with those falling outside the input added onto the edge ones."""
    i = np.arange(out_size, dtype=np.float64)
    real = s * i if align_corners else s * (i + 0.5) - 0.5
    if taps == 2 and not align_corners:
        real = np.where(real < 0, 0.0, real)
    # the C++ floors with floorf, so the double is rounded to float first
    idx = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), in_size - 1)
    lam = np.clip(real - idx, 0.0, 1.0)
    half = taps // 2
    lo = idx - half + 1
    start = np.maximum(lo, 0)
    size = np.clip(np.minimum(idx + half + 1, in_size) - start, 0, taps)
    w = np.zeros((taps, out_size))
    cols = np.arange(out_size)
    slot = np.zeros(out_size, np.int64)
    peak = 0.0
    for j in range(taps):
        slot = np.where(lo + j <= 0, 0, np.where(lo + j >= in_size - 1, size - 1, slot))
        w[slot, cols] += kernel(np.abs(np.float64(j + 1 - half) - lam))
        peak = max(peak, float(w[slot, cols].max()))  # torch sizes the precision on partial sums
        slot = slot + 1
    return start, size, w, peak


def _fixed_point_taps(in_size, out_size, scale, align_corners, kernel, width, antialias):
    """(indices per tap, int weights per tap, precision bits) of one pass of torch's uint8
    resampling (``_compute_index_ranges_int16_weights``): double weights scaled by
    ``2**precision``, the most bits that keep the largest below 2**15, rounded half away
    from zero. Each pass sums ``input * weight`` in int32 and rounds back to uint8."""
    s = _fixed_point_scale(in_size, out_size, scale, align_corners)
    if antialias:
        start, size, w, total = _aa_windows(in_size, out_size, s, kernel, width, np.float64)
        peak = float(np.max(np.where(total != 0, w, 0.0), initial=0.0))
    else:
        start, size, w, peak = _plain_fixed_point_weights(
            in_size, out_size, s, align_corners, kernel, width
        )
    precision = 0
    while precision < 22 and int(0.5 + peak * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    v = w * (1 << precision)
    ints = np.trunc(np.where(v < 0, v - 0.5, v + 0.5)).astype(np.int64)
    indices = _window_indices(start, size, len(w), in_size)
    # nested tuples of Python ints: hashable, so they can be an op's static argument
    return tuple(map(tuple, indices.tolist())), tuple(map(tuple, ints.tolist())), precision


def _fixed_point_fwd(x, tables):
    """torch's uint8 bilinear/bicubic/lanczos resampling: one pass per resized axis, the last (W)
    first, each summing in int32 and rounding and clamping back to uint8; ``tables`` holds
    per axis None (a size kept: no pass) or (indices per tap, weights per tap, precision)."""
    first = x.ndim - len(tables)
    for axis in reversed(range(first, x.ndim)):
        table = tables[axis - first]
        if table is None:
            continue
        indices, weights, precision = table
        shape = [1] * x.ndim
        shape[axis] = len(weights[0])
        acc = jnp.asarray(1 << (precision - 1), jnp.int32)  # rounds the shift below
        for idx, w in zip(indices, weights, strict=True):
            taken = jnp.take(x, jnp.asarray(idx), axis=axis).astype(jnp.int32)
            acc = acc + taken * jnp.asarray(w, jnp.int32).reshape(shape)
        x = jnp.clip(acc >> precision, 0, 255).astype(jnp.uint8)
    return x


def _nearest_fwd(x, indices):
    for axis, idx in zip(range(x.ndim - len(indices), x.ndim), indices, strict=True):
        x = jnp.take(x, jnp.asarray(np.asarray(idx)), axis=axis)
    return x


def _mix_fwd(x, tables):
    """Separable interpolation: along each trailing axis, the weighted sum of the input
    positions that ``tables`` names for it, ((indices per tap), (weights per tap))."""
    for axis, (indices, weights) in zip(range(x.ndim - len(tables), x.ndim), tables, strict=True):
        shape = [1] * x.ndim
        shape[axis] = len(weights[0])
        out = None
        for idx, w in zip(indices, weights, strict=True):
            term = jnp.take(x, jnp.asarray(np.asarray(idx)), axis=axis) * jnp.asarray(
                np.asarray(w), x.dtype
            ).reshape(shape)
            out = term if out is None else out + term
        x = out
    return x


_nearest_ops = {
    (exact, n): register(
        f"upsample_nearest{'_exact' if exact else ''}{n}d",
        _nearest_fwd,
        f"UpsampleNearest{'Exact' if exact else ''}{n}DBackward0",
        NONE,
        "none",
    )
    for exact in (False, True)
    for n in (1, 2, 3)
}
# mode -> (spatial dims, its op, its taps)
_INTERPOLATING = {
    mode: (
        n,
        register(f"upsample_{mode}{n}d", _mix_fwd, f"Upsample{name}{n}DBackward0", NONE, "none"),
        taps,
    )
    for mode, n, name, taps in (
        ("linear", 1, "Linear", _linear_taps),
        ("bilinear", 2, "Bilinear", _linear_taps),
        ("trilinear", 3, "Trilinear", _linear_taps),
        ("bicubic", 2, "Bicubic", _cubic_taps),
    )
}
# mode -> (its anti-aliased 2-D op, its filter kernel, the kernel's width in input positions)
_ANTIALIASING = {
    mode: (
        register(f"_upsample_{mode}2d_aa", _mix_fwd, f"Upsample{name}2DAaBackward0", NONE, "none"),
        kernel,
        width,
    )
    for mode, name, kernel, width in (
        ("bilinear", "Bilinear", _triangle, 2),
        ("bicubic", "Bicubic", _keys_cubic, 4),
        ("lanczos", "Lanczos", _lanczos3, 6),
    )
}


# uint8 bilinear/bicubic (plain and anti-aliased) and lanczos: torch's int16 fixed-point
# kernel, with no backward as uint8 has no gradient
_fixed_point_op = register("_upsample_uint8", _fixed_point_fwd, None, NONE, "none")
# plain mode -> (filter, taps) of the uint8 kernel; bicubic keeps the -0.75 of the float path
_FIXED_POINT = {"bilinear": (_triangle, 2), "bicubic": (functools.partial(_keys_cubic, a=-0.75), 4)}


def _output_size(input, size, scale_factor, n: int, recompute: bool) -> tuple:
    """torch's checks of ``size`` and ``scale_factor``; returns (output sizes, scales passed to
    the kernel: None where given a size, or where ``recompute`` has them recomputed from it)."""
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if not isinstance(size, (list, tuple)):
            return (size,) * n, (None,) * n
        if len(size) != n:
            raise ValueError(
                "Input and output must have the same number of spatial dimensions, but got input "
                f"with spatial dimensions of {spatial} and output size of {size}. Please provide "
                "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                "...,oK) format."
            )
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in size):
            raise TypeError(
                "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                f"Tuple[int, int, int], but got size with types {[type(s) for s in size]}"
            )
        return tuple(size), (None,) * n
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != n:
            raise ValueError(
                "Input and scale_factor must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {spatial} and scale_factor of shape "
                f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                "and scale_factor in (s1, s2, ...,sK) format."
            )
        factors = tuple(float(f) for f in scale_factor)
    else:
        factors = (float(scale_factor),) * n
    out = tuple(int(math.floor(s * f)) for s, f in zip(spatial, factors, strict=True))
    return out, (None,) * n if recompute else factors


def _static_tables(taps_per_dim) -> tuple:
    """Each dimension's (indices, weights) as nested tuples of Python numbers: hashable, so
    they can be an op's static argument."""
    return tuple(
        tuple(tuple(tuple(v.tolist()) for v in part) for part in taps) for taps in taps_per_dim
    )


def _check_upsample(input, out: tuple) -> None:
    """torch's ``upsample_{1,2,3}d_common_check``: positive spatial sizes, and no empty
    channel or spatial dimension (an empty batch is fine)."""
    spatial = tuple(input.shape[2:])
    if min(*spatial, *out) <= 0:
        names = "DHW"[-len(out) :]
        given = ", ".join(f"{k}: {v}" for k, v in zip(names, spatial, strict=True))
        want = ", ".join(f"{k}: {v}" for k, v in zip(names, out, strict=True))
        joint = " and output" if len(out) == 1 else " output"
        raise RuntimeError(
            f"Input and output sizes should be greater than 0, but got input ({given}){joint} "
            f"({want})"
        )
    if math.prod(input.shape[1:]) == 0:
        raise RuntimeError(
            f"Non-empty {input.dim()}D data tensor expected but got a tensor with sizes "
            f"{list(input.shape)}"
        )


def _missing_kernel(mode: str, out: tuple) -> str:
    """The kernel whose dtype dispatch fails first in torch's CPU upsampling of an integer or
    bool input: 2-D nearest and bilinear take the channels-last kernel while ``oh + ow <= 128``
    (UpSampleKernel.cpp, ``_use_vectorized_kernel_cond_2d``), all else the generic one."""
    if len(out) == 2 and mode in ("nearest", "nearest-exact", "bilinear") and sum(out) <= 128:
        return f"upsample_{mode.split('-')[0]}2d_channels_last"
    kind = {"bicubic": "cubic", "nearest": "nearest", "nearest-exact": "nearest"}
    return f"compute_indices_weights_{kind.get(mode, 'linear')}"


def _fixed_point(input, out: tuple, scales: tuple, kernel, width: int, align_corners, aa):
    """torch's uint8 kernel (``separable_upsample_generic_Nd_kernel_impl`` and its AVX twin):
    a kept size gets no pass, as there."""
    tables = tuple(
        None if s == o else _fixed_point_taps(s, o, sc, align_corners, kernel, width, aa)
        for s, o, sc in zip(input.shape[2:], out, scales, strict=True)
    )
    return dispatch(_fixed_point_op, (input,), (("tables", tables),))


def _antialiased(input, out: tuple, scales: tuple, mode: str, align_corners: bool):
    """torch's ``_upsample_{mode}2d_aa`` on a 4-D input (bilinear, bicubic, lanczos)."""
    _check_upsample(input, out)
    op, kernel, width = _ANTIALIASING[mode]
    if input.dtype.name == "uint8":
        return _fixed_point(input, out, scales, kernel, width, align_corners, True)
    if input.dtype.name not in ("float32", "float64"):
        raise _dtype.kernel_missing("compute_index_ranges_weights", input.dtype)
    dtype = input.dtype.np.type
    tables = _static_tables(
        _antialias_taps(s, o, sc, align_corners, kernel, width, dtype)
        for s, o, sc in zip(input.shape[2:], out, scales, strict=True)
    )
    return dispatch(op, (input,), (("tables", tables),))


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    """torch's ``interpolate``: nearest, nearest-exact, area (adaptive average), linear,
    bilinear, trilinear and bicubic; ``antialias=True`` (bilinear, bicubic and lanczos, 4-D
    input) with the filters and weights of torch's CPU kernels, lanczos being Lanczos-3 and
    only anti-aliased. uint8 bilinear, bicubic and lanczos use torch's int16 fixed-point
    kernel, bit for bit."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    n = input.dim() - 2
    if recompute_scale_factor and size is not None and scale_factor is None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    out, scales = _output_size(
        input, size, scale_factor, n, bool(recompute_scale_factor) or mode == "area"
    )
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
            "requires a 4-D tensor as input"
        )
    spatial = tuple(input.shape[2:])
    if n in (1, 2, 3) and mode in ("nearest", "nearest-exact"):
        _check_upsample(input, out)
        if not input.dtype.is_floating_point and input.dtype.name != "uint8":
            raise _dtype.kernel_missing(_missing_kernel(mode, out), input.dtype)
        exact = mode == "nearest-exact"
        indices = tuple(
            tuple(int(i) for i in _nearest_index(s, o, sc, exact))
            for s, o, sc in zip(spatial, out, scales, strict=True)
        )
        return dispatch(_nearest_ops[exact, n], (input,), (("indices", indices),))
    if n in (1, 2, 3) and mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[n - 1]
        return pool(input, out)
    if mode == "lanczos" and n == 2:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if antialias:
        return _antialiased(input, out, scales, mode, bool(align_corners))
    if mode in _INTERPOLATING:
        want, op, taps = _INTERPOLATING[mode]
        if n == want:
            _check_upsample(input, out)
            if input.dtype.name == "uint8" and mode in _FIXED_POINT:
                kernel, width = _FIXED_POINT[mode]
                return _fixed_point(input, out, scales, kernel, width, bool(align_corners), False)
            if not input.dtype.is_floating_point:
                raise _dtype.kernel_missing(_missing_kernel(mode, out), input.dtype)
            tables = _static_tables(
                taps(s, o, sc, bool(align_corners))
                for s, o, sc in zip(spatial, out, scales, strict=True)
            )
            return dispatch(op, (input,), (("tables", tables),))
        if n in (1, 2, 3) and mode != "bicubic":
            raise NotImplementedError(
                f"Got {input.dim()}D input, but {mode} mode needs {want + 2}D input"
            )
    raise NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the "
        "modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
        f"nearest-exact (got {mode})"
    )


upsample = interpolate


# ================================================================================================
# losses
# ================================================================================================
def _bce_logits(x, y, weight, pos_weight, reduction):
    log_sig = jax.nn.log_sigmoid(x)
    log_one_minus = jax.nn.log_sigmoid(-x)
    if pos_weight is None:
        loss = -(y * log_sig + (1 - y) * log_one_minus)
    else:
        loss = -(pos_weight * y * log_sig + (1 - y) * log_one_minus)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


_bce_with_logits = register(
    "binary_cross_entropy_with_logits",
    _bce_logits,
    "BinaryCrossEntropyWithLogitsBackward0",
    FLOAT,
)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """Sigmoid plus binary cross entropy in one numerically stable op."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    _check_not_differentiable(
        "binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight
    )
    return dispatch(
        _bce_with_logits, (input, target, weight, pos_weight), (("reduction", reduction),)
    )


def _check_not_differentiable(function: str, **args) -> None:
    """torch's error for an argument it has no gradient formula for that requires grad."""
    if not grad_mode.state.enabled:
        return
    for name, t in args.items():
        if t is not None and t.requires_grad:
            raise RuntimeError(
                f"The function '{function}' is not differentiable with respect to argument "
                f"'{name}'. This input cannot have requires_grad True."
            )


def _bce_fwd(x, y, weight, reduction):
    log_x = jnp.maximum(jnp.log(x), -100.0)
    log_1mx = jnp.maximum(jnp.log1p(-x), -100.0)
    loss = -(y * log_x + (1 - y) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


_bce = register("binary_cross_entropy", _bce_fwd, "BinaryCrossEntropyBackward0", FLOAT)


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    arr = _checkable(input)
    if arr is not None and arr.size and ((arr < 0) | (arr > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    _check_not_differentiable("binary_cross_entropy", weight=weight)
    return dispatch(_bce, (input, target, weight), (("reduction", reduction),))


_mse = register(
    "mse_loss", lambda x, y, reduction: _reduce((x - y) ** 2, reduction), "MseLossBackward0", FLOAT
)


def _check_same_size(input, target, name):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_size(input, target, "mse_loss")
    return dispatch(_mse, (input, target), (("reduction", reduction),))


_l1_ops = {
    r: register(
        f"l1_loss_{r}",
        lambda x, y, reduction: _reduce(jnp.abs(x - y), reduction),
        name,
        FLOAT,
    )
    for r, name in (("mean", "MeanBackward0"), ("sum", "SumBackward0"), ("none", "AbsBackward0"))
}


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_size(input, target, "l1_loss")
    return dispatch(_l1_ops[reduction], (input, target), (("reduction", reduction),))


def _smooth_l1_fwd(x, y, beta, reduction):
    d = jnp.abs(x - y)
    if beta == 0:
        loss = d
    else:
        loss = jnp.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss, reduction)


_smooth_l1 = register("smooth_l1_loss", _smooth_l1_fwd, "SmoothL1LossBackward0", FLOAT)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _check_same_size(input, target, "smooth_l1_loss")
    static = (("beta", float(beta)), ("reduction", reduction))
    return dispatch(_smooth_l1, (input, target), static)


def _nll_core(logp, target, weight, ignore_index, reduction):
    """torch's nll_loss on (N, C, ...) log-probabilities: weighted mean over non-ignored."""
    c = logp.shape[1]
    target = target.astype(jnp.int64)
    valid = target != ignore_index
    safe = jnp.where(valid, target, 0)
    picked = jnp.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    w = jnp.ones((c,), logp.dtype) if weight is None else weight
    wt = jnp.where(valid, jnp.take(w, safe), 0).astype(logp.dtype)
    loss = -picked * wt
    if reduction == "none":
        return loss
    if reduction == "sum":
        return jnp.sum(loss)
    return jnp.sum(loss) / jnp.sum(wt)


def _nll_fwd(logp, target, weight, ignore_index, reduction, unbatched):
    if unbatched:
        logp, target = logp[None], target[None]
    out = _nll_core(logp, target, weight, ignore_index, reduction)
    return out[0] if unbatched and reduction == "none" else out


_nll = register("nll_loss", _nll_fwd, "NllLossBackward0", NONE)
_nll2d = register("nll_loss2d", _nll_fwd, "NllLoss2DBackward0", NONE)


def _check_class_target(input, target, weight, name):
    if target.dtype.name not in ("int64", "uint8"):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_type_name(target)}"
        )
    unbatched = input.dim() == 1
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if unbatched:
        if target.dim() != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    else:
        if input.shape[0] != target.shape[0]:
            raise ValueError(
                f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                f"({target.shape[0]})."
            )
        if input.dim() > 2 and tuple(target.shape[1:]) != tuple(input.shape[2:]):
            raise RuntimeError(
                f"Expected target size {[input.shape[0], *input.shape[2:]]}, got "
                f"{list(target.shape)}"
            )
        if input.dim() == 2 and target.dim() != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    c = input.shape[0 if unbatched else 1]
    if weight is not None and (weight.dim() != 1 or weight.numel() != c):
        raise RuntimeError(
            f"weight tensor should be defined either for all {c} classes or no classes but got "
            f"weight tensor of shape: {list(weight.shape)}"
        )
    return unbatched, c


def _checkable(t) -> np.ndarray | None:
    """``t``'s values for an input check, or None inside ``tape.compile``'s trace, where they
    are not known (torch.compile skips such checks too)."""
    array = t._storage.array
    return None if isinstance(array, jax.core.Tracer) else np.asarray(array)


def _check_targets_in_range(target, c, ignore_index):
    arr = _checkable(target)
    if arr is None:
        return
    bad = arr[(arr != ignore_index) & ((arr < 0) | (arr >= c))]
    if bad.size:
        raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    unbatched, c = _check_class_target(input, target, weight, "nll_loss")
    _check_targets_in_range(target, c, ignore_index)
    op = _nll2d if input.dim() > 2 else _nll
    static = (
        ("ignore_index", int(ignore_index)),
        ("reduction", reduction),
        ("unbatched", unbatched),
    )
    return dispatch(op, (input, target, weight), static)


def _ce_fwd(x, target, weight, ignore_index, reduction, smoothing, unbatched):
    if unbatched:
        x, target = x[None], target[None]
    target = target.astype(jnp.int64)
    logp = jax.nn.log_softmax(x, axis=1)
    nll = _nll_core(logp, target, weight, ignore_index, reduction)
    if smoothing > 0:
        c = x.shape[1]
        valid = target != ignore_index
        shape = (1, c) + (1,) * (x.ndim - 2)
        wl = logp if weight is None else logp * weight.reshape(shape)
        smooth = jnp.where(valid, -jnp.sum(wl, axis=1), 0)
        if reduction == "mean":
            if weight is None:
                smooth = jnp.sum(smooth) / jnp.sum(valid)
            else:
                safe = jnp.where(valid, target, 0)
                smooth = jnp.sum(smooth) / jnp.sum(jnp.where(valid, jnp.take(weight, safe), 0))
        elif reduction == "sum":
            smooth = jnp.sum(smooth)
        nll = (1 - smoothing) * nll + smooth * (smoothing / c)
    return nll[0] if unbatched and reduction == "none" else nll


def _ce_probs_fwd(x, target, weight, reduction, smoothing, unbatched):
    if unbatched:
        x, target = x[None], target[None]
    c = x.shape[1]
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / c
    logp = jax.nn.log_softmax(x, axis=1)
    if weight is not None:
        logp = logp * weight.reshape((1, c) + (1,) * (x.ndim - 2))
    prod = logp * target
    if reduction == "mean":
        out = -jnp.sum(prod) / (x.size / c)
    elif reduction == "sum":
        out = -jnp.sum(prod)
    else:
        out = -jnp.sum(prod, axis=1)
    return out[0] if unbatched and reduction == "none" else out


_ce_ops = {
    "nll": register("cross_entropy", _ce_fwd, "NllLossBackward0", NONE),
    "nll2d": register("cross_entropy_2d", _ce_fwd, "NllLoss2DBackward0", NONE),
    "smooth": register("cross_entropy_smoothed", _ce_fwd, "AddBackward0", NONE),
    "probs_mean": register("cross_entropy_probs", _ce_probs_fwd, "DivBackward1", SAME),
    "probs": register("cross_entropy_probs_sum", _ce_probs_fwd, "NegBackward0", SAME),
}


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """log_softmax over dim 1 plus nll_loss in one op; class-index or class-probability targets."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if target.dtype.is_floating_point and tuple(target.shape) == tuple(input.shape):
        if input.dim() < 1:
            raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
        unbatched = input.dim() == 1
        c = input.shape[0 if unbatched else 1]
        if weight is not None and (weight.dim() != 1 or weight.numel() != c):
            raise RuntimeError(
                f"weight tensor should be defined either for all {c} classes or no classes but "
                f"got weight tensor of shape: {list(weight.shape)}"
            )
        if target.dtype is not input.dtype:
            raise RuntimeError(
                f"expected scalar type {_type_name(input)} but found {_type_name(target)}"
            )
        op = _ce_ops["probs_mean" if reduction == "mean" else "probs"]
        static = (
            ("reduction", reduction),
            ("smoothing", float(label_smoothing)),
            ("unbatched", unbatched),
        )
        return dispatch(op, (input, target, weight), static)
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{_type_name(input)}'"
        )
    unbatched, c = _check_class_target(input, target, weight, "cross_entropy")
    _check_targets_in_range(target, c, ignore_index)
    if label_smoothing > 0:
        op = _ce_ops["smooth"]
    else:
        op = _ce_ops["nll2d" if input.dim() > 2 else "nll"]
    static = (
        ("ignore_index", int(ignore_index)),
        ("reduction", reduction),
        ("smoothing", float(label_smoothing)),
        ("unbatched", unbatched),
    )
    return dispatch(op, (input, target, weight), static)


# ================================================================================================
# more activations
# ================================================================================================
_logsigmoid = register("log_sigmoid", jax.nn.log_sigmoid, "LogSigmoidBackward0", NONE)


def logsigmoid(input):
    return dispatch(_logsigmoid, (input,))


def gumbel_softmax(logits, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim=-1):
    """Softmax of ``(logits + Gumbel noise) / tau`` (the noise ``-log(Exponential(1))`` from
    torch's draws); ``hard`` returns one-hot samples whose gradient is the soft one's."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -creation.empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = creation.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-input)``, as torch computes it."""
    dim = _softmax_dim("softmin", input.dim(), dim)
    return softmax(-input, dim, dtype=dtype)


def _glu_fwd(x, axis):
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


_glu = register("glu", _glu_fwd, "GluBackward0", NONE)


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = _softmax_dim("glu", input.dim(), dim)
    if input.shape[axis] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {axis} is size {input.shape[axis]}"
        )
    return dispatch(_glu, (input,), (("axis", axis),))


def _hardsigmoid_fwd(x):
    """``relu6(x + 3) / 6``; torch's gradient is 1/6 strictly inside (-3, 3), else 0 (NaN too)."""
    y = jnp.where((x > -3) & (x < 3), x / 6 + 0.5, jnp.where(x >= 3, 1, 0)).astype(x.dtype)
    return jnp.where(jnp.isnan(x), lax.stop_gradient(x), y)


_hardsigmoid = register("hardsigmoid", _hardsigmoid_fwd, "HardsigmoidBackward0", NONE)


def hardsigmoid(input, inplace=False):
    return _activation(_hardsigmoid, input, inplace)


def _hardswish_fwd(x):
    """``x * relu6(x + 3) / 6``; torch's gradient is ``x / 3 + 0.5`` strictly inside (-3, 3), 0
    below, 1 above (NaN too)."""
    inside = jnp.where((x > -3) & (x < 3), x, 0)
    return jnp.where(x <= -3, x * 0, jnp.where(x < 3, inside * (inside + 3) / 6, x))


_hardswish = register("hardswish", _hardswish_fwd, "HardswishBackward0", NONE)


def hardswish(input, inplace=False):
    return _activation(_hardswish, input, inplace)


_mish = register("mish", lambda x: x * jnp.tanh(jax.nn.softplus(x)), "MishBackward0", NONE)


def mish(input, inplace=False):
    return _activation(_mish, input, inplace)


def _prelu_fwd(x, w):
    if x.ndim > 1:
        w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    return jnp.where(x > 0, x, w * x)


_prelu = register("prelu", _prelu_fwd, "PreluKernelBackward0", SAME)


def prelu(input, weight):
    n = weight.numel()
    if n != 1:
        if input.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        c = input.shape[1] if input.dim() > 1 else 1
        if c != n:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                f"{n} and channel size = {c}."
            )
    if weight.dim() > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.dim()}"
        )
    return dispatch(_prelu, (input, weight))


# ================================================================================================
# distances, normalize, attention
# ================================================================================================
def _pnorm(x, p, axis, keepdims):
    if p == 2:
        return jnp.sqrt(jnp.sum(x * x, axis=axis, keepdims=keepdims))
    if p == 1:
        return jnp.sum(jnp.abs(x), axis=axis, keepdims=keepdims)
    if p == float("inf"):
        return jnp.max(jnp.abs(x), axis=axis, keepdims=keepdims)
    return jnp.sum(jnp.abs(x) ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


_normalize = register(
    "normalize",
    lambda x, p, axis, eps: x / jnp.maximum(_pnorm(x, p, axis, True), eps),
    "DivBackward0",
    NONE,
)


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every axis but ``dim`` (all of them for -1), shaped to
    broadcast against ``v``: torch's composition, so its grad_fn names are torch's."""
    if dim == -1:
        return v.norm(pow)
    if dim == 0:
        size = [v.size(0)] + [1] * (v.dim() - 1)
        return v.contiguous().view(v.size(0), -1).norm(pow, 1).view(size)
    if dim == v.dim() - 1:
        size = [1] * (v.dim() - 1) + [v.size(-1)]
        return v.contiguous().view(-1, v.size(-1)).norm(pow, 0).view(size)
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)


def _weight_norm_fwd(v, g, dim):
    axes = tuple(a for a in range(v.ndim) if a != dim)
    return v * (g / jnp.sqrt(jnp.sum(v * v, axis=axes, keepdims=True)))


_weight_norm_interface = register(
    "weight_norm_interface", _weight_norm_fwd, "WeightNormInterfaceBackward0", SAME
)


def _weight_norm(v, g, dim: int = 0):
    """``v * (g / norm_except_dim(v, 2, dim))``: torch's fused op along the first or last
    axis (not for half precision), its composition elsewhere."""
    if v.dtype.itemsize > 2 and dim in (0, v.dim() - 1):
        return dispatch(_weight_norm_interface, (v, g), (("dim", dim),))
    return v * (g / norm_except_dim(v, 2, dim))


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(‖input‖_p, eps)`` along ``dim``."""
    if out is not None:
        raise NotImplementedError("normalize(out=) is not implemented in tape")
    axis = _softmax_dim("normalize", input.dim(), dim)
    return dispatch(_normalize, (input,), (("p", float(p)), ("axis", axis), ("eps", float(eps))))


def _cosine_fwd(x1, x2, axis, eps):
    x1, x2 = jnp.broadcast_arrays(x1, x2)
    n1 = jnp.maximum(_pnorm(x1, 2, axis, True), eps)
    n2 = jnp.maximum(_pnorm(x2, 2, axis, True), eps)
    return jnp.sum((x1 / n1) * (x2 / n2), axis=axis)


_cosine = register("cosine_similarity", _cosine_fwd, "SumBackward1", SAME)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError as error:
        _raise_broadcast_error((x1, x2), error)
    axis = _softmax_dim("cosine_similarity", len(shape), dim)
    return dispatch(_cosine, (x1, x2), (("axis", axis), ("eps", float(eps))))


_pairwise = register(
    "pairwise_distance",
    lambda x1, x2, p, eps, keepdim: _pnorm(x1 - x2 + eps, p, -1, keepdim),
    "NormBackward1",
    SAME,
)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``‖x1 - x2 + eps‖_p`` over the last dimension."""
    static = (("p", float(p)), ("eps", float(eps)), ("keepdim", bool(keepdim)))
    return dispatch(_pairwise, (x1, x2), static)


def _pixel_shuffle_fwd(x, r, up):
    """Channels to space (``up``) or back, over the last three axes."""
    *lead, c, h, w = x.shape
    if up:
        x = x.reshape(*lead, c // (r * r), r, r, h, w)
        x = jnp.moveaxis(x, (-4, -3), (-3, -1))  # (..., c, h, r, w, r)
        return x.reshape(*lead, c // (r * r), h * r, w * r)
    x = x.reshape(*lead, c, h // r, r, w // r, r)
    x = jnp.moveaxis(x, (-3, -1), (-4, -3))  # (..., c, r, r, h, w)
    return x.reshape(*lead, c * r * r, h // r, w // r)


_pixel_shuffle = register(
    "pixel_shuffle", _pixel_shuffle_fwd, "PixelShuffleBackward0", NONE, "none"
)
_pixel_unshuffle = register(
    "pixel_unshuffle", _pixel_shuffle_fwd, "PixelUnshuffleBackward0", NONE, "none"
)


def _check_shuffle(name: str, input, r: int, what: str) -> None:
    if input.dim() < 3:
        raise RuntimeError(
            f"{name} expects input to have at least 3 dimensions, but got input with "
            f"{input.dim()} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"{name} expects a positive {what}, but got {r}")


def pixel_shuffle(input, upscale_factor):
    r = int(upscale_factor)
    _check_shuffle("pixel_shuffle", input, r, "upscale_factor")
    c = input.shape[-3]
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
            f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    return dispatch(_pixel_shuffle, (input,), (("r", r), ("up", True)))


def pixel_unshuffle(input, downscale_factor):
    r = int(downscale_factor)
    _check_shuffle("pixel_unshuffle", input, r, "downscale_factor")
    for axis, name in ((-2, "height"), (-1, "width")):
        if input.shape[axis] % r:
            raise RuntimeError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                f"input.size({axis})={input.shape[axis]} is not divisible by {r}"
            )
    return dispatch(_pixel_unshuffle, (input,), (("r", r), ("up", False)))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``input / sqrt(mean(input**2) + eps)`` over the last ``len(normalized_shape)`` dimensions,
    times ``weight``; composed of tape's ops as torch's CPU kernel composes it (its graph too).
    ``eps`` defaults to the dtype's machine epsilon."""
    dims = _normalized_axes(input, normalized_shape, "*")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"rms_norm\" not implemented for '{_type_name(input)}'")
    # torch computes half and bfloat16 in float32 (its "opmath" type), whose epsilon is the
    # default ``eps``
    x = input.float() if input.dtype in (_dtype.float16, _dtype.bfloat16) else input
    if eps is None:
        eps = float(np.finfo(x.dtype.np).eps)
    out = (x * (x.pow(2).mean(dims, keepdim=True) + eps).rsqrt()).to(input.dtype)
    return out if weight is None else (out * weight).to(out.dtype)


def _sdpa_fwd(q, k, v, mask, noise, scale, causal):
    scores = jnp.matmul(q, jnp.swapaxes(k, -1, -2)) * jnp.asarray(scale, q.dtype)
    if causal:
        lq, lk = q.shape[-2], k.shape[-2]
        mask = jnp.tril(jnp.ones((lq, lk), bool))
    if mask is not None:
        if mask.dtype == jnp.bool_:
            scores = jnp.where(mask, scores, -jnp.inf)
        else:
            scores = scores + mask
    weights = jax.nn.softmax(scores, axis=-1)
    if noise is not None:
        weights = weights * noise
    return jnp.matmul(weights, v)


# torch's CPU flash kernel for 4-D inputs without dropout or a mask that needs a gradient; its
# math path otherwise.
_sdpa_ops = {
    True: register("sdpa_flash", _sdpa_fwd, "ScaledDotProductFlashAttentionForCpuBackward0", NONE),
    False: register("sdpa_math", _sdpa_fwd, "UnsafeViewBackward0", NONE),
}


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
):
    """``softmax(q @ k.T * scale + mask) @ v``; a bool mask marks the positions that take part.
    ``dropout_p > 0`` draws its mask from tape's generator (not torch's values)."""
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention(enable_gqa=True) is not in tape")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    noise = None
    if dropout_p > 0:
        from tape import _random, creation

        shape = (*query.shape[:-1], key.shape[-2])
        np_dtype = query.dtype.np
        if dropout_p >= 1:
            mask = np.zeros(shape, np_dtype)
        else:
            mask = _random.default_generator.bernoulli(1.0 - dropout_p, shape, np_dtype)
            mask = mask / np_dtype.type(1.0 - dropout_p)
        noise = creation.tensor(mask, dtype=query.dtype)
    flash = (
        query.dim() == key.dim() == value.dim() == 4
        and dropout_p == 0
        and (attn_mask is None or not attn_mask.requires_grad)
    )
    static = (("scale", scale), ("causal", bool(is_causal)))
    return dispatch(_sdpa_ops[flash], (query, key, value, attn_mask, noise), static)


# ================================================================================================
# more losses
# ================================================================================================
def _huber_fwd(x, y, delta, reduction):
    d = jnp.abs(x - y)
    return _reduce(jnp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


_huber = register("huber_loss", _huber_fwd, "HuberLossBackward0", FLOAT)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _check_reduction(reduction)
    if weight is not None:
        raise NotImplementedError("huber_loss(weight=) is not implemented in tape")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _check_same_size(input, target, "huber_loss")
    static = (("delta", float(delta)), ("reduction", reduction))
    return dispatch(_huber, (input, target), static)


def _loss_reduction(size_average, reduce, reduction: str) -> str:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return reduction


def _reduced(loss, reduction: str):
    """torch's ``apply_loss_reduction`` for a loss composed of tape's ops (its graph then ends
    in ``MeanBackward0`` or ``SumBackward0``, as torch's does)."""
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def margin_ranking_loss(
    input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"
):
    """``max(0, -target * (input1 - input2) + margin)``."""
    reduction = _loss_reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} "
        )
    return _reduced((-target * (input1 - input2) + margin).clamp_min_(0), reduction)


def hinge_embedding_loss(
    input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
):
    """``input`` where ``target`` is 1, ``max(0, margin - input)`` where it is -1."""
    reduction = _loss_reduction(size_average, reduce, reduction)
    zeros = creation.zeros_like(input)
    margin_clamp = (margin - input).clamp_min_(0)
    out = elementwise.where(target != 1, margin_clamp, zeros)
    return _reduced(out + elementwise.where(target != -1, input, zeros), reduction)


def _soft_margin_fwd(x, y, reduction):
    return _reduce(jnp.log1p(jnp.exp(-y * x)), reduction)


_soft_margin = register("soft_margin_loss", _soft_margin_fwd, "SoftMarginLossBackward0", SAME)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``log(1 + exp(-target * input))``."""
    reduction = _loss_reduction(size_average, reduce, reduction)
    return dispatch(_soft_margin, (input, target), (("reduction", reduction),))


def cosine_embedding_loss(
    input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"
):
    """``1 - cos(input1, input2)`` where ``target`` is 1, ``max(0, cos - margin)`` where -1."""
    reduction = _loss_reduction(size_average, reduce, reduction)
    d = target.dim()
    if d not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if (input1.dim(), input2.dim()) != (d + 1, d + 1):
        raise RuntimeError(
            f"{d}D target tensor expects {d + 1}D input tensors, but found inputs with sizes "
            f"{list(input1.shape)} and {list(input2.shape)}."
        )
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + 1e-12
    mag2 = (input2 * input2).sum(d) + 1e-12
    cos = prod / (mag1 * mag2).sqrt_()
    zeros = creation.zeros_like(cos)
    pos = elementwise.where(target == 1, 1 - cos, zeros)
    neg = elementwise.where(target == -1, (cos - margin).clamp_min_(0), zeros)
    return _reduced(pos + neg, reduction)


def multilabel_soft_margin_loss(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """Binary cross-entropy with logits per class, averaged over the classes."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(dim=input.dim() - 1) / input.shape[-1]
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    return _reduced(loss, reduction)


def poisson_nll_loss(
    input,
    target,
    log_input=True,
    full=False,
    size_average=None,
    eps=1e-8,
    reduce=None,
    reduction="mean",
):
    """``exp(input) - target * input`` (``log_input``), else ``input - target * log(input +
    eps)``; ``full`` adds Stirling's term where ``target > 1``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss += stirling.masked_fill(target <= 1, 0)
    return _reduced(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """``0.5 * (log(var) + (input - target)**2 / var)``, ``var`` clamped at ``eps`` (without
    gradient through the clamp); ``full`` adds ``0.5 * log(2 pi)``."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * creation.ones_like(input)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif (
            input.dim() != var.dim()
            or sum(b for a, b in zip(input.shape, var.shape, strict=True) if a != b) != 1
        ):
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with grad_mode.no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss += 0.5 * math.log(2 * math.pi)
    return _reduced(loss, reduction)


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` with the ``p``-norm
    distance; ``swap`` uses the smaller of d(anchor, negative) and d(positive, negative)."""
    reduction = _loss_reduction(size_average, reduce, reduction)

    def distance(x1, x2):
        return pairwise_distance(x1, x2, p, eps)

    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)


def triplet_margin_with_distance_loss(
    anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False, reduction="mean"
):
    """``triplet_margin_loss`` with any ``distance_function(x1, x2)`` (pairwise by default)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    distance = pairwise_distance if distance_function is None else distance_function
    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)


def _triplet(anchor, positive, negative, distance, margin, swap: bool, reduction: str):
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative "
            f"{dims[2]}D inputs"
        )
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = elementwise.minimum(dist_neg, distance(positive, negative))
    return _reduced((margin + dist_pos - dist_neg).clamp_min(0), reduction)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k=1.0):
    """Each value divided by ``(k + alpha * mean of the squares over the size channels around
    it) ** beta``; torch's composition of ops, so its graph and grad_fn are torch's."""
    dim = input.dim()
    if dim < 3:
        # torch's message, with the spaces its source's line continuation leaves in it
        raise ValueError(
            f"Expected 3D or higher dimensionality{' ' * 26}input (got {dim} dimensions)"
        )
    if input.numel() == 0:
        return input
    squares = input.mul(input)
    before, after = size // 2, (size - 1) // 2
    if dim == 3:
        padded = pad(squares.unsqueeze(1), (0, 0, before, after))
        div = avg_pool2d(padded, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.size()
        planes = squares.view(sizes[0], 1, sizes[1], sizes[2], -1)
        padded = pad(planes, (0, 0, 0, 0, before, after))
        div = avg_pool3d(padded, (size, 1, 1), stride=1).squeeze(1).view(sizes)
    return input / div.mul(alpha).add(k).pow(beta)


def _multi_margin_fwd(x, target, weight, p, margin, reduction):
    """Per sample, over the classes j other than its target y:
    ``sum(max(0, margin - x[y] + x[j]) ** p * weight[y]) / C``."""
    c = x.shape[-1]
    xy = jnp.take_along_axis(x, target[..., None], axis=-1)
    z = margin - xy + x
    z = jnp.where(z > 0, z, 0) ** p
    if weight is not None:
        z = z * weight[target][..., None]
    z = jnp.where(jax.nn.one_hot(target, c, dtype=bool), 0, z)
    return _reduce(jnp.sum(z, axis=-1) / c, reduction)


_multi_margin = register("multi_margin_loss", _multi_margin_fwd, "MultiMarginLossBackward0", NONE)


def multi_margin_loss(
    input,
    target,
    p=1,
    margin=1.0,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    reduction = _loss_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    n, c = _margin_frames(input)
    if target.dim() > 1 or target.numel() != n:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{n}], but got "
            f"{list(target.shape)}."
        )
    _check_targets(target, 0, c, "target out of range")
    if input.dim() == 0:  # one sample of one class
        input, target = input.reshape(1), target.reshape(())
    static = (("p", int(p)), ("margin", float(margin)), ("reduction", reduction))
    return dispatch(_multi_margin, (input, target, weight), static)


def _multilabel_margin_fwd(x, target, reduction):
    """Per sample, with its target classes (the indices before its first -1):
    ``sum over targets j and non-targets k of max(0, 1 - (x[j] - x[k])) / C``."""
    c = x.shape[-1]
    valid = jnp.cumprod(target >= 0, axis=-1).astype(bool)
    hot = jax.nn.one_hot(jnp.where(valid, target, c), c + 1, dtype=x.dtype)[..., :c]
    is_target = jnp.max(hot, axis=-2) > 0  # (..., C)
    xj = jnp.sum(hot * x[..., None, :], axis=-1)  # each listed target's input
    z = 1 - xj[..., :, None] + x[..., None, :]  # (..., slots, C)
    z = jnp.where((z > 0) & valid[..., :, None] & ~is_target[..., None, :], z, 0)
    return _reduce(jnp.sum(z, axis=(-2, -1)) / c, reduction)


_multilabel_margin = register(
    "multilabel_margin_loss", _multilabel_margin_fwd, "MultilabelMarginLossBackward0", NONE
)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _loss_reduction(size_average, reduce, reduction)
    n, c = _margin_frames(input)
    ok = target.numel() == c and target.dim() <= 1
    if input.dim() == 2:
        ok = list(target.shape) == [n, c]
    if not ok:
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    _check_targets(target, -1, c, "argument #2 'target' is out of range")
    return dispatch(_multilabel_margin, (input, target), (("reduction", reduction),))


def _margin_frames(input) -> tuple[int, int]:
    """(samples, classes) of a margin loss's input, (C) or (N, C), checked as torch checks it."""
    shape = list(input.shape)
    if not (len(shape) == 0 or (len(shape) in (1, 2) and shape[-1] != 0)):
        raise RuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {shape}"
        )
    if len(shape) <= 1:
        return 1, shape[0] if shape else 1
    return shape[0], shape[1]


def _check_targets(target, low: int, high: int, message: str) -> None:
    """torch's range check of class indices (read on the host, as index bounds are)."""
    values = _device.host_values(target)
    if values is not None and values.size and (values.min() < low or values.max() >= high):
        raise RuntimeError(message)


def _kl_div_fwd(x, y, log_target, reduction):
    if log_target:
        loss = jnp.exp(y) * (y - x)
    else:
        loss = jax.scipy.special.xlogy(y, y) - y * x
    if reduction == "batchmean":
        return jnp.sum(loss) / x.shape[0]
    return _reduce(loss, reduction)


# torch's kl_div ends in its reduction, or in the pointwise formula's last op.
_kl_div_ops = {
    (r, log): register(f"kl_div_{r}_{log}", _kl_div_fwd, name, FLOAT)
    for r, log, name in (
        ("none", False, "SubBackward0"),
        ("none", True, "MulBackward0"),
        ("mean", False, "MeanBackward0"),
        ("mean", True, "MeanBackward0"),
        ("sum", False, "SumBackward0"),
        ("sum", True, "SumBackward0"),
        ("batchmean", False, "DivBackward0"),
        ("batchmean", True, "DivBackward0"),
    )
}


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise ``target * (log target - input)`` (``input`` holds log-probabilities)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            UserWarning,
            stacklevel=2,
        )
    if reduction not in (*_REDUCTIONS, "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _kl_div(input, target, reduction, log_target)


def _kl_div(input, target, reduction: str, log_target: bool):
    # torch's formula reads the target first, and its broadcast error names the shapes so.
    _raise_broadcast_error((target, input), None)
    if reduction == "batchmean" and input.dim() == 0:
        reduction = "sum"
    static = (("log_target", bool(log_target)), ("reduction", reduction))
    return dispatch(_kl_div_ops[(reduction, bool(log_target))], (input, target), static)


# ================================================================================================
# channel dropout, 1-d pooling, adaptive max pooling, instance norm
# ================================================================================================
def _check_dropout_p(p) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, L) or (C, L) input."""
    _check_dropout_p(p)
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, "
            "a channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs)."
        )
    if input.dim() == 3:
        return _dropout_impl(input, p, training, inplace, True)
    return _dropout_impl(input.unsqueeze(0), p, training, inplace, True).squeeze(0)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, H, W) input (3-D input: channels of (N, C, L), as torch)."""
    _check_dropout_p(p)
    if input.dim() not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.dim()}-D input to dropout2d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if input.dim() == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _dropout_impl(input, p, training, inplace, True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, D, H, W) input, or of (C, D, H, W) input."""
    _check_dropout_p(p)
    if input.dim() not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {input.dim()}-D input to dropout3d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    if input.dim() != 5:  # taken as unbatched (as torch does): channels first
        return _dropout_impl(input.unsqueeze(0), p, training, inplace, True).squeeze(0)
    return _dropout_impl(input, p, training, inplace, True)


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Alpha dropout of whole (N, C) channels; masks equal torch's under the same
    ``manual_seed``."""
    _check_dropout_p(p)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)


def _check_1d_rank(input, name: str) -> None:
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument "
            f"#1 'self' (while checking arguments for {name})"
        )


def max_pool1d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    """max_pool2d over a height-1 view, as torch computes it."""
    if input.dim() not in (2, 3):
        raise RuntimeError(
            "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
            f"for input, but got:{_size_str(input)}"
        )
    stride = kernel_size if stride is None or stride == [] or stride == () else stride
    out = max_pool2d(
        input.unsqueeze(-2),
        (1, _pair(kernel_size, 1)[0]),
        (1, _pair(stride, 1)[0]),
        (0, _pair(padding, 1)[0]),
        (1, _pair(dilation, 1)[0]),
        ceil_mode,
        return_indices,
    )
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


max_pool1d_with_indices = max_pool1d


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """avg_pool2d over a height-1 view, as torch computes it."""
    _check_1d_rank(input, "avg_pool1d")
    stride = kernel_size if stride is None or stride == [] or stride == () else stride
    out = avg_pool2d(
        input.unsqueeze(-2),
        (1, _pair(kernel_size, 1)[0]),
        (1, _pair(stride, 1)[0]),
        (0, _pair(padding, 1)[0]),
        ceil_mode,
        count_include_pad,
    )
    return out.squeeze(-2)


def adaptive_avg_pool1d(input, output_size):
    """adaptive_avg_pool2d over a height-1 view, as torch computes it."""
    _check_1d_rank(input, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, _pair(output_size, 1)[0])).squeeze(-2)


def _adaptive_max_table(sizes: tuple, out: tuple) -> np.ndarray:
    """(*out, length): the flat input index of each element of each output cell's window, in
    row-major order; shorter windows are padded, along each axis, by repeating the window's
    first index there: an element seen earlier in the row, so it never wins a tie."""
    flat = np.zeros((), np.int64)
    for size, o in zip(sizes, out, strict=True):
        start = np.arange(o) * size // o
        length = -(-np.arange(1, o + 1) * size // o) - start
        k = np.arange(length.max())
        flat = (flat * size)[..., None, None] + start[:, None] + np.where(k < length[:, None], k, 0)
    n = len(out)
    return flat.transpose(*range(0, 2 * n, 2), *range(1, 2 * n, 2)).reshape(*out, -1)


def _adaptive_max_fwd(x, out_hw):
    """Each output cell's window over the last ``len(out_hw)`` axes gathered into a row and
    reduced by argmax: torch's first maximum, or a NaN; with its flat index in the plane."""
    n = len(out_hw)
    table = jnp.asarray(_adaptive_max_table(x.shape[-n:], out_hw))
    windows = jnp.take(x.reshape(*x.shape[:-n], -1), table, axis=-1)
    k = jnp.argmax(windows, axis=-1)[..., None]
    best = jnp.take_along_axis(windows, k, axis=-1)[..., 0]
    index = jnp.take_along_axis(jnp.broadcast_to(table, windows.shape), k, axis=-1)
    return best, index[..., 0]


_adaptive_max_ops = {
    n: register(
        f"adaptive_max_pool{n}d",
        _adaptive_max_fwd,
        f"AdaptiveMaxPool{n}DBackward0",
        NONE,
        saves="both",
    )
    for n in (2, 3)
}


def _adaptive_max_pool(input, output_size, return_indices: bool, n: int):
    """adaptive_max_pool2d/3d: torch's checks, then one op over the last ``n`` axes."""
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(
            f"adaptive_max_pool{n}d(): Expected {n + 1}D or {n + 2}D tensor, but got: "
            f"{_size_str(input)}"
        )
    out = _adaptive_size(input, output_size, n)
    best, index = dispatch(_adaptive_max_ops[n], (input,), (("out_hw", out),))
    return (best, index) if return_indices else best


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_pool(input, output_size, return_indices, 2)


adaptive_max_pool2d_with_indices = adaptive_max_pool2d


def adaptive_max_pool3d(input, output_size, return_indices: bool = False):
    return _adaptive_max_pool(input, output_size, return_indices, 3)


adaptive_max_pool3d_with_indices = adaptive_max_pool3d


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """torch's: ``adaptive_max_pool2d`` over a height-1 view, squeezed back."""
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument "
            "#1 'self' (while checking arguments for adaptive_max_pool1d)"
        )
    if isinstance(output_size, (tuple, list)):
        (output_size,) = output_size
    best, index = adaptive_max_pool2d(input.unsqueeze(-2), (1, output_size), True)
    best = best.squeeze(-2)
    return (best, index.squeeze(-2)) if return_indices else best


adaptive_max_pool1d_with_indices = adaptive_max_pool1d


def _instance_norm_fwd(x, w, b, eps):
    """Batch norm over the (1, N*C, ...) view, as torch computes it; also returns the
    per-instance mean and biased variance, shaped (N, C)."""
    n, c = x.shape[:2]
    tile = None if w is None else jnp.tile(w, n)
    out, mean, var = _bn_train_fwd(
        x.reshape(1, n * c, *x.shape[2:]), tile, None if b is None else jnp.tile(b, n), eps
    )
    return out.reshape(x.shape), mean.reshape(n, c), var.reshape(n, c)


_instance_norm = register("instance_norm", _instance_norm_fwd, "ViewBackward0", SAME, remat=False)
_instance_norm_eval = register("instance_norm_eval", _bn_eval_fwd, "ViewBackward0", SAME)


def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    """Each (sample, channel) normalized over its own spatial values; the running statistics
    move by the batch mean of the per-instance ones."""
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError(
            f"Expected more than 1 spatial element when training, got input size {input.shape}"
        )
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError(
                "Expected running_mean and running_var to be defined when use_input_stats is false"
            )
        args = (input, running_mean, running_var, weight, bias)
        return dispatch(_instance_norm_eval, args, (("eps", float(eps)),))
    out, mean, var = dispatch(_instance_norm, (input, weight, bias), (("eps", float(eps)),))
    n = math.prod(input.shape[2:])
    with grad_mode.no_grad():
        for running, stat, correction in (
            (running_mean, mean, 1.0),
            (running_var, var, n / (n - 1)),
        ):
            if running is not None:
                static = (("momentum", float(momentum)), ("correction", correction))
                new = dispatch(_bn_update_op, (running, stat.detach().mean(0)), static)
                running.copy_(new)
    return out


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    """Whether the attention inputs are batched; torch's AssertionErrors otherwise."""
    if query.dim() not in (2, 3):
        raise AssertionError(
            "query should be unbatched 2D or batched 3D tensor but received "
            f"{query.dim()}-D query tensor"
        )
    batched = query.dim() == 3
    what = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.dim() != query.dim() or value.dim() != query.dim():
        raise AssertionError(
            f"For {what} `query`, expected `key` and `value` to be {query.dim()}-D but found "
            f"{key.dim()}-D and {value.dim()}-D tensors respectively"
        )
    if key_padding_mask is not None and key_padding_mask.dim() != query.dim() - 1:
        raise AssertionError(
            f"For {what} `query`, expected `key_padding_mask` to be `None` or "
            f"{query.dim() - 1}-D but found {key_padding_mask.dim()}-D tensor instead"
        )
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise AssertionError(
                f"For {what} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                f"{attn_mask.dim()}-D tensor instead"
            )
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.dim() == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(
                f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}"
            )
    return batched


def _canonical_mask(mask, name: str, other, other_name: str, dtype, check_other=True):
    """A bool mask as an additive float mask (-inf where True); float masks pass through."""
    if mask is None:
        return None
    if mask.dtype is not _dtype.bool_ and not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if check_other and other is not None and mask.dtype is not other.dtype:
        warnings.warn(
            f"Support for mismatched {name} and {other_name} is deprecated. Use same type for "
            "both instead.",
            stacklevel=3,
        )
    if mask.is_floating_point():
        return mask
    from tape import creation

    return creation.zeros_like(mask, dtype=dtype).masked_fill_(mask, float("-inf"))


def _in_projection_packed(q, k, v, w, b=None):
    """q, k and v projected by the packed (3E, E) weight, sharing one matmul where they are
    the same tensor (as torch does, which decides the graph's nodes)."""
    e = q.size(-1)
    if k is v:
        if q is k:
            proj = linear(q, w, b).unflatten(-1, (3, e)).unsqueeze(0).transpose(0, -2)
            proj = proj.squeeze(-2).contiguous()
            return proj[0], proj[1], proj[2]
        w_q, w_kv = w.split([e, e * 2])
        b_q, b_kv = (None, None) if b is None else b.split([e, e * 2])
        kv = linear(k, w_kv, b_kv).unflatten(-1, (2, e)).unsqueeze(0).transpose(0, -2)
        kv = kv.squeeze(-2).contiguous()
        return linear(q, w_q, b_q), kv[0], kv[1]
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    w_q, w_k, w_v = w.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
    """torch.nn.functional.multi_head_attention_forward: inputs (L, N, E), or (L, E) unbatched.
    Returns the attention output and, with ``need_weights``, the attention weights (averaged
    over heads unless ``average_attn_weights=False``)."""
    from tape import creation
    from tape.ops.shape import cat

    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", attn_mask, "attn_mask", query.dtype
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
            "method `generate_square_subsequent_mask` to create this mask."
        )
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(
                f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                f"{value.shape[:2]}"
            )
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)
    else:
        if key.shape != value.shape:
            raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    if attn_mask is not None:
        want = (
            (tgt_len, key.shape[0])
            if attn_mask.dim() == 2
            else (bsz * num_heads, tgt_len, key.shape[0])
        )
        if tuple(attn_mask.shape) != want:
            raise RuntimeError(
                f"The shape of the {attn_mask.dim()}D attn_mask is {attn_mask.shape}, but should "
                f"be {want}."
            )
        if attn_mask.dim() == 2:
            attn_mask = attn_mask.unsqueeze(0)
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    q = q.view(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (
        static_k
        if static_k is not None
        else k.view(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    )
    v = (
        static_v
        if static_v is not None
        else v.view(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    )
    if add_zero_attn:
        zeros = creation.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype)
        k = cat([k, zeros], dim=1)
        v = cat([v, zeros], dim=1)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    src_len = k.size(1)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            n, want = (0, bsz) if key_padding_mask.shape[0] != bsz else (1, src_len)
            raise AssertionError(
                f"Expected key_padded_mask.shape[{n}] to be {want}, but got "
                f"{key_padding_mask.shape[n]}"
            )
        key_padding_mask = (
            key_padding_mask.view(bsz, 1, 1, src_len)
            .expand(-1, num_heads, -1, -1)
            .reshape(bsz * num_heads, 1, src_len)
        )
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0
    q_scaled = q * math.sqrt(1.0 / float(q.shape[-1]))
    if attn_mask is not None:
        weights = linalg.baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))
    else:
        weights = linalg.bmm(q_scaled, k.transpose(-2, -1))
    weights = softmax(weights, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, p=dropout_p)
    out = linalg.bmm(weights, v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    out = out.view(tgt_len, bsz, out.size(1))
    if not need_weights:
        return (out if batched else out.squeeze(1)), None
    weights = weights.view(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        return out.squeeze(1), weights.squeeze(0)
    return out, weights
