"""All ops, by module. ``FUNCTIONS`` maps each public name to its front-end function."""

import functools
import inspect

from tape.ops import (
    elementwise,
    indexing,
    inplace,
    linalg,
    reduction,
    registry,
    sampling,
    shape,
)
from tape.ops.registry import OPS

MODULES = (elementwise, reduction, shape, linalg, indexing, sampling)
# Public in their modules for tape's own use, but not torch functions or Tensor methods.
INTERNAL = frozenset(
    "getitem setitem to_dtype to_device torch_relu cpp_type_name check_same_dtype "
    "in_place_view summed_dims".split()
)
# Tensor methods that torch has no function for (``x.view(...)``, but no ``torch.view``).
METHODS_ONLY = frozenset(
    "view view_as reshape_as expand expand_as contiguous repeat unfold T mT sum_to_size".split()
)


def _keywords(fn):
    """``fn`` also taking torch's other keyword spellings: ``axis`` for ``dim``, and a
    ``*dims`` or ``*shape`` parameter by its name (``x.permute(dims=(1, 0))``)."""
    params = inspect.signature(fn).parameters
    star = next((p.name for p in params.values() if p.kind is p.VAR_POSITIONAL), None)
    axis = "dim" in params
    if star is None and not axis:
        return fn

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if kwargs:
            if axis and "axis" in kwargs:
                kwargs["dim"] = kwargs.pop("axis")
            if star in kwargs:
                args = (*args, kwargs.pop(star))
        return fn(*args, **kwargs)

    return call


FUNCTIONS = {
    name: _keywords(fn)
    for module in MODULES
    for name, fn in vars(module).items()
    if callable(fn)
    and not isinstance(fn, type)
    and not name.startswith("_")
    and name not in INTERNAL
    and name not in registry.__all__
    and getattr(fn, "__module__", "") in (module.__name__, registry.__name__)
}

__all__ = ["FUNCTIONS", "METHODS_ONLY", "OPS", "inplace"]
