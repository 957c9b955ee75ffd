"""Text rendering of tensors, matching ``repr(torch.Tensor)`` character for character.

The module works on plain numpy arrays so it can be used (and tested) without JAX.
Values are always formatted as Python floats/ints, which is what torch does too
(it calls ``.item()`` / ``.tolist()``), so every float dtype, bfloat16 included,
prints from its exact double value.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

__all__ = ["format_tensor", "get_printoptions", "set_printoptions"]


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


_OPTS = _PrintOptions()

# profile name -> (precision, threshold, edgeitems, linewidth)
_PROFILES: dict[str, tuple[int, float, int, int]] = {
    "default": (4, 1000, 3, 80),
    "short": (2, 1000, 2, 80),
    "full": (4, math.inf, 3, 80),
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set print options; same semantics as ``torch.set_printoptions``.

    A profile (``"default"``, ``"short"``, ``"full"``) is applied first and the
    explicit arguments override it. Like torch, ``sci_mode`` is always assigned,
    so omitting it restores automatic selection.
    """
    if profile in _PROFILES:
        _OPTS.precision, _OPTS.threshold, _OPTS.edgeitems, _OPTS.linewidth = _PROFILES[profile]
    if precision is not None:
        _OPTS.precision = precision
    if threshold is not None:
        _OPTS.threshold = threshold
    if edgeitems is not None:
        _OPTS.edgeitems = edgeitems
    if linewidth is not None:
        _OPTS.linewidth = linewidth
    _OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Return the current options as kwargs accepted by :func:`set_printoptions`."""
    return dataclasses.asdict(_OPTS)


def _is_floating(dtype: np.dtype) -> bool:
    # ml_dtypes types (bfloat16, float8_*) have kind "V", so fall back on the name.
    return dtype.kind == "f" or (dtype.kind == "V" and dtype.name.startswith(("bfloat", "float")))


def _to_python(a: np.ndarray, is_float: bool) -> Any:
    """Convert to (nested lists of) Python scalars, floats via exact float64."""
    return a.astype(np.float64).tolist() if is_float else a.tolist()


class _Formatter:
    """Chooses one fixed/int/scientific style and one column width for a whole tensor."""

    def __init__(self, sample: np.ndarray, is_float: bool) -> None:
        self.is_float = is_float
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if not is_float:
            for v in np.unique(sample).tolist():
                self.width = max(self.width, len(str(v)))
            return

        vals = sample.astype(np.float64)
        vals = vals[np.isfinite(vals) & (vals != 0)]
        if vals.size == 0:
            # Nothing informative (only zeros/nan/inf): torch keeps int mode, fixed notation.
            return
        absvals = np.abs(vals)
        lo, hi = float(absvals.min()), float(absvals.max())
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        if _OPTS.sci_mode is None:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        else:
            self.sci_mode = bool(_OPTS.sci_mode)

        if self.sci_mode:
            spec, extra = f".{_OPTS.precision}e", 0
        elif self.int_mode:
            spec, extra = ".0f", 1  # room for the trailing "." marking a float
        else:
            spec, extra = f".{_OPTS.precision}f", 0
        for v in np.unique(vals).tolist():
            self.width = max(self.width, len(format(v, spec)) + extra)

    def __call__(self, value: Any) -> str:
        if not self.is_float:
            text = str(value)
        elif self.sci_mode:
            text = format(value, f"{self.width}.{_OPTS.precision}e")
        elif self.int_mode:
            text = format(value, ".0f")
            if math.isfinite(value):
                text += "."
        else:
            text = format(value, f".{_OPTS.precision}f")
        return text.rjust(self.width)


def _edge_values(a: np.ndarray) -> np.ndarray:
    """Flat array of the values that remain visible after summarization.

    Mirrors torch's ``get_summarized_data`` including its quirks: with
    ``edgeitems == 0`` a 1-D tensor keeps all values (``a[-0:]`` is everything)
    while a higher-dim tensor keeps none.
    """
    e = _OPTS.edgeitems
    if a.ndim == 0:
        return a.reshape(1)
    n = a.shape[0]
    if a.ndim == 1:
        return np.concatenate((a[:e], a[-e:])) if n > 2 * e else a
    if not e:
        return a.reshape(-1)[:0]
    rows = [*range(e), *range(n - e, n)] if n > 2 * e else range(n)
    return np.concatenate([_edge_values(a[i]) for i in rows])


def _render(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    """Render the bracketed body; ``indent`` is the column just left of ``a``'s bracket."""
    e = _OPTS.edgeitems
    if a.ndim == 0:
        return fmt(_to_python(a, fmt.is_float))

    n = a.shape[0]
    if a.ndim == 1:
        if summarize and not e:
            items = ["..."]
        elif summarize and n > 2 * e:
            head = [fmt(v) for v in _to_python(a[:e], fmt.is_float)]
            tail = [fmt(v) for v in _to_python(a[-e:], fmt.is_float)]
            items = [*head, " ...", *tail]
        else:
            items = [fmt(v) for v in _to_python(a, fmt.is_float)]
        # Every item costs its width plus ", ".
        per_line = max(1, math.floor((_OPTS.linewidth - indent) / (fmt.width + 2)))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"

    if summarize and n > 2 * e:
        slices = [_render(a[i], indent + 1, summarize, fmt) for i in range(e)]
        slices.append("...")
        slices += [_render(a[i], indent + 1, summarize, fmt) for i in range(n - e, n)]
    else:
        slices = [_render(a[i], indent + 1, summarize, fmt) for i in range(n)]
    # One blank line between 2-D slices, two between 3-D slices, and so on.
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """Append ``, key=value`` suffixes and the closing paren, wrapping like torch."""
    parts = [text]
    # torch's own estimate of the last line's length, two more than the truth;
    # reproduced as-is because it decides where the wrap happens.
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_len + len(suffix) + 2 > _OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def format_tensor(
    data: np.ndarray,
    *,
    dtype_name: str,
    show_dtype: bool,
    device: str | None = None,
    requires_grad: bool = False,
    grad_fn_name: str | None = None,
    prefix: str = "tensor(",
) -> str:
    """Return the text ``repr(torch_tensor)`` would produce for a tensor holding ``data``.

    ``show_dtype`` says whether the dtype is non-default (not the default float,
    int64 or bool). Empty tensors always print the dtype unless it is the
    default float, which is inferred as: floating and ``show_dtype`` is False.
    """
    data = np.asarray(data)
    if data.dtype.kind == "c":
        raise TypeError("complex tensors are not supported by format_tensor")
    is_float = _is_floating(data.dtype)
    indent = len(prefix)
    suffixes: list[str] = []
    if device is not None:
        suffixes.append(f"device='{device}'")

    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if show_dtype or not is_float:
            suffixes.append(f"dtype={dtype_name}")
        body = "[]"
    else:
        if not _OPTS.edgeitems:
            suffixes.append(f"size={tuple(data.shape)}")
        if show_dtype:
            suffixes.append(f"dtype={dtype_name}")
        summarize = data.size > _OPTS.threshold
        fmt = _Formatter(_edge_values(data) if summarize else data.reshape(-1), is_float)
        body = _render(data, indent, summarize, fmt)

    if grad_fn_name is not None:
        # A C++ node's name() is qualified (torch::autograd::CopySlices); the repr drops that.
        suffixes.append(f"grad_fn=<{grad_fn_name.rsplit('::', 1)[-1]}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
