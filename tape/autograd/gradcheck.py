"""``gradcheck`` and ``gradgradcheck``: a function's gradients against finite differences.

As torch's slow mode: each input element that requires grad is moved by ``-eps`` and ``+eps``
(in place, through ``.data``, so the function sees it however it reaches the input), the
central differences give the numerical Jacobian, one backward per output element gives the
analytical one, twice (a backward that differs between runs is reported), and the two are
compared with ``allclose(analytical, numerical, rtol, atol)``.

    >>> gradcheck(torch.sin, torch.rand(3, dtype=torch.float64, requires_grad=True))
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from tape import creation
from tape.autograd import engine, grad_mode
from tape.autograd.function import Function
from tape.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` and ``gradgradcheck`` when a check fails."""


def _as_tuple(x) -> tuple:
    return x if isinstance(x, tuple) else tuple(x) if isinstance(x, list) else (x,)


def _differentiable(values) -> tuple:
    return tuple(o for o in _as_tuple(values) if isinstance(o, Tensor) and o.requires_grad)


def _check_inputs(inputs: tuple) -> list:
    wanted = []
    for idx, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            if x.dtype.name != "float64":
                warnings.warn(
                    f"Input #{idx} requires gradient and is not a double precision floating "
                    "point or complex. This check will likely fail if all the inputs are not "
                    "of double precision floating point or complex. ",
                    stacklevel=3,
                )
            if any(st == 0 and n > 1 for st, n in zip(x.stride(), x.shape, strict=True)):
                raise RuntimeError(
                    f"The {idx}th input has a dimension with stride 0. gradcheck only supports "
                    "inputs that are non-overlapping to be able to compute the numerical "
                    "gradients correctly. You should call .contiguous on the input before "
                    "passing it to gradcheck."
                )
            wanted.append(x)
    if not wanted:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of them "
            "have requires_grad=True."
        )
    return wanted


def _numerical(func, inputs: tuple, wanted: list, outputs: tuple, eps: float) -> list:
    """``jac[o][i]``: (numel of input i, numel of output o), in output o's dtype."""
    jac = [[None] * len(wanted) for _ in outputs]
    for i, x in enumerate(wanted):
        data = x.data
        orig = data.clone()
        base = orig.detach().cpu().numpy()
        cols = [[] for _ in outputs]
        for k in range(base.size):
            outs = []
            for step in (-eps, eps):
                moved = base.copy().reshape(-1)
                moved[k] += step
                with grad_mode.no_grad():
                    data.copy_(creation.tensor(moved.reshape(base.shape), dtype=x.dtype))
                # copies: an output may be the input itself, which the next step moves
                outs.append(tuple(o.detach().clone() for o in _as_tuple(func(*inputs))))
            for o, (a, b) in enumerate(zip(*outs, strict=True)):
                cols[o].append(((b - a) / (2 * eps)).reshape(-1))
        with grad_mode.no_grad():
            data.copy_(orig)
        for o, out in enumerate(outputs):
            stacked = [c.to(out.dtype) for c in cols[o]]
            jac[o][i] = (
                _stack(stacked) if stacked else creation.zeros(0, out.numel(), dtype=out.dtype)
            )
    return jac


def _stack(rows: list) -> Tensor:
    from tape.ops.shape import stack

    return stack(rows)


def _analytical(output: Tensor, wanted: list, check_grad_dtypes: bool) -> list:
    """``jac[i]``: (numel of input i, numel of output), one backward per output element."""
    cols = [[] for _ in wanted]
    flat = np.zeros(output.numel(), dtype=output.dtype.np)
    for k in range(output.numel()):
        flat[:] = 0
        flat[k] = 1
        seed = creation.tensor(flat.reshape(tuple(output.shape)), dtype=output.dtype)
        grads = engine.grad(output, wanted, seed, retain_graph=True, allow_unused=True)
        for i, (g, x) in enumerate(zip(grads, wanted, strict=True)):
            cols[i].append(creation.zeros(x.numel(), dtype=x.dtype) if g is None else g.detach())
    if any(g.numel() != x.numel() for c, x in zip(cols, wanted, strict=True) for g in c):
        raise GradcheckError("Analytical gradient has incorrect size")
    if check_grad_dtypes and any(
        g.dtype != x.dtype for c, x in zip(cols, wanted, strict=True) for g in c
    ):
        raise GradcheckError("Gradient has dtype mismatch")
    return [
        _stack([g.reshape(-1).to(x.dtype) for g in c]).t()
        if c
        else creation.zeros(x.numel(), 0, dtype=x.dtype)
        for c, x in zip(cols, wanted, strict=True)
    ]


def _allclose(a: Tensor, b: Tensor, rtol: float, atol: float) -> bool:
    from tape import _dtype

    common = _dtype.promote_types(a.dtype, b.dtype)
    return bool(a.to(common).allclose(b.to(common), rtol, atol))


def _check_zero_cotangents(outputs: tuple, wanted: list) -> None:
    """A backward multiplies by its cotangent: zeros give zero gradients (torch's check)."""
    zeros = [creation.zeros_like(o) for o in outputs]
    grads = engine.grad(outputs, wanted, zeros, allow_unused=True)
    for g, x in zip(grads, wanted, strict=True):
        if g is None:
            continue
        if not bool(g.eq(0).all()):
            raise GradcheckError("backward not multiplied by grad_output")
        if g.dtype != x.dtype:
            raise GradcheckError("grad is incorrect type")
        if g.device != x.device:
            raise GradcheckError("grad is incorrect device")
        if tuple(g.shape) != tuple(x.shape):
            raise GradcheckError("grad is incorrect size")


class _UndefinedGrad(Function):
    """The identity, whose backward sends no gradient on (torch's ``UndefinedGrad``)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return None


def _check_undefined_grads(func, inputs: tuple, wanted: list) -> None:
    """Backward works when some or all outputs send no gradient, and then gives none or zeros."""
    fresh = _differentiable(func(*inputs))
    checks = [[_UndefinedGrad.apply(o) for o in fresh]]
    if len(fresh) > 1:
        for undefined in range(len(fresh)):
            outs = _differentiable(func(*inputs))
            checks.append(
                [_UndefinedGrad.apply(o) if i == undefined else o for i, o in enumerate(outs)]
            )
    for outs in checks:
        try:
            zeros = [creation.zeros_like(o) for o in outs]
            grads = engine.grad(outs, wanted, zeros, allow_unused=True)
        except RuntimeError as e:
            _warn_undefined()
            raise GradcheckError(
                "Expected backward function to handle undefined output grads. Please look at "
                '"Notes about undefined output gradients" in "tools/autograd/derivatives.yaml"'
            ) from e
        if any(g is not None and not bool(g.eq(0).all()) for g in grads):
            _warn_undefined()
            raise GradcheckError(
                "Expected all input grads to be undefined or zero when all output grads are "
                'undefined or zero. Please look at "Notes about undefined output gradients" in '
                '"tools/autograd/derivatives.yaml"'
            )


def _warn_undefined() -> None:
    warnings.warn(
        "Backwards compatibility: New undefined gradient support checking feature is enabled "
        "by default, but it may break existing callers of this function. If this is true for "
        'you, you can call this function with "check_undefined_grad=False" to disable the '
        "feature",
        stacklevel=4,
    )


def _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes):
    inputs = _as_tuple(inputs)
    wanted = _check_inputs(inputs)
    func_out = _as_tuple(func(*inputs))
    outputs = _differentiable(func_out)
    numerical = _numerical(func, inputs, wanted, func_out, eps)
    if not outputs:
        if any(bool(j.ne(0).any()) for per_out in numerical for j in per_out):
            raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    numerical = [n for o, n in zip(func_out, numerical, strict=True) if o.requires_grad]
    for o, output in enumerate(outputs):
        first = _analytical(output, wanted, check_grad_dtypes)
        again = _analytical(output, wanted, check_grad_dtypes)
        for a, b in zip(first, again, strict=True):
            if a.numel() and float((a - b).abs().max()) > nondet_tol:
                raise GradcheckError(
                    "Backward is not reentrant, i.e., running backward with same input and "
                    "grad_output multiple times gives different values, although analytical "
                    "gradient matches numerical gradient.The tolerance for nondeterminism was "
                    f"{nondet_tol}.\n\nIf the gradient may vary between runs, call "
                    "gradcheck/gradgradcheck with `nondet_tol=<tol>` as a keyword argument.\n"
                )
        for i, (a, n) in enumerate(zip(first, numerical[o], strict=True)):
            if not _allclose(a, n, rtol, atol):
                raise GradcheckError(
                    f"Jacobian mismatch for output {o:d} with respect to input {i:d},\n"
                    f"numerical:{n}\nanalytical:{a}\n"
                )
    _check_zero_cotangents(outputs, wanted)
    if check_undefined_grad:
        _check_undefined_grads(func, inputs, wanted)
    return True


def _unsupported(**flags) -> None:
    for name, on in flags.items():
        if on:
            raise NotImplementedError(
                f"gradcheck: {name}=True is not supported by tape (it has no forward-mode AD "
                "and no batched backward); call it without that option"
            )


def gradcheck(
    func: Callable,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    """True if ``func``'s analytical gradients match finite differences for every input that
    requires grad; else raises ``GradcheckError`` (or returns False with
    ``raise_exception=False``). ``fast_mode`` runs the same full check."""
    _unsupported(
        check_batched_grad=check_batched_grad,
        check_batched_forward_grad=check_batched_forward_grad,
        check_forward_ad=check_forward_ad,
    )
    if not check_backward_ad:
        return True
    args = (func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes)
    if raise_exception:
        return _gradcheck(*args)
    try:
        return _gradcheck(*args)
    except GradcheckError:
        return False


def gradgradcheck(
    func: Callable,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """``gradcheck`` of the gradient: the function from inputs and output cotangents to the
    input gradients (``autograd.grad`` with ``create_graph=True``). Cotangents not given are
    drawn uniformly from [-1, 1)."""
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        grad_outputs = tuple(
            (creation.rand(tuple(o.shape), dtype=o.dtype) * 2 - 1).requires_grad_()
            for o in _differentiable(func(*inputs))
        )
    grad_outputs = _as_tuple(grad_outputs)
    n = len(grad_outputs)
    diff_inputs = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def gradients(*args):
        outputs = _differentiable(func(*args[:-n]))
        grads = engine.grad(
            outputs,
            [args[i] for i in diff_inputs],
            list(args[-n:]),
            create_graph=True,
            allow_unused=True,
        )
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        gradients,
        inputs + grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        check_batched_grad=check_batched_grad,
        check_forward_ad=check_fwd_over_rev,
        check_backward_ad=check_rev_over_rev,
        fast_mode=fast_mode,
        masked=masked,
    )
