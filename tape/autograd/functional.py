"""``torch.autograd.functional``: Jacobian and Hessian products of a function of tensors, computed
by repeated reverse-mode passes through tape's autograd (``autograd.grad``).

>>> vjp(lambda x: x**2, tape.tensor([1.0, 2.0]), tape.tensor([1.0, 1.0]))
(tensor([1., 4.]), tensor([2., 4.]))

Forward-mode products (``jvp``, ``hvp``) use the double-backward trick, as torch's do;
``vectorize`` and ``strategy`` change how torch batches the passes, not the values, so here
they are accepted and the passes run one by one.
"""

from __future__ import annotations

from tape import creation
from tape.autograd import grad_mode
from tape.autograd.engine import _tensor_cls
from tape.autograd.engine import grad as _grad

_OUTPUT = "The output of the user-provided function"


def _as_tuple(value, what: str, fn: str) -> tuple[bool, tuple]:
    """(whether ``value`` was a tuple, ``value`` as a tuple of tensors), with torch's TypeError
    for anything that is not a tensor."""
    Tensor = _tensor_cls()
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {what}"
            raise TypeError(
                f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors but "
                f"{where} has type {type(item)}."
            )
    return is_tuple, items


def _fresh(tensors, create_graph: bool, track: bool) -> tuple:
    """The inputs the function is differentiated at: new leaves that require grad (``track``),
    or, to keep a graph to them (``create_graph``), views of those that already do."""
    return tuple(
        t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(track)
        for t in tensors
    )


def _finish(result, create_graph: bool):
    """Detach the (nested) results unless a graph was asked for."""
    if isinstance(result, tuple):
        return tuple(_finish(r, create_graph) for r in result)
    return result if create_graph else result.detach()


def _unpack(result: tuple, *is_tuple: bool):
    """Undo ``_as_tuple`` on a result indexed by outputs (and then inputs)."""
    if len(is_tuple) == 2 and not is_tuple[1]:
        result = tuple(r[0] for r in result)
    return result if is_tuple[0] else result[0]


def _check_outputs(outputs, strict: bool) -> None:
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(
                    f"Output {i} of the user-provided function does not require gradients. The "
                    "outputs must be computed in a differentiable manner from the input when "
                    "running in strict mode."
                )


def _check_v(v, ref, ref_is_tuple: bool) -> None:
    if len(v) != len(ref):
        raise RuntimeError(
            f"v is a tuple of invalid length: should be {len(ref)} but got {len(v)}."
            if ref_is_tuple
            else "The given v should contain a single Tensor."
        )
    for i, (a, b) in enumerate(zip(v, ref, strict=True)):
        if tuple(a.shape) != tuple(b.shape):
            prefix = f"Entry {i} in " if ref_is_tuple else ""
            raise RuntimeError(
                f"{prefix}v has invalid size: should be {b.shape} but got {a.shape}."
            )


def _grads(
    outputs,
    inputs,
    grad_outputs,
    create_graph: bool,
    strict: bool,
    what: str,
    retain_graph: bool = True,
) -> tuple:
    """d(outputs)/d(inputs) contracted with ``grad_outputs``; an input the outputs do not reach,
    or that does not require grad, gets zeros (``strict`` raises instead, naming ``what`` it is
    independent of). ``tape.func`` shares it, as torch's ``_autograd_grad``."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs, strict=True) if o.requires_grad]
    wanted = [t for t in inputs if t.requires_grad]
    got = ()
    if pairs and wanted:
        outs, gs = zip(*pairs, strict=True)
        kw = {"retain_graph": retain_graph, "create_graph": create_graph, "allow_unused": True}
        got = _grad(outs, wanted, gs, **kw)
    got = iter(got)
    result = []
    for i, ref in enumerate(inputs):
        g = next(got, None) if ref.requires_grad else None
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{what} is independent of input {i}. This is not allowed in strict mode."
                )
            g = creation.zeros_like(ref)
        result.append(g)
    return tuple(result)


def _outputs_and_v(func, inputs, v, create_graph, strict, fn):
    """(whether the outputs are a tuple, the outputs, ``v`` over them as a tuple) for vjp."""
    outputs = func(*inputs)
    out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn)
    _check_outputs(outputs, strict)
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(
                "The vector v can only be None if the user-provided function returns a single "
                "Tensor with a single element."
            )
        v = (creation.ones_like(outputs[0]),)
    else:
        v = _fresh(_as_tuple(v, "v", fn)[1], create_graph, False)
        _check_v(v, outputs, out_tuple)
    return out_tuple, outputs, v


def _input_vector(v, inputs, in_tuple: bool, create_graph: bool, fn: str) -> tuple:
    """``v`` over the inputs, as a tuple checked against them (ones for one number)."""
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError(
                "The vector v can only be None if the input to the user-provided function is a "
                "single Tensor with a single element."
            )
        return (creation.ones_like(inputs[0]),)
    v = _fresh(_as_tuple(v, "v", fn)[1], create_graph, False)
    _check_v(v, inputs, in_tuple)
    return v


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at ``inputs``."""
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _fresh(inputs, create_graph, True)
        out_tuple, outputs, v = _outputs_and_v(func, inputs, v, create_graph, strict, "vjp")
        product = _grads(outputs, inputs, v, create_graph, strict, _OUTPUT)
    return _unpack(_finish(outputs, create_graph), out_tuple), _unpack(
        _finish(product, create_graph), in_tuple
    )


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product at ``inputs``, by the double-backward
    trick: the VJP is linear in its cotangent ``u``, and its gradient with respect to ``u``
    along ``v`` is J v."""
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _fresh(inputs, create_graph, True)
        v = _input_vector(v, inputs, in_tuple, create_graph, "jvp")
        out_tuple, outputs = _as_tuple(
            func(*inputs), "outputs of the user-provided function", "jvp"
        )
        _check_outputs(outputs, strict)
        u = tuple(creation.zeros_like(o).requires_grad_(True) for o in outputs)
        vjps = _grads(outputs, inputs, u, True, strict, _OUTPUT)
        product = _grads(vjps, u, v, create_graph, strict, "The gradient with respect to the input")
    return _unpack(_finish(outputs, create_graph), out_tuple), _unpack(
        _finish(product, create_graph), out_tuple
    )


def jacobian(
    func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"
):
    """The Jacobian of ``func`` at ``inputs``: for each output and input, a tensor of shape
    ``output.shape + input.shape``, one reverse pass per output element."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".'
        )
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError(
            "torch.autograd.functional.jacobian: `strategy=forward-mode` only works when "
            "`vectorize=True`."
        )
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _fresh(inputs, create_graph, True)
        out_tuple, outputs = _as_tuple(
            func(*inputs), "outputs of the user-provided function", "jacobian"
        )
        _check_outputs(outputs, strict)
        rows = []
        for i, out in enumerate(outputs):
            flat = out.reshape(-1)
            per_input = [[] for _ in inputs]
            for j in range(out.numel()):
                picked = (flat[j],)
                what = f"Output {i} of the user-provided function"
                grads = _grads(picked, inputs, (None,), create_graph, strict, what)
                for k, g in enumerate(grads):
                    per_input[k].append(g)
            rows.append(
                tuple(
                    _stack(gs, inp).view(tuple(out.shape) + tuple(inp.shape))
                    for gs, inp in zip(per_input, inputs, strict=True)
                )
            )
    return _unpack(_finish(tuple(rows), create_graph), out_tuple, in_tuple)


def _stack(grads: list, like):
    from tape.ops.shape import stack

    if not grads:  # an output with no elements
        return creation.zeros((0, *like.shape), dtype=like.dtype)
    return stack(grads, 0)


def hessian(
    func,
    inputs,
    create_graph=False,
    strict=False,
    vectorize=False,
    outer_jacobian_strategy="reverse-mode",
):
    """The Hessian of a scalar ``func``: the Jacobian of its gradient."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar(*xs):
        out_tuple, out = _as_tuple(func(*xs), "outputs of the user-provided function", "hessian")
        if out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out[0].numel() != 1:
            raise RuntimeError(
                "The Tensor returned by the function given to hessian should contain a single "
                "element"
            )
        return out[0].squeeze()

    def gradient(*xs):
        return jacobian(scalar, xs, create_graph=True, strict=strict)

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return _unpack(result, in_tuple, in_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): the vector-Hessian product of a scalar ``func``."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): the Hessian-vector product of a scalar ``func`` (H is symmetric,
    so it is computed as ``vhp``)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, fn):
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", fn)
        inputs = _fresh(inputs, create_graph, True)
        v = _input_vector(v, inputs, in_tuple, create_graph, fn)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn)
        if out_tuple or outputs[0].numel() != 1:
            raise RuntimeError(
                f"The function given to {fn} should return a single Tensor"
                if out_tuple
                else f"The Tensor returned by the function given to {fn} should contain a single "
                "element"
            )
        _check_outputs(outputs, strict)
        jac = _grads(outputs, inputs, (None,), True, strict, _OUTPUT)
        product = _grads(
            jac, inputs, v, create_graph, strict, "The jacobian of the user-provided function"
        )
    return _finish(outputs[0], create_graph), _unpack(_finish(product, create_graph), in_tuple)
