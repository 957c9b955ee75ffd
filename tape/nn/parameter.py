"""``nn.Parameter``: a leaf Tensor that a Module registers as one of its parameters."""

from __future__ import annotations

from tape.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: a leaf sharing ``data``'s storage, requiring grad.

    >>> p = nn.Parameter(tape.zeros(2))
    >>> p
    Parameter containing:
    tensor([0., 0.], requires_grad=True)
    """

    def __new__(cls, data=None, requires_grad: bool = True):
        return object.__new__(cls)

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if data is None:
            from tape import creation

            data = creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter.__new__(): argument 'data' must be Tensor, not {type(data).__name__}"
            )
        self._init(data._storage, False, None, 0)
        self._is_param = True
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self, *, tensor_contents=None) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        import numpy as np

        return (_rebuild_parameter, (np.asarray(self._storage.array), self.requires_grad))


def _rebuild_parameter(array, requires_grad):
    from tape import creation

    return Parameter(creation.tensor(array), requires_grad)


class Buffer(Tensor):
    """``nn.Buffer(t)``: marks a tensor to be registered as a buffer when assigned to a Module."""

    def __new__(cls, data=None, *, persistent: bool = True):
        return object.__new__(cls)

    def __init__(self, data=None, *, persistent: bool = True) -> None:
        if data is None:
            from tape import creation

            data = creation.empty(0)
        self._init(data._storage, data.requires_grad, None, 0)
        self.persistent = persistent
