"""``grid_sample`` and ``affine_grid`` (torch.nn.functional), as JAX gathers.

Each sampling mode computes integer source indices and weights for every output point, gathers
the input at them and sums; JAX's VJP of that gather gives the gradients of both the input and
the grid. The arithmetic follows torch's CPU kernels step by step (its vectorized 2-D kernel
and its scalar 3-D one differ in how they unnormalize and reflect coordinates), so values agree
to the last bit or two, and gradients at the borders follow torch's convention that a
coordinate exactly on a border is outside it.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from tape import _dtype
from tape.ops.registry import NONE, dispatch, register

__all__ = ["grid_sample", "affine_grid"]

_MODES = ("bilinear", "nearest", "bicubic")
_PADDINGS = ("zeros", "border", "reflection")
_CUBIC_A = -0.75  # torch's cubic convolution constant
_DEFAULT_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since "
    "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
    "documentation of grid_sample for details."
)


# ------------------------------------------------------------------------------------------------
# coordinates
# ------------------------------------------------------------------------------------------------
def _unnormalize(coord, size: int, align: bool, scalar: bool):
    """[-1, 1] to pixel coordinates. ``scalar``: the rounding of torch's scalar (3-D) kernel."""
    if scalar:
        if align:
            return ((coord + 1) / 2) * (size - 1)
        return ((coord + 1) * size - 1) / 2
    if align:
        return (coord + 1) * ((size - 1) / 2)
    return (coord + 1) * (size / 2) - 0.5


def _clip(x, size: int, scalar: bool):
    """Clamp to [0, size - 1]; the gradient is 0 on the borders too, as in torch.

    NaN goes where torch's kernels send it: to 0 in the vector kernel, whose ``max`` and
    ``min`` drop it, and to ``size - 1`` in the scalar one (``std::min(hi, std::max(nan, 0))``).
    """
    inside = (x > 0) & (x < size - 1)
    edge = jnp.where(jnp.isnan(x), size - 1 if scalar else 0, jnp.clip(x, 0, size - 1))
    return jnp.where(inside, x, lax.stop_gradient(edge))


def _reflect(x, size: int, align: bool, scalar: bool):
    """Reflect by the borders until in range (then clip, for align_corners=False's margins)."""
    if align:
        if size <= 1:
            return jnp.zeros_like(x)
        low, span = 0.0, float(size - 1)
    else:
        low, span = -0.5, float(size)
    d = jnp.abs(x - low)
    if scalar:
        extra = jnp.fmod(d, span)
        odd = jnp.fmod(jnp.floor(d / span), 2) != 0
        return _clip(jnp.where(odd, span - extra, extra) + low, size, scalar)
    twice = 2 * span
    # torch's vector kernel's remainder, not fmod: the two round differently
    extra = d - lax.stop_gradient(jnp.trunc(d / twice)) * twice
    reflected = twice - extra
    return _clip(jnp.where(extra > reflected, reflected, extra) + low, size, scalar)


def _pad(x, size: int, padding: str, align: bool, scalar: bool):
    """Bring a pixel coordinate in range as ``padding`` says ('zeros' leaves it)."""
    if padding == "border":
        return _clip(x, size, scalar)
    if padding == "reflection":
        return _reflect(x, size, align, scalar)
    return x


# ------------------------------------------------------------------------------------------------
# gathering
# ------------------------------------------------------------------------------------------------
def _gather(flat, sizes: tuple, coords: tuple):
    """``flat[n, :, coords]`` for a stack of taps, in one gather, and where it is in range.

    ``flat`` is (N, C, prod(sizes)); ``coords`` are float arrays of integral values, one per
    spatial axis (slowest first), each (T, N, 1, P) for T taps. Returns the values,
    (T, N, C, P), zero out of range, and the in-range mask, (T, N, 1, P).
    """
    valid = None
    index = None
    for c, s in zip(coords, sizes, strict=True):
        # compared as floats and clamped before the cast, so inf, NaN and huge values are safe
        ok = (c > -1) & (c < s)
        valid = ok if valid is None else valid & ok
        i = jnp.clip(c, 0, s - 1).astype(jnp.int32)
        index = i if index is None else index * s + i
    taps, n, _, points = index.shape
    index = jnp.moveaxis(index[:, :, 0, :], 0, 1).reshape(n, taps * points)
    take = jax.vmap(lambda img, idx: jnp.take(img, idx, axis=1, mode="clip"))
    values = take(flat, index).reshape(n, flat.shape[1], taps, points)
    values = jnp.moveaxis(values, 2, 0)
    return jnp.where(valid, values, jnp.zeros((), flat.dtype)), valid


def _cubic_weights(t):
    """torch's four cubic-convolution weights for taps at -1, 0, 1, 2 from fraction ``t``."""
    a = _CUBIC_A

    def far(x):  # 1 < x < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    def near(x):  # x <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _weighted_sum(weights, values):
    """``w0 * v0 + w1 * v1 + ...`` summed left to right, as torch's kernels do."""
    total = weights[0] * values[0]
    for w, v in zip(weights[1:], values[1:], strict=True):
        total = total + w * v
    return total


# ------------------------------------------------------------------------------------------------
# the op
# ------------------------------------------------------------------------------------------------
def _bicubic(flat, sizes: tuple, pos: list, padding: str, align: bool):
    """4 x 4 taps around each point (images only); torch pads each tap, never the point, so
    that floor(-0.1) stays -1."""
    base = [jnp.floor(p) for p in pos]
    wy, wx = (_cubic_weights(p - b) for p, b in zip(pos, base, strict=True))
    offsets = np.arange(-1, 3, dtype=np.dtype(flat.dtype)).reshape(4, 1, 1, 1)
    ys, xs = (
        _pad(b[None] + offsets, s, padding, align, False) for b, s in zip(base, sizes, strict=True)
    )
    # tap (i, j) is at row i, column j: 16 taps, row-major
    values = _gather(flat, sizes, (jnp.repeat(ys, 4, axis=0), jnp.tile(xs, (4, 1, 1, 1))))[0]
    rows = [_weighted_sum(wx, values[4 * i : 4 * i + 4]) for i in range(4)]
    return _weighted_sum(wy, rows)


def _linear(flat, sizes: tuple, pos: list, scalar: bool):
    """Bilinear or trilinear: the 2 ** k corners around each (padded) point."""
    lo = [jnp.floor(p) for p in pos]
    # corners in torch's order: the slowest axis' low side first
    corners = list(np.ndindex(*(2,) * len(sizes)))
    coords = tuple(
        jnp.stack([b + h for h in side])
        for b, side in zip(lo, zip(*corners, strict=True), strict=True)
    )
    values, valid = _gather(flat, sizes, coords)
    result = None
    for t, corner in enumerate(corners):
        sides = zip(pos, lo, corner, strict=True)
        if scalar:
            # the volume kernel's (x1 - x) * (y1 - y) * (z1 - z), x first; it skips a corner
            # out of range, where the image kernel adds weight * 0 (NaN for an infinite point)
            f = [p - b if h else (b + 1) - p for p, b, h in sides]
            term = jnp.where(valid[t], f[2] * f[1] * f[0] * values[t], 0)
        else:
            # the image kernel's (1 - (y - y0)) * (1 - (x - x0))
            f = [p - b if h else 1 - (p - b) for p, b, h in sides]
            term = f[0] * f[1] * values[t]
        result = term if result is None else result + term
    return result


def _grid_sample_fwd(x, grid, mode: str, padding: str, align: bool):
    """Sample ``x`` (N, C, *in) at ``grid`` (N, *out, k), k = 2 or 3 spatial axes, in the
    input's dtype (half and bfloat16 too, as torch's kernels)."""
    n, c, *sizes = x.shape
    out = grid.shape[1:-1]
    k = len(sizes)
    scalar = k == 3  # torch samples volumes with its scalar kernel, images with a vector one
    # explicit sizes, not -1: any of them may be 0
    flat = x.reshape(n, c, int(np.prod(sizes)))
    g = grid.reshape(n, 1, int(np.prod(out)), k)
    # the grid's last axis lists x (the fastest spatial axis) first
    pos = [_unnormalize(g[..., k - 1 - a], s, align, scalar) for a, s in enumerate(sizes)]
    if mode == "bicubic":
        result = _bicubic(flat, sizes, pos, padding, align)
    else:
        pos = [_pad(p, s, padding, align, scalar) for p, s in zip(pos, sizes, strict=True)]
        if mode == "nearest":
            # jnp.round rounds half to even, as torch's nearbyint
            result = _gather(flat, sizes, tuple(jnp.round(p)[None] for p in pos))[0][0]
        else:
            result = _linear(flat, sizes, pos, scalar)
    return result.reshape(n, c, *out)


_grid_sampler_2d = register(
    "grid_sampler_2d", _grid_sample_fwd, "GridSampler2DBackward0", NONE, "inputs"
)
_grid_sampler_3d = register(
    "grid_sampler_3d", _grid_sample_fwd, "GridSampler3DBackward0", NONE, "inputs"
)


def _check_bool(value, where: str) -> None:
    """torch's argument parser's TypeError for a non-bool ``align_corners``."""
    if not isinstance(value, bool):
        kind = type(value)
        name = (
            kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        )
        raise TypeError(f"{where} must be bool, not {name}")


def _sizes(t) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _dim_size(t, dim: int) -> int:
    """``t.size(dim)``, with torch's IndexError for a 0-d tensor."""
    if t.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return t.shape[dim]


def _check_sampler(input, grid, mode: str) -> None:
    """torch's checks in ``grid_sampler_2d``/``_3d`` (GridSamplerUtils.h), in its order."""
    k = input.dim() - 2
    if _dim_size(input, 0) != _dim_size(grid, 0):
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {_sizes(input)} and grid with sizes {_sizes(grid)}"
        )
    if grid.shape[-1] != k:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {k} in last dimension, but got grid "
            f"with sizes {_sizes(grid)}"
        )
    for i in range(2, input.dim()):
        if input.shape[i] <= 0:
            raise RuntimeError(
                "grid_sampler(): expected input to have non-empty spatial dimensions, but input "
                f"has sizes {_sizes(input)} with dimension {i} being empty"
            )
    want = 4 if input.dim() == 4 else 5
    if input.dim() != want or grid.dim() != want:
        raise RuntimeError(
            f"grid_sampler(): expected {want}D input and grid with same number of dimensions, "
            f"but got input with sizes {_sizes(input)} and grid with sizes {_sizes(grid)}"
        )
    if want == 5 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input.dtype.is_floating_point:
        kernel = "grid_sampler_2d_cpu_kernel_impl" if want == 4 else "grid_sampler3d_cpu"
        raise _dtype.kernel_missing(kernel, input.dtype)
    if grid.dtype is not input.dtype:
        raise RuntimeError(
            f"expected scalar type {_dtype.scalar_type_name(input.dtype)} but found "
            f"{_dtype.scalar_type_name(grid.dtype)}"
        )


def grid_sample(
    input,
    grid,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
):
    """torch.nn.functional.grid_sample: sample ``input`` (N, C, H, W) or (N, C, D, H, W) at the
    normalized points of ``grid`` (N, H', W', 2) or (N, D', H', W', 3)."""
    if mode not in _MODES:
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        )
    if padding_mode not in _PADDINGS:
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            f"'reflection', but got: '{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn(_DEFAULT_WARNING, stacklevel=2)
        align_corners = False
    _check_bool(align_corners, "grid_sampler(): argument 'align_corners' (position 5)")
    _check_sampler(input, grid, mode)
    op = _grid_sampler_2d if input.dim() == 4 else _grid_sampler_3d
    static = (("mode", mode), ("padding", padding_mode), ("align", align_corners))
    return dispatch(op, (input, grid), static)


# ------------------------------------------------------------------------------------------------
# affine_grid
# ------------------------------------------------------------------------------------------------
def _linspace(steps: int, dtype) -> np.ndarray:
    """torch's ``linspace(-1, 1, steps)`` on CPU, bit for bit in float32 and float64: each half
    is ``start + step * i`` from its own end, rounded once (a fused multiply-add)."""
    step = Fraction(float(dtype.type(2.0) / dtype.type(steps - 1)))
    values = [-1 + step * i if i < steps // 2 else 1 - step * (steps - 1 - i) for i in range(steps)]
    return np.array([float(v) for v in values]).astype(dtype)


def _base_axis(steps: int, align: bool, dtype) -> np.ndarray:
    """One axis of torch's base grid: the pixel centres in [-1, 1]."""
    if steps <= 1:
        return np.zeros(max(steps, 0), dtype)  # torch puts a unit axis at the centre
    values = _linspace(steps, dtype)
    if not align:
        # torch's ``range * (steps - 1) / steps``, rounded after each step
        values = (values * dtype.type(steps - 1)) / dtype.type(steps)
    return values


def _affine_grid_fwd(theta, spatial: tuple, align: bool):
    """``base @ theta^T`` for the homogeneous base grid of the ``spatial`` sizes (D, H, W)."""
    dtype = np.dtype(theta.dtype)
    axes = [_base_axis(s, align, dtype) for s in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    # columns x, y[, z], 1: the fastest axis first
    base = np.stack([*mesh[::-1], np.ones_like(mesh[0])], axis=-1).reshape(-1, len(spatial) + 1)
    grid = jnp.matmul(jnp.asarray(base), jnp.swapaxes(theta, 1, 2))
    return grid.reshape(theta.shape[0], *spatial, len(spatial))


_affine_grid = register(
    "affine_grid_generator", _affine_grid_fwd, "AffineGridGeneratorBackward0", NONE, "inputs"
)


def affine_grid(theta, size, align_corners: bool | None = None):
    """torch.nn.functional.affine_grid: the sampling grid of the affine maps ``theta``,
    (N, 2, 3) for ``size`` (N, C, H, W) or (N, 3, 4) for (N, C, D, H, W)."""
    if align_corners is None:
        warnings.warn(_DEFAULT_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(
            f"Expected theta to have floating point type, but got torch.{theta.dtype.name}"
        )
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(
                f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                f"{theta.shape}."
            )
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(
                f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                f"{theta.shape}."
            )
        spatial = size[-3:]
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {size}."
        )
    if align_corners and min(spatial) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the "
            "documentation of affine_grid for details.",
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    _check_bool(align_corners, "affine_grid_generator(): argument 'align_corners' (position 3)")
    k = len(spatial)
    if size[0] != theta.shape[0]:
        # torch multiplies a base grid of size[0] batches by theta with bmm
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{size[0]}, {k + 1}] but got: [{theta.shape[0]}, {k + 1}]."
        )
    spatial = tuple(int(s) for s in spatial)
    return dispatch(_affine_grid, (theta,), (("spatial", spatial), ("align", align_corners)))
