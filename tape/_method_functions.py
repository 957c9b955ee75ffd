"""torch's top-level functions that are a Tensor method applied to their first argument.

``torch.exp_(x)`` is ``x.exp_()`` and ``torch.numel(x)`` is ``x.numel()``: the method is the one
definition, and the function only checks that ``input`` is a Tensor, as torch does.
"""

from __future__ import annotations

from collections.abc import Callable

from tape.tensor import Tensor

# fmt: off
NAMES = (
    # in place
    "abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ "
    "atan_ atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ detach_ erf_ "
    "erfc_ exp2_ exp_ expm1_ fill_ fix_ floor_ frac_ gcd_ i0_ index_put_ lcm_ ldexp_ log10_ "
    "log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ relu_ round_ "
    "rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ xlogy_ zero_ "
    # queries and aliases
    "adjoint conj detach get_device is_complex is_conj is_floating_point is_inference is_neg "
    "is_nonzero is_signed numel resolve_conj resolve_neg"
).split()
# fmt: on


def _function(name: str) -> Callable:
    method = getattr(Tensor, name)

    def function(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(
                f"{name}(): argument 'input' (position 1) must be Tensor, "
                f"not {type(input).__name__}"
            )
        return method(input, *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``torch.{name}(input, ...)``: ``input.{name}(...)``."
    return function


FUNCTIONS = {name: _function(name) for name in NAMES}
