"""``parameters_to_vector`` and ``vector_to_parameters``, as ``torch.nn.utils``."""

from __future__ import annotations

from collections.abc import Iterable

from tape.nn.module import typename
from tape.ops import shape
from tape.tensor import Tensor


def _check_same_device(param: Tensor, first: Tensor | None) -> Tensor:
    """``first`` (or ``param`` when there is none yet); raises when their devices differ."""
    if first is None:
        return param
    if param.device != first.device:
        raise TypeError(
            "Found two parameters on different devices, this is currently not supported."
        )
    return first


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All ``parameters`` flattened and concatenated into one vector."""
    first = None
    vec = []
    for param in parameters:
        first = _check_same_device(param, first)
        vec.append(param.view(-1))
    return shape.cat(vec)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter's ``.data`` the next slice of ``vec``, in order."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {typename(vec)}")
    first = None
    pointer = 0
    for param in parameters:
        first = _check_same_device(param, first)
        num_param = param.numel()
        param.data = vec[pointer : pointer + num_param].view_as(param).data
        pointer += num_param
