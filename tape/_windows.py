"""Window functions for signal processing: ``torch.hann_window`` and its kin.

Each is computed as ATen computes it: step by step in float (double for float64), rounded to
the requested dtype after every step, so half-precision windows round as torch's do.

    >>> torch.hann_window(4)
    tensor([0.0000, 0.5000, 1.0000, 0.5000])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tape import _dtype
from tape.creation import _float_dtype, _new
from tape.ops.linalg import cpp_type_name
from tape.tensor import Tensor


def _window(
    name: str,
    build: Callable,
    length: int,
    periodic: bool,
    *,
    dtype=None,
    layout=None,
    device=None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    """Checks torch's arguments, handles the lengths 0 and 1, and runs ``build(rounded, n, i,
    opmath)`` for a symmetric window of ``n`` points ``i`` (one more, cut off after, when
    ``periodic``). ``rounded`` rounds a step's result to the dtype, as ATen's ops do."""
    if isinstance(length, bool) or not isinstance(length, int):
        raise TypeError(
            f"{name}(): argument 'window_length' (position 1) must be int, "
            f"not {type(length).__name__}"
        )
    if length < 0:
        raise RuntimeError(
            f"{name} requires non-negative window_length, got window_length={length}"
        )
    d = _float_dtype(dtype)
    if not d.is_floating_point:
        raise RuntimeError(
            f"{name} expects floating point dtypes, got: TensorOptions(dtype={cpp_type_name(d)}, "
            "device=cpu, layout=Strided (default), requires_grad=false (default), "
            "pinned_memory=false, memory_format=(nullopt))"
        )
    if length <= 1:
        return _new(np.ones(length, d.np), device, requires_grad)
    n = length + 1 if periodic else length
    opmath = np.float64 if d is _dtype.float64 else np.float32

    def rounded(values) -> np.ndarray:
        return np.asarray(values, opmath).astype(d.np).astype(opmath)

    window = build(rounded, n, rounded(np.arange(n, dtype=np.float64)), opmath)
    return _new(window[:length].astype(d.np), device, requires_grad)


def _hamming(alpha: float, beta: float) -> Callable:
    def build(rounded, n, i, opmath):
        w = rounded(np.cos(rounded(i * rounded(opmath(2 * math.pi / (n - 1))))))
        return rounded(rounded(w * rounded(opmath(-beta))) + rounded(opmath(alpha)))

    return build


def _blackman(rounded, n, i, opmath):
    w = rounded(i * rounded(opmath(math.pi / (n - 1))))
    far = rounded(rounded(np.cos(rounded(w * opmath(4)))) * rounded(opmath(0.08)))
    near = rounded(rounded(np.cos(rounded(w * opmath(2)))) * rounded(opmath(0.5)))
    return rounded(rounded(far - near) + rounded(opmath(0.42)))


def _bartlett(rounded, n, i, opmath):
    w = rounded(i * rounded(opmath(2 / (n - 1))))
    half = ((n - 1) >> 1) + 1
    w[half:] = rounded(rounded(w[half:] * opmath(-1)) + opmath(2))
    return w


def _kaiser(beta: float) -> Callable:
    def build(rounded, n, i, opmath):
        alpha = opmath((n - 1) / 2.0)
        ratio = (i - alpha) / alpha
        return np.i0(opmath(beta) * np.sqrt(np.abs(1 - ratio * ratio))) / np.i0(opmath(beta))

    return build


# Each also takes torch's keyword-only dtype, layout, device, pin_memory and requires_grad.
def hann_window(window_length: int, periodic: bool = True, **options) -> Tensor:
    """``0.5 - 0.5 cos(2 pi n / (N - 1))``; ``periodic`` drops the last of N + 1 points."""
    return _window("hann_window", _hamming(0.5, 0.5), window_length, periodic, **options)


def hamming_window(
    window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, **options
) -> Tensor:
    """``alpha - beta cos(2 pi n / (N - 1))``."""
    return _window("hamming_window", _hamming(alpha, beta), window_length, periodic, **options)


def blackman_window(window_length: int, periodic: bool = True, **options) -> Tensor:
    """``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    return _window("blackman_window", _blackman, window_length, periodic, **options)


def bartlett_window(window_length: int, periodic: bool = True, **options) -> Tensor:
    """The triangle ``1 - |2n / (N - 1) - 1|``."""
    return _window("bartlett_window", _bartlett, window_length, periodic, **options)


def kaiser_window(
    window_length: int, periodic: bool = True, beta: float = 12.0, **options
) -> Tensor:
    """``I0(beta sqrt(1 - (2n / (N - 1) - 1)^2)) / I0(beta)``, I0 the modified Bessel function."""
    return _window("kaiser_window", _kaiser(beta), window_length, periodic, **options)
