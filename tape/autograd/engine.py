"""The backward engine: walk the recorded DAG from the roots and push cotangents to the leaves.

Nodes run in torch's order (a ready node with the highest sequence number first; accumulators
as soon as they are ready), so gradients are summed in the same order as torch sums them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tape import _device, _dispatch, _lazy
from tape.autograd import anomaly_mode, compiled, grad_mode
from tape.autograd.compiled import _tensor_cls
from tape.autograd.graph import AccumulateGrad, Node, _type_name, accumulator_of

_add = jax.jit(jnp.add)


def _shape_str(shape) -> str:
    return f"torch.Size({list(shape)})"


def _initial_grad(t, g, index: int, create_graph: bool):
    """The seed cotangent for root ``t``: ones for a scalar, else ``g`` cast to ``t``'s dtype."""
    Tensor = _tensor_cls()
    array = t._storage.meta  # shape and dtype only: the value may still be pending
    if g is None:
        if array.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        if not t.dtype.is_floating_point:
            raise RuntimeError(
                f"grad can be implicitly created only for real scalar outputs but got {t.dtype}"
            )
        g = Tensor._wrap(_device.place_like(np.ones(array.shape, array.dtype), t._storage))
    elif not isinstance(g, Tensor):
        from tape import creation

        g = creation.tensor(g)
    given = g._storage.meta
    if given.shape != array.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[{index}] has a shape of {_shape_str(g.shape)} and "
            f"output[{index}] has a shape of {_shape_str(array.shape)}."
        )
    if given.dtype != array.dtype:
        g = g.to(t.dtype)
    return g if create_graph else g._storage.array


def _root_node(t, index: int):
    if t._requires_grad:
        if t._grad_fn is not None:
            return t._grad_fn, t._output_nr
        node = accumulator_of(t)
        if node is not None:  # None: a view made under no_grad, which torch treats as this
            return node, 0
    raise RuntimeError(
        f"element {index} of tensors does not require grad and does not have a grad_fn"
    )


def backward(
    tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None
) -> None:
    """torch.autograd.backward: accumulate gradients of ``tensors`` into leaves' ``.grad``."""
    Tensor = _tensor_cls()
    if isinstance(tensors, Tensor):
        tensors = (tensors,)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,) * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors, strict=True)):
        node, nr = _root_node(t, i)
        roots.append((node, nr, _initial_grad(t, g, i, create_graph)))
    only = capture = None
    if inputs is not None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        only = {_target(t) for t in inputs}
        # Non-leaf inputs get their gradient in .grad too, as torch does.
        capture = {_target(t): None for t in inputs if t._grad_fn is not None} or None
    _run(roots, retain_graph, create_graph, capture=capture, accumulate=only, outputs=tensors)
    if capture is not None:
        for t in inputs:
            g = capture.get(_target(t)) if t._grad_fn is not None else None
            if g is not None:
                _store_grad(t, g if isinstance(g, Tensor) else Tensor._wrap(g))


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    materialize_grads=False,
):
    """torch.autograd.grad: the gradients of ``outputs`` with respect to ``inputs``, as a tuple."""
    Tensor = _tensor_cls()
    if isinstance(outputs, Tensor):
        outputs = (outputs,)
    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    roots = []  # the outputs are checked first, as in torch
    for i, (t, g) in enumerate(zip(outputs, grad_outputs, strict=True)):
        node, nr = _root_node(t, i)
        roots.append((node, nr, _initial_grad(t, g, i, create_graph)))
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    capture = {_target(t): None for t in inputs}
    _run(roots, retain_graph, create_graph, capture=capture, accumulate=set())
    result = []
    for i, t in enumerate(inputs):
        g = capture[_target(t)]
        if g is None:
            if materialize_grads:
                from tape import creation

                result.append(creation.zeros_like(t))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else Tensor._wrap(g))
    return tuple(result)


def _target(t):
    """Where a tensor's gradient shows up in the graph: (node, output index)."""
    if t._grad_fn is not None:
        return (t._grad_fn, t._output_nr)
    return (accumulator_of(t), 0)


def _run(roots, retain_graph: bool, create_graph: bool, capture, accumulate, outputs=()) -> None:
    order = None
    anomaly = anomaly_mode.state.enabled  # then node by node, each checked
    if not create_graph and capture is None and not anomaly:
        pairs = None if accumulate is not None else compiled.replay(roots, retain_graph, outputs)
        if pairs is None:
            order = compiled.plan(roots)
            pairs = compiled.try_run(order, roots, retain_graph, accumulate, outputs)
        if pairs is not None:
            for leaf, g in pairs:
                if g is not None:
                    _accumulate(leaf, g, False)
            return
    if order is None:
        order = compiled.plan(roots)
    add = _add_tensors if create_graph else _add
    buffers: dict = {}
    for node, nr, g in roots:
        buf = buffers.setdefault(node, [None] * len(node.out_meta))
        buf[nr] = g if buf[nr] is None else add(buf[nr], g)
    captured = {node for node, _ in capture} if capture else set()
    run = None if accumulate is None else _needed(order, captured, accumulate)

    with grad_mode.set_grad_enabled(create_graph):
        for node in order:
            grads = buffers.pop(node, None)
            in_grads = None
            if run is not None and node not in run:
                # Leads to no input asked for: torch does not run it, hooks and all; only a
                # gradient captured here is kept.
                if grads is not None and node in captured:
                    _hooks_and_capture(node, grads, create_graph, capture)
                continue
            if grads is not None and any(g is not None for g in grads):
                grads = _hooks_and_capture(node, grads, create_graph, capture)
                if isinstance(node, AccumulateGrad):
                    if accumulate is None or (node, 0) in accumulate:
                        # torch runs an accumulator's own hooks around the accumulation
                        grads = _pre_hooks(node, grads, create_graph)
                        _accumulate(node.variable, grads[0], create_graph)
                        _post_hooks(node, [], grads, create_graph)
                        _post_accumulate_hooks(node.variable)
                elif anomaly:
                    in_grads = _call_checked(node, grads, create_graph)
                else:
                    in_grads = call_node(node, grads, create_graph)
            elif grads is not None and not isinstance(node, AccumulateGrad):
                # Only undefined gradients arrived (a backward returned None), and torch still
                # runs the node: a custom Function's backward gets zeros (or None without
                # materialize_grads), and a built-in one passes undefined gradients on.
                if node.custom:
                    in_grads = call_node(node, grads, create_graph)
                else:
                    in_grads = (None,) * len(node.edges)
            if in_grads is not None:
                for (nxt, nr), g in zip(node.edges, in_grads, strict=True):
                    if nxt is None:
                        continue
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * len(nxt.out_meta)
                    if g is not None:
                        buf[nr] = g if buf[nr] is None else add(buf[nr], g)
            if not retain_graph:
                node.free()


def _hooks_and_capture(node: Node, grads, create_graph: bool, capture) -> list:
    """The gradients of ``node``'s outputs after its tensors' hooks; those asked for by
    ``autograd.grad`` are kept in ``capture``."""
    grads = _tensor_hooks(node, grads, create_graph)
    if capture is not None:
        for nr, g in enumerate(grads):
            if (node, nr) in capture and g is not None:
                capture[node, nr] = g
    return grads


def _needed(order: list, captured: set, accumulate) -> set:
    """The nodes a backward restricted to some inputs must run (torch's ``exec_info``): those
    with a path to an accumulator asked for or to a node whose gradient is captured."""
    run: set = set()
    for node in reversed(order):  # leaves first
        if isinstance(node, AccumulateGrad):
            if (node, 0) in accumulate:
                run.add(node)
        elif any(nxt in run or nxt in captured for nxt, _ in node.edges if nxt is not None):
            run.add(node)
    return run


def _call_checked(node: Node, grads, create_graph: bool):
    """``call_node`` in anomaly mode: a failing node first shows the forward call that made it,
    and with ``check_nan`` a NaN among its results is an error."""
    try:
        in_grads = call_node(node, grads, create_graph)
        if anomaly_mode.state.check_nan:
            for i, g in enumerate(in_grads):
                if g is not None and bool(jnp.isnan(_raw(g, False)).any()):
                    raise RuntimeError(
                        f"Function '{node.name()}' returned nan values in its {i}th output."
                    )
    except Exception:
        anomaly_mode.warn_forward_traceback(node)
        raise
    return in_grads


def _post_accumulate_hooks(t) -> None:
    """``t.register_post_accumulate_grad_hook``'s hooks, after ``t.grad`` is accumulated."""
    for hook in list(t._post_accumulate_hooks or ()):
        out = hook(t)
        if out is not None:
            if isinstance(out, _tensor_cls()):
                raise RuntimeError("Tensor post accumulate grad hooks should return None.")
            raise TypeError(f"expected Variable, but hook returned '{type(out).__name__}'")


def _add_tensors(a, b):
    return a + b


def _tensor_hooks(node: Node, grads: list, create_graph: bool) -> list:
    """Run hooks registered on the tensors this node produced, and fill retained grads."""
    Tensor = _tensor_cls()
    if isinstance(node, AccumulateGrad):
        t = node.variable
        if t._hooks:
            g = _run_tensor_hooks(t._hooks, _as_tensor(grads[0]))
            grads = [g if create_graph else g._storage.array]
        return grads
    if node._tensor_pre_hooks:
        grads = list(grads)
        for nr, hooks in node._tensor_pre_hooks.items():
            if grads[nr] is None:
                continue
            g = _run_tensor_hooks(hooks, _as_tensor(grads[nr]))
            grads[nr] = g if create_graph else g._storage.array
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr]
                g = g.detach() if isinstance(g, Tensor) and not create_graph else _as_tensor(g)
                _store_grad(t, g)
    return grads


def _run_tensor_hooks(hooks: list, g):
    """``g`` through each hook in turn; a hook may replace it with a tensor of the same shape
    and dtype (torch's checks and messages)."""
    for hook in hooks:
        r = hook(g)
        if r is None:
            continue
        name = getattr(hook, "__name__", repr(hook))
        if tuple(r.shape) != tuple(g.shape):
            raise RuntimeError(f"hook '{name}' has changed the size of value")
        if r.dtype is not g.dtype:
            raise RuntimeError(
                f"hook '{name}' has changed the type of value (was "
                f"{_type_name(g._storage.meta)} got {_type_name(r._storage.meta)})"
            )
        g = r
    return g


def _as_tensor(g):
    Tensor = _tensor_cls()
    return g if isinstance(g, Tensor) else Tensor._wrap(g)


def _store_grad(t, g) -> None:
    if t._grad is None:
        t._grad = g
    else:
        t._grad = t._grad + g


def _accumulate(t, g, create_graph: bool) -> None:
    Tensor = _tensor_cls()
    if create_graph:
        t._grad = g if t._grad is None else t._grad + g
        return
    if t._grad is None:
        t._grad = Tensor._plain(g)
    elif t._grad._view is not None:  # a view (of a flat gradient buffer): write through it
        with grad_mode.no_grad():
            t._grad.add_(Tensor._wrap(g))
    else:
        storage = t._grad._storage
        storage.array = _add(storage.array, g)
        storage.version += 1


def call_node(node: Node, grads, create_graph: bool = False):
    """Apply one node: cotangents of its outputs in, gradients of its inputs out."""
    node.check_saved()
    grads = _pre_hooks(node, grads, create_graph)
    if node.custom:
        return _post_hooks(node, node.run_backward(grads, create_graph), grads, create_graph)
    diff = tuple(i for i, (n, _) in enumerate(node.edges) if n is not None)
    result = [None] * len(node.edges)
    if create_graph:
        outs = _vjp_on_tape(node, diff, grads)
    else:
        form = node.form
        cts = grads[0] if form.float_outs is None else tuple(grads[i] for i in form.float_outs)
        if form.float_outs is None and cts is None:
            return result
        if node.vjp is not None:  # it holds the forward's residuals: no inputs needed
            outs = node.vjp(cts)
        else:
            values = node.values
            if values is None:  # freed by an earlier backward: a node that saves nothing
                Tensor = _tensor_cls()  # may run again, and then only the shapes matter
                values = [x._storage.array if isinstance(x, Tensor) else x for x in node.inputs]
            arrays = tuple(map(_lazy.value_of, values))
            bwd = form.op.compiled_vjp(form.static, form.cast, diff, form.float_outs)
            outs = bwd(arrays, cts)
    for i, g in zip(diff, outs, strict=True):
        result[i] = g
    return _post_hooks(node, result, grads, create_graph)


def _pre_hooks(node: Node, grads, create_graph: bool):
    """Run ``node.register_prehook`` hooks on its output gradients; they may replace them."""
    if node._pre_hooks:
        for hook in node._pre_hooks:
            r = hook(tuple(_as_tensor(g) if g is not None else None for g in grads))
            if r is not None:
                grads = [None if g is None else _raw(g, create_graph) for g in r]
    return grads


def _post_hooks(node: Node, result, grads, create_graph: bool):
    """Run ``node.register_hook`` hooks on (input gradients, output gradients); they may
    replace the input gradients."""
    if node._hooks:
        for hook in node._hooks:
            r = hook(
                tuple(_as_tensor(g) if g is not None else None for g in result),
                tuple(_as_tensor(g) if g is not None else None for g in grads),
            )
            if r is not None:
                result = [None if g is None else _raw(g, create_graph) for g in r]
    return result


def _raw(g, create_graph: bool):
    Tensor = _tensor_cls()
    if create_graph:
        return g if isinstance(g, Tensor) else Tensor._wrap(g)
    return g._storage.array if isinstance(g, Tensor) else g


def _vjp_on_tape(node: Node, diff: tuple, grads):
    """The node's VJP as an op on the tape, so that the backward itself is differentiable."""
    form = node.form
    op = form.op
    vjp_op = _vjp_ops.get(op)
    if vjp_op is None:
        vjp_op = _vjp_ops[op] = _dispatch.Op(
            f"{op.name}_vjp", _vjp_forward(op), op.grad_fn.replace("Backward", "BackwardBackward")
        )
    n = len(node.inputs)
    cts = [grads[0]] if form.float_outs is None else [grads[i] for i in form.float_outs]
    static = (
        ("static", form.static),
        ("cast", form.cast),
        ("diff", diff),
        ("n", n),
        ("float_outs", form.float_outs),
    )
    # Inputs the VJP does not read (add's, or x for x * 2) go in detached, so the gradient
    # depends on them no more than torch's does: no grad_fn from them, and no zero gradient
    # for them in a second backward.
    reads = _vjp_reads(node, diff, cts)
    Tensor = _tensor_cls()
    inputs = [
        x.detach() if isinstance(x, Tensor) and not r else x
        for x, r in zip(node.inputs, reads, strict=True)
    ]
    out = _dispatch.dispatch(vjp_op, (*inputs, *cts), static)
    return out if isinstance(out, tuple) else (out,)


_vjp_ops: dict = {}
_reads: dict = {}  # (form, diff, input and cotangent types) -> which inputs the VJP reads


def _vjp_reads(node: Node, diff: tuple, cts: list) -> tuple:
    """For each input of ``node``, whether its VJP's result depends on it (from the traced
    VJP: an input no live equation uses is not read)."""
    from jax.extend import core as jax_core

    Tensor = _tensor_cls()
    form = node.form

    def aval(x):
        return jax.ShapeDtypeStruct(x._storage.meta.shape, x._storage.meta.dtype)

    tensors = [i for i, x in enumerate(node.inputs) if isinstance(x, Tensor)]
    kinds = tuple(aval(node.inputs[i]) for i in tensors)
    ct_kinds = tuple(None if c is None else aval(c) for c in cts)
    key = (form, diff, kinds, ct_kinds)
    reads = _reads.get(key)
    if reads is None:
        bwd = _dispatch._make_vjp(form.pure(), diff, form.float_outs)

        def vjp(arrays, cotangents):
            full = list(node.inputs)
            for i, a in zip(tensors, arrays, strict=True):
                full[i] = a
            return bwd(tuple(full), cotangents[0] if form.float_outs is None else cotangents)

        jaxpr = jax.make_jaxpr(vjp)(kinds, ct_kinds).jaxpr
        live = {v for v in jaxpr.outvars if isinstance(v, jax_core.Var)}
        for eqn in reversed(jaxpr.eqns):
            if any(v in live for v in eqn.outvars):
                live.update(v for v in eqn.invars if isinstance(v, jax_core.Var))
        used = [v in live for v in jaxpr.invars[: len(tensors)]]
        reads = [True] * len(node.inputs)
        for i, u in zip(tensors, used, strict=True):
            reads[i] = u
        reads = _reads[key] = tuple(reads)
    return reads


def _vjp_forward(op):
    def fwd(*xs, static, cast, diff, n, float_outs):
        bwd = _dispatch._make_vjp(op.pure(static, cast), diff, float_outs)
        inputs, cts = xs[:n], xs[n:]
        return tuple(bwd(inputs, cts[0] if float_outs is None else tuple(cts)))

    return fwd
