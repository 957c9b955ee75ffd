"""All ops, by module. ``FUNCTIONS`` maps each public name to its front-end function."""

from tape.ops import elementwise, indexing, inplace, linalg, reduction, registry, shape
from tape.ops.registry import OPS

MODULES = (elementwise, reduction, shape, linalg, indexing)

FUNCTIONS = {
    name: fn
    for module in MODULES
    for name, fn in vars(module).items()
    if callable(fn)
    and not isinstance(fn, type)
    and not name.startswith("_")
    and name not in registry.__all__
    and getattr(fn, "__module__", "") in (module.__name__, registry.__name__)
}

__all__ = ["FUNCTIONS", "OPS", "inplace"]
