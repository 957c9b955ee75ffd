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


_UNINITIALIZED_USE = (
    "Attempted to use an uninitialized parameter in {}. This error happens when you are using a "
    "`LazyModule` or explicitly manipulating `torch.nn.parameter.UninitializedParameter` "
    "objects. When using LazyModules Call `forward` with a dummy batch to initialize the "
    "parameters before calling torch functions"
)


def _method_name(name: str) -> str:
    return f"<method '{name}' of 'torch._C.TensorBase' objects>"


def _denied(op: str):
    def method(self, *args, **kwargs):
        raise ValueError(_UNINITIALIZED_USE.format(_method_name(op)))

    return method


class UninitializedTensorMixin:
    """A tensor with no shape yet: only ``materialize`` and metadata methods may be used.

    What torch's ``__torch_function__`` filter does, done here per attribute: every other
    public method raises torch's ``ValueError``, and ``.shape`` its ``RuntimeError``.
    """

    cls_to_become: type
    # torch's allowed methods, plus what tape's Module needs to register the tensor
    _allowed = frozenset(
        {
            "materialize", "size", "copy_", "is_complex", "is_floating_point", "half", "float",
            "double", "char", "short", "int", "long", "cuda", "cpu", "to", "get_device",
            "requires_grad_", "cls_to_become",
        }
    )  # fmt: skip

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __getattribute__(self, name: str):
        if name == "shape":
            raise RuntimeError(
                "Can't access the shape of an uninitialized parameter or buffer. This error "
                "usually happens in `load_state_dict` when trying to load an uninitialized "
                "parameter into an initialized one. Call `forward` to initialize the parameters "
                "before accessing their attributes."
            )
        value = object.__getattribute__(self, name)
        if name[0] != "_" and name not in UninitializedTensorMixin._allowed and callable(value):
            raise ValueError(_UNINITIALIZED_USE.format(_method_name(name)))
        return value

    __add__ = __radd__ = _denied("add")
    __sub__ = _denied("sub")
    __mul__ = __rmul__ = _denied("mul")
    __truediv__ = _denied("div")
    __neg__ = _denied("neg")
    __getitem__ = _denied("__getitem__")

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor ``shape`` (uninitialized memory) and its final class."""
        from tape import creation

        device = self.device if device is None else device
        dtype = self.dtype if dtype is None else dtype
        self._storage = creation.empty(shape, device=device, dtype=dtype)._storage
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    __str__ = __repr__

    def __deepcopy__(self, memo):
        return type(self)(self.requires_grad, self.device, self.dtype)


def is_lazy(param) -> bool:
    """Whether ``param`` is an uninitialized parameter or buffer."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter with no shape yet; a lazy module materializes it on its first forward."""

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        from tape import creation

        super().__init__(creation.empty(0, device=device, dtype=dtype), requires_grad)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer with no shape yet; a lazy module materializes it on its first forward."""

    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None) -> None:
        from tape import creation

        self._init(creation.empty(0, device=device, dtype=dtype)._storage, requires_grad, None, 0)
