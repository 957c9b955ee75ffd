"""Custom autograd functions: ``torch.autograd.Function``, a forward and a backward written
with tensor ops, recorded on the tape as one node.

>>> class Exp(Function):
...     @staticmethod
...     def forward(ctx, x):
...         y = x.exp()
...         ctx.save_for_backward(y)
...         return y
...
...     @staticmethod
...     def backward(ctx, g):
...         (y,) = ctx.saved_tensors
...         return g * y

``Exp.apply(x)`` then has ``grad_fn=<ExpBackward>``. Its backward runs node by node: a graph
that holds one is never compiled into a single program, since the backward is the user's Python.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

from tape.autograd import grad_mode
from tape.autograd.graph import SAVED_FREED, UNLISTED, Node, accumulator_of

_NO_EDGE = (None, 0)


class FunctionCtx:
    """What ``forward`` and ``backward`` see as ``ctx``: torch's ctx is the backward node."""

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors for ``backward`` (``ctx.saved_tensors``); an in-place change to one of
        them before the backward is an error, as for any saved tensor."""
        self.to_save = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs that get no gradient (indices, masks)."""
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors) -> None:
        """Inputs the forward changed in place (accepted; tape records the outputs only)."""
        self.dirty_tensors = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """Whether missing output gradients reach ``backward`` as zeros (default) or None."""
        self.materialize_grads = value


class BackwardCFunction(Node, FunctionCtx):
    """The node of one ``Function.apply``; no ``__slots__``, so ``ctx.anything = ...`` works."""

    custom = True
    _forward_cls: type

    @property
    def saved_tensors(self) -> tuple:
        if self.to_save is None:
            raise RuntimeError(SAVED_FREED)
        self.check_saved()
        return tuple(self.to_save)

    def free(self) -> None:
        super().free()
        if self._saved:
            self.to_save = None

    def __repr__(self) -> str:
        return f"<tape.autograd.function.{type(self).__name__} object at {id(self):#x}>"

    def run_backward(self, grads, create_graph: bool) -> list:
        """The user's ``backward`` on these output gradients; returns input gradients (arrays,
        or Tensors when ``create_graph``), checked and shaped as torch does."""
        from tape import creation
        from tape.tensor import Tensor

        name = type(self).__name__
        outs = []
        for g, meta in zip(grads, self.out_meta, strict=True):
            if g is None and meta is not None and self.materialize_grads:
                g = creation.zeros(meta.shape, dtype=_dtype_of(meta))
            elif g is not None and not isinstance(g, Tensor):
                g = Tensor._wrap(g)
            outs.append(g)
        result = self._forward_cls.backward(self, *outs)
        if not isinstance(result, tuple):
            result = (result,)
        n = len(self.inputs)
        if len(result) > n and all(g is None for g in result[n:]):
            result = result[:n]  # torch accepts trailing Nones
        if len(result) != n:
            raise RuntimeError(
                f"function {name} returned an incorrect number of gradients "
                f"(expected {n}, got {len(result)})"
            )
        grads_in = []
        for i, (g, x, (nxt, _)) in enumerate(zip(result, self.inputs, self.edges, strict=True)):
            if g is None or nxt is None:
                grads_in.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(
                    f"function {name} returned a gradient of type {type(g).__name__} at index "
                    f"{i}; return a Tensor or None for each input of forward"
                )
            want = tuple(x.shape)
            if tuple(g.shape) != want:
                g = _sum_to(g, want, name, i)
            if g.dtype != x.dtype:
                g = g.to(x.dtype)
            grads_in.append(g if create_graph else g._storage.array)
        return grads_in


def _dtype_of(meta):
    from tape import _dtype

    return _dtype._FROM_NP[meta.dtype]


def _sum_to(g, shape: tuple, name: str, index: int):
    """``g`` summed over the dimensions it broadcast ``shape`` to (torch's ``sum_to``)."""
    from tape.ops.shape import summed_dims

    dims = summed_dims(tuple(shape), tuple(g.shape))
    if dims is None:
        raise RuntimeError(
            f"Function {name} returned an invalid gradient at index {index} - got "
            f"{list(g.shape)} but expected shape compatible with {list(shape)}"
        )
    return g.sum(dim=dims, keepdim=True).reshape(shape) if dims else g.reshape(shape)


class Function:
    """Subclass with ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` (static
    methods, or ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``), and call
    ``apply``. ``backward`` returns one gradient (or None) per argument of ``forward``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            f"{type(self)} should not be instantiated. Methods on autograd functions are all "
            "static, so you should invoke them on the class itself. Instantiating an autograd "
            "function will raise an error in a future version of PyTorch.",
            DeprecationWarning,
            stacklevel=2,
        )

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        from tape.tensor import Tensor

        node = _backward_class(cls)()
        node.form = _FORM
        node.to_save = ()
        node.non_differentiable = ()
        node.materialize_grads = True
        node.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with grad_mode.no_grad():
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, output)
            else:
                output = cls.forward(node, *args, **kwargs)
        if not (grad_mode.is_grad_enabled() and any(node.needs_input_grad)):
            return output
        outs = output if isinstance(output, tuple) else (output,)
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        skip = {id(t) for t in node.non_differentiable}
        wrapped = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor):
                if id(o) in inputs:  # an input returned as it is: a new tensor on its storage
                    o = Tensor._of(o._storage)
                if o.dtype.is_floating_point and id(o) not in skip:
                    o._requires_grad = True
                    o._grad_fn = node
                    o._output_nr = i
            wrapped.append(o)
        node.inputs = args
        node.edges = tuple(_edge(a) for a in args)
        node.out_meta = tuple(o._storage.meta if isinstance(o, Tensor) else None for o in outs)
        # A saved output is named by this node in torch's in-place error, not by its grad_fn.
        outputs = {id(o) for o in wrapped}
        node._saved = tuple(
            (None if id(t) in outputs else t, t._storage, t._storage.version)
            for t in node.to_save
            if t is not None
        )
        return tuple(wrapped) if isinstance(output, tuple) else wrapped[0]


class _UserOp:
    """What the compiled backward asks of a producer's op: the user's forward is never
    recomputed inside a program (and a graph with this node runs node by node)."""

    remat = False


class _UserForm:
    op = _UserOp


_FORM = _UserForm()


def _edge(a) -> tuple:
    """Where an argument's gradient goes: tensors that require none are listed with no
    node, and other arguments are not listed at all (as in torch's next_functions)."""
    from tape.tensor import Tensor

    if not isinstance(a, Tensor):
        return UNLISTED
    if not a._requires_grad:
        return _NO_EDGE
    if a._grad_fn is not None:
        return (a._grad_fn, a._output_nr)
    return (accumulator_of(a), 0)


@functools.cache
def _backward_class(cls: type) -> type:
    """``MyFunctionBackward``: the node class of a Function subclass, made once."""
    return type(f"{cls.__name__}Backward", (BackwardCFunction,), {"_forward_cls": cls})


def once_differentiable(backward):
    """Mark a ``backward`` that is not itself differentiable: it runs with grad off."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with grad_mode.no_grad():
            return backward(ctx, *grads)

    return wrapper


__all__ = ["BackwardCFunction", "Function", "FunctionCtx", "once_differentiable"]
