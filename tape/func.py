"""``tape.func`` (``torch.func``): function transforms and ``functional_call``.

>>> grad(lambda x: (x**3).sum())(tape.tensor([1.0, 2.0]))
tensor([ 3., 12.])

``grad``, ``grad_and_value``, ``vjp`` and ``jacrev`` run ``func`` once at fresh inputs that
require grad and differentiate it with tape's reverse mode (``autograd.grad`` with
``create_graph=True``), so the transforms compose: ``grad(grad(f))``, ``jacrev(jacrev(f))``,
``vmap(grad(f))``. A result keeps its graph only where it reaches a tensor from outside the
transform that requires grad (an enclosing transform's input, or a tensor of the caller's), as
torch's unwrapped results do. tape has no forward mode: ``jvp`` and ``jacfwd`` (and so
``hessian = jacfwd(jacrev(f))``) use ``autograd.functional.jvp``'s double-backward trick, which
gives the same values. ``jacrev`` and ``jacfwd`` take one product per basis vector, as torch's
``chunk_size=1`` does; ``chunk_size`` is checked and otherwise changes nothing.

``vmap`` runs ``func`` once per batch index and stacks the results: the same values as torch's
batching rules for pure functions (a function that mutates captured state, or whose output
structure changes across the batch, differs). Inputs and outputs are pytrees as in torch (tuples,
lists, dicts, namedtuples; other values are leaves). ``randomness`` watches the default
generator: ``'error'`` raises torch's error when ``func`` drew from it, ``'same'`` replays one
draw for every index (torch's numbers), and ``'different'`` draws per index, so its numbers are
not torch's (torch draws one batched sample).

Other differences from torch, all from computing without torch's wrapped tensors: ``jvp`` and
``jacfwd`` need ``func`` twice differentiable in reverse mode (a ``once_differentiable`` custom
Function fails), and their tangents take the primal's dtype (torch keeps a tangent of another
dtype); ``jvp(strict=True)`` raises for an output that does not require grad; ``randomness`` does
not see an explicit ``generator=``, and ``jacfwd(randomness='different')`` draws once; inside
``vmap``, ``.item()`` and data-dependent Python control flow work (torch raises), and an output
with ``out_dims=None`` counts as batched when it differs across the batch.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable

import numpy as np

from tape import _random, creation
from tape.autograd import grad_mode
from tape.autograd.functional import _fresh, _grads, _stack
from tape.autograd.graph import AccumulateGrad
from tape.nn.utils.stateless import _functional_call
from tape.ops.elementwise import equal
from tape.ops.shape import stack
from tape.tensor import Tensor

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "vjp",
    "vmap",
]

_JVP = "jvp(f, primals, tangents)"
_VJP = "vjp(f, *primals)"
_GRAD = "grad_and_value(f)(*args)"
_RANDOM_ERROR = (
    "vmap: called random operation while in randomness error mode. Please either use the 'same' "
    "or 'different' randomness flags on vmap or perform the randomness operation out of vmap"
)


def functional_call(
    module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False
):
    """``module(*args, **kwargs)`` with the given parameters and buffers (one dict, or several
    whose keys do not overlap) in place of its own, restored afterwards."""
    return _functional_call(
        module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights, strict=strict
    )


# ------------------------------------------------------------------------------------------------
# pytrees, as torch.utils._pytree flattens them (its TreeSpec repr shows in torch's messages)
# ------------------------------------------------------------------------------------------------
class _Spec:
    """torch's ``TreeSpec``: a container's type, context (dict keys, a namedtuple's class) and
    children; ``_LEAF`` stands for a leaf."""

    __slots__ = ("type", "context", "children", "num_leaves")

    def __init__(self, type_, context, children: list) -> None:
        self.type, self.context, self.children = type_, context, children
        self.num_leaves = 1 if type_ is None else sum(c.num_leaves for c in children)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Spec) and (self.type, self.context, self.children) == (
            other.type,
            other.context,
            other.children,
        )

    def __repr__(self, indent: int = 0) -> str:
        if self.type is None:
            return "*"
        indent += 2
        inner = (",\n" + " " * indent).join(c.__repr__(indent) for c in self.children)
        return f"TreeSpec({self.type.__name__}, {self.context}, [{inner}])"


_LEAF = _Spec(None, None, [])
_LEVELS: list = []  # the transforms running now, innermost last


def _node(x) -> tuple:
    """(type, context, children) of a container torch's pytree opens, else (None, None, ())."""
    kind = type(x)
    if kind in (tuple, list):
        return kind, None, list(x)
    if kind in (dict, collections.OrderedDict):
        return kind, list(x), list(x.values())
    if issubclass(kind, tuple) and hasattr(kind, "_fields"):
        return collections.namedtuple, kind, list(x)
    return None, None, ()


def _flatten(tree) -> tuple[list, _Spec]:
    leaves: list = []

    def walk(x) -> _Spec:
        kind, context, children = _node(x)
        if kind is None:
            leaves.append(x)
            return _LEAF
        return _Spec(kind, context, [walk(c) for c in children])

    return leaves, walk(tree)


def _unflatten(leaves, spec: _Spec):
    it = iter(leaves)

    def build(s: _Spec):
        if s.type is None:
            return next(it)
        children = [build(c) for c in s.children]
        if s.type in (dict, collections.OrderedDict):
            return s.type(zip(s.context, children, strict=True))
        if s.type is collections.namedtuple:
            return s.context(*children)
        return s.type(children)

    return build(spec)


def _broadcast(prefix, spec: _Spec) -> list | None:
    """``prefix``'s leaves repeated over the subtrees of ``spec`` they stand for, or None when
    ``prefix`` is not a prefix of ``spec`` (torch's ``_broadcast_to_and_flatten``)."""
    kind, context, children = _node(prefix)
    if kind is None:
        return [prefix] * spec.num_leaves
    if (kind, context, len(children)) != (spec.type, spec.context, len(spec.children)):
        return None
    flat = []
    for p, s in zip(children, spec.children, strict=True):
        sub = _broadcast(p, s)
        if sub is None:
            return None
        flat += sub
    return flat


class _Star:
    def __repr__(self) -> str:
        return "*"


def _pprint(spec: _Spec) -> str:
    """torch's ``treespec_pprint``: the tree with ``*`` for each leaf."""
    return repr(_unflatten([_Star()] * spec.num_leaves, spec))


# ------------------------------------------------------------------------------------------------
# argnums and one differentiated run of func (torch's grad level)
# ------------------------------------------------------------------------------------------------
def _argnums(argnums, n: int):
    """``argnums`` checked against ``n`` positional arguments, negatives wrapped."""
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")

    def wrap(a):
        if not isinstance(a, int):
            raise RuntimeError(f"argnum must be int, got: {type(a)}")
        if -n <= a < n:
            return a % n
        raise RuntimeError(f"Got argnum={a}, but only {n} positional inputs")

    if isinstance(argnums, int):
        return wrap(argnums)
    wrapped = tuple(wrap(a) for a in argnums)
    if not wrapped:
        raise RuntimeError("argnums must be non-empty")
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"argnums elements must be unique, got {wrapped}")
    return wrapped


class _Level:
    """One transform's run of ``func`` (torch's grad level): the fresh inputs it differentiates
    and whether its results may keep a graph (grad mode was on when the transform was called).

    Used as ``with _Level() as level:``, which also enables grad; on exit the leaves it made pass
    to the enclosing level, for which a graph through them is internal too."""

    def __init__(self) -> None:
        self.keep = grad_mode.is_grad_enabled()
        # The leaves made by this level and by the finished levels inside it, by id; held, so
        # that an id is not reused while it is here.
        self.ours: dict[int, Tensor] = {}
        self.inputs: list = []  # the fresh inputs, flat
        self.spec = _LEAF  # their structure: the argument itself for an int argnums
        self._grad = grad_mode.enable_grad()

    def __enter__(self) -> _Level:
        _LEVELS.append(self)
        self._grad.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._grad.__exit__(*exc)
        _LEVELS.pop()
        if _LEVELS:
            _LEVELS[-1].ours.update(self.ours)

    def own(self, tensors) -> None:
        self.ours.update((id(t), t) for t in tensors)

    def differentiable(self, args: tuple, argnums) -> tuple:
        """``args`` with the differentiated ones (all for ``argnums=None``) replaced by fresh
        tensors that require grad; views keep a graph to inputs that already require grad."""
        index = tuple(range(len(args))) if argnums is None else _argnums(argnums, len(args))
        picked = args[index] if isinstance(index, int) else tuple(args[i] for i in index)
        leaves, self.spec = _flatten(picked)
        for x in leaves:
            if not isinstance(x, Tensor):
                raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
        self.inputs = list(_fresh(leaves, self.keep, True))
        self.own(self.inputs)
        new = _unflatten(self.inputs, self.spec)
        args = list(args)
        for i, value in [(index, new)] if isinstance(index, int) else zip(index, new, strict=True):
            args[i] = value
        return tuple(args)

    def unwrap(self, tree):
        """``tree``'s tensors, detached unless their graph reaches beyond this level."""
        cleared: set = set()  # nodes whose whole graph stays inside, shared by the walks

        def reaches_outside(t) -> bool:
            if t.grad_fn is None:
                return t.requires_grad and id(t) not in self.ours
            seen, todo = {t.grad_fn}, [t.grad_fn]
            while todo:
                node = todo.pop()
                if isinstance(node, AccumulateGrad):
                    if id(node.variable) not in self.ours:
                        return True
                    continue
                for nxt, _ in node.edges:
                    if nxt is not None and nxt not in seen and nxt not in cleared:
                        seen.add(nxt)
                        todo.append(nxt)
            cleared.update(seen)
            return False

        def one(t):
            if not isinstance(t, Tensor):
                raise RuntimeError(f"Expected tensors, got unsupported type {type(t)}")
            return t if self.keep and reaches_outside(t) else t.detach()

        leaves, spec = _flatten(tree)
        return _unflatten([one(t) for t in leaves], spec)


def _split_aux(output, has_aux: bool, api: str):
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(
            f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True"
        )
    return output


def _check_outputs(flat: list, api: str) -> None:
    if not flat or (len(flat) == 1 and flat[0] is None):
        raise RuntimeError(
            f"{api}: Expected f to be a function that has non-empty output (got output = {flat})"
        )
    for o in flat:
        if not isinstance(o, Tensor):
            raise RuntimeError(
                f"{api}: expected f(*primals) to return only tensors, got unsupported type "
                f"{type(o)}"
            )


def _check_tensors(flat: list, what: str) -> None:
    if not flat:
        raise RuntimeError(f"{_JVP}: Expected {what} to contain at least one Tensor.")
    for x in flat:
        if not isinstance(x, Tensor):
            raise RuntimeError(f"{_JVP}: Expected {what} to only contain Tensors, got {type(x)}")


def _check_randomness(randomness: str) -> None:
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            "Only allowed values for randomness are 'error', 'different', or 'same'. Got "
            f"{randomness}"
        )


def _no_draw(state) -> None:
    """torch's error for a random op under ``randomness='error'``: the default generator moved
    since ``state`` (which it is put back to, as torch's op never drew)."""
    if not np.array_equal(state, _random.get_rng_state()):
        _random.set_rng_state(state)
        raise RuntimeError(_RANDOM_ERROR)


def _basis(tensors: list) -> list[list]:
    """The standard basis over the flattened ``tensors``: per element, one-hot tensors shaped,
    typed and placed like ``tensors``."""
    total = sum(t.numel() for t in tensors)
    blocks, start = [], 0
    for t in tensors:
        eye = creation.eye(total, dtype=t.dtype, device=t.device)[:, start : start + t.numel()]
        blocks.append(eye.reshape((total, *t.shape)))
        start += t.numel()
    return [[b[j] for b in blocks] for j in range(total)]


def _jacobian(products: list, outs: list, ins: list, reverse: bool) -> list[list]:
    """``jac[o][i]``, of shape ``outs[o].shape + ins[i].shape``, from one product per basis
    vector: VJPs over the outputs' elements (``reverse``) or JVPs over the inputs' elements."""
    along, other = (outs, ins) if reverse else (ins, outs)
    jac = [[None] * len(ins) for _ in outs]
    start = 0
    for a, t in enumerate(along):
        rows = products[start : start + t.numel()]
        start += t.numel()
        for b, u in enumerate(other):
            block = _stack([r[b] for r in rows], u)  # (t.numel(), *u.shape)
            o, i = (a, b) if reverse else (b, a)
            if not reverse:
                block = block.movedim(0, -1)
            jac[o][i] = block.reshape(tuple(outs[o].shape) + tuple(ins[i].shape))
    return jac


def _nest(jac: list[list], out_spec: _Spec, in_spec: _Spec):
    """The Jacobian blocks as torch returns them: the outputs' structure, each holding the
    differentiated arguments' structure."""
    return _unflatten([_unflatten(row, in_spec) for row in jac], out_spec)


# ------------------------------------------------------------------------------------------------
# reverse mode
# ------------------------------------------------------------------------------------------------
def grad_and_value(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """``func`` -> a function returning (gradient of ``func``'s scalar output with respect to the
    arguments ``argnums``, that output); ``(gradient, (output, aux))`` with ``has_aux``."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _Level() as level:
            args = level.differentiable(args, argnums)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, _GRAD)
            if not isinstance(output, Tensor):
                raise RuntimeError(
                    f"{_GRAD}: Expected f(*args) to return a Tensor, got {type(output)}"
                )
            if output.dim() != 0:
                raise RuntimeError(
                    f"{_GRAD}: Expected f(*args) to return a scalar Tensor, got tensor with "
                    f"{output.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?"
                )
            grads = _grads((output,), level.inputs, (None,), level.keep, False, "")
        grads = level.unwrap(_unflatten(grads, level.spec))
        if has_aux:
            return grads, (level.unwrap(output), level.unwrap(aux))
        return grads, level.unwrap(output)

    return wrapper


def grad(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """``func`` -> the gradient of its scalar output with respect to the arguments ``argnums``
    (an int: that argument's structure; a tuple: a tuple of them); ``(gradient, aux)`` with
    ``has_aux``."""
    with_value = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        grads, value = with_value(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapper


def _vjp(func: Callable, primals: tuple, argnums, has_aux: bool):
    """``func`` run once at ``primals``: (level, output, its flat tensors, aux)."""
    with _Level() as level:
        output, aux = _split_aux(func(*level.differentiable(primals, argnums)), has_aux, _VJP)
        if has_aux:
            aux = level.unwrap(aux)
        flat_out = _flatten(output)[0]
        _check_outputs(flat_out, _VJP)
        for o in flat_out:
            if not o.is_floating_point():
                raise RuntimeError(
                    "vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got "
                    f"Tensor with dtype {o.dtype}"
                )
    return level, output, flat_out, aux


def vjp(func: Callable, *primals, has_aux: bool = False) -> tuple:
    """(``func(*primals)``, ``vjp_fn``[, aux]): ``vjp_fn(cotangents)`` is the vector-Jacobian
    product with respect to every primal, as a tuple like ``primals``."""
    level, output, flat_out, aux = _vjp(func, primals, None, has_aux)
    out_spec = _flatten(output)[1]

    def vjp_fn(cotangents, retain_graph: bool = True, create_graph: bool | None = None):
        if create_graph is None:
            create_graph = grad_mode.is_grad_enabled()
        flat_ct, ct_spec = _flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure of "
                f"outputs to the function. cotangents: {_pprint(ct_spec)}, primal output: "
                f"{_pprint(out_spec)}"
            )
        grads = _grads(flat_out, level.inputs, flat_ct, create_graph, False, "", retain_graph)
        return level.unwrap(_unflatten(grads, level.spec))

    result = (level.unwrap(output), vjp_fn)
    return (*result, aux) if has_aux else result


def jacrev(
    func: Callable,
    argnums: int | tuple = 0,
    *,
    has_aux: bool = False,
    chunk_size: int | None = None,
) -> Callable:
    """``func`` -> its Jacobian with respect to the arguments ``argnums``, one reverse pass per
    output element: for each output, a block of shape ``output.shape + input.shape`` per
    input."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        level, output, flat_out, aux = _vjp(func, args, argnums, has_aux)
        ins = level.inputs
        rows = [_grads(flat_out, ins, v, level.keep, False, "") for v in _basis(flat_out)]
        jac = level.unwrap(_jacobian(rows, flat_out, ins, reverse=True))
        jac = _nest(jac, _flatten(output)[1], level.spec)
        return (jac, aux) if has_aux else jac

    return wrapper


# ------------------------------------------------------------------------------------------------
# forward mode, by the double-backward trick
# ------------------------------------------------------------------------------------------------
def _linearize(func, primals: tuple, argnums, has_aux: bool, strict: bool, randomness: str):
    """``func`` run once at ``primals``: (level, output, aux, push), where ``push(tangents)`` is
    J t over the flat outputs for flat tangents over the differentiated inputs."""
    with _Level() as level:
        args = level.differentiable(primals, argnums)
        _check_randomness(randomness)
        state = _random.get_rng_state()
        output = func(*args)
        if randomness == "error":
            _no_draw(state)
        output, aux = _split_aux(output, has_aux, _JVP)
        if has_aux:
            aux = level.unwrap(aux)
        flat_out = _flatten(output)[0]
        _check_outputs(flat_out, _JVP)
        if strict and not all(o.requires_grad for o in flat_out):
            raise RuntimeError(
                "jvp(f, primals, tangents, strict=True): The output of f is independent of the "
                "inputs. This is not allowed with strict=True."
            )
        # The VJP is linear in its cotangent u; its gradient with respect to u along t is J t.
        u = [creation.zeros_like(o).requires_grad_(o.requires_grad) for o in flat_out]
        level.own(u)
        vjps = _grads(flat_out, level.inputs, u, True, False, "")

    def push(tangents: list) -> tuple:
        return _grads(vjps, u, tangents, level.keep, False, "")

    return level, output, aux, push


def jvp(
    func: Callable, primals: tuple, tangents: tuple, *, strict: bool = False, has_aux: bool = False
) -> tuple:
    """(``func(*primals)``, the Jacobian-vector product along ``tangents``[, aux])."""
    if not isinstance(primals, tuple):
        raise RuntimeError(
            f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals)."
        )
    flat_p, p_spec = _flatten(primals)
    flat_t, t_spec = _flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(
            f"{_JVP}: Expected primals and tangents to have the same python structure. For "
            "example, if primals is a tuple of 3 tensors, tangents also must be. Got primals with "
            f"structure {p_spec} and tangents with structure {t_spec}"
        )
    _check_tensors(flat_p, "primals")
    _check_tensors(flat_t, "tangents")
    for p, t in zip(flat_p, flat_t, strict=True):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(
                "Trying to set a forward gradient that has a different size than that of the "
                f"original Tensor, this is not supported. Tensor is of size {list(p.shape)} while "
                f"the given forward gradient is of size {list(t.shape)}."
            )
    # jvp does not batch, so randomness is allowed
    level, output, aux, push = _linearize(func, primals, None, has_aux, strict, "different")
    out_spec = _flatten(output)[1]
    result = (level.unwrap(output), level.unwrap(_unflatten(push(flat_t), out_spec)))
    return (*result, aux) if has_aux else result


def jacfwd(
    func: Callable, argnums: int | tuple = 0, has_aux: bool = False, *, randomness: str = "error"
) -> Callable:
    """``func`` -> its Jacobian with respect to the arguments ``argnums``, one Jacobian-vector
    product per input element (blocks laid out as ``jacrev``'s)."""

    @functools.wraps(func)
    def wrapper(*args):
        level, output, aux, push = _linearize(func, args, argnums, has_aux, False, randomness)
        flat_out, out_spec = _flatten(output)
        columns = [push(v) for v in _basis(level.inputs)]
        jac = level.unwrap(_jacobian(columns, flat_out, level.inputs, reverse=False))
        jac = _nest(jac, out_spec, level.spec)
        return (jac, aux) if has_aux else jac

    return wrapper


def hessian(func: Callable, argnums: int | tuple = 0) -> Callable:
    """``func`` -> the Hessian of its output, ``jacfwd(jacrev(func, argnums), argnums)``."""
    return jacfwd(jacrev(func, argnums), argnums)


# ------------------------------------------------------------------------------------------------
# vmap
# ------------------------------------------------------------------------------------------------
def _name(func) -> str:
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return repr(func)


def _batched_inputs(in_dims, args: tuple, name: str) -> tuple[int, list, list, _Spec]:
    """(batch size, flat in_dims, flat args, the args' structure), checked as torch does."""
    where = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(
            f"{where}: expected `in_dims` to be int or a (potentially nested) tuple matching the "
            f"structure of inputs, got: {type(in_dims)}."
        )
    if not args:
        raise ValueError(
            f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are "
            "trying to vmap over a function with no inputs. The latter is unsupported."
        )
    flat_args, spec = _flatten(args)
    flat_dims = _broadcast(in_dims, spec)
    if flat_dims is None:
        raise ValueError(
            f"{where}: in_dims is not compatible with the structure of `inputs`. in_dims has "
            f"structure {_flatten(in_dims)[1]} but inputs has structure {spec}."
        )
    for i, (arg, d) in enumerate(zip(flat_args, flat_dims, strict=True)):
        if d is None:
            continue
        if not isinstance(d, int):
            raise ValueError(
                f"{where}: Got in_dim={d} for an input but in_dim must be either an integer "
                "dimension or None."
            )
        if not isinstance(arg, Tensor):
            raise ValueError(
                f"{where}: Got in_dim={d} for an input but the input is of type {type(arg)}. We "
                "cannot vmap over non-Tensor arguments, please use None as the respective in_dim"
            )
        if not -arg.dim() <= d < arg.dim():
            raise ValueError(
                f"{where}: Got in_dim={d} for some input, but that input is a Tensor of "
                f"dimensionality {arg.dim()} so expected in_dim to satisfy "
                f"-{arg.dim()} <= in_dim < {arg.dim()}."
            )
        flat_dims[i] = d % arg.dim()
    sizes = [arg.shape[d] for arg, d in zip(flat_args, flat_dims, strict=True) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(
            "vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
            f"{sizes} for the mapped dimension"
        )
    return sizes[0], flat_dims, flat_args, spec


def _check_out_dims(out_dims, name: str) -> None:
    if isinstance(out_dims, int):
        return
    for d in _flatten(out_dims)[0]:
        if d is not None and not isinstance(d, int):
            raise ValueError(
                f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a "
                "python collection of ints representing where in the outputs the vmapped "
                "dimension should appear."
            )


def _slice(arg, d: int | None, b: int | None):
    """Element ``b`` of ``arg`` along ``d``; for an empty batch (``b`` None), zeros of that
    element's shape, to learn the output's structure and shapes from one call."""
    if d is None:
        return arg
    if b is not None:
        return arg.select(d, b)
    shape = tuple(arg.shape[:d]) + tuple(arg.shape[d + 1 :])
    return creation.zeros(shape, dtype=arg.dtype, device=arg.device)


def _stack_outputs(outputs: list, out_dims, size: int, name: str):
    """The per-index outputs stacked at ``out_dims`` (torch's ``_unwrap_batched``)."""
    flat, spec = _flatten(outputs[0])
    columns = [flat]
    for out in outputs[1:]:
        leaves, other = _flatten(out)
        if other != spec:
            raise ValueError(
                f"vmap({name}, ...): `{name}` returned {other} at one batch index and {spec} at "
                "another; vmap runs func once per index and needs the same output structure"
            )
        columns.append(leaves)
    if spec.type is None and isinstance(flat[0], Tensor):
        # torch's special case for one tensor: an int, None or a tuple of one
        dims = None
        if out_dims is None or isinstance(out_dims, int):
            dims = [out_dims]
        elif isinstance(out_dims, tuple) and len(out_dims) == 1:
            dims = list(out_dims)
    else:
        dims = _broadcast(out_dims, spec)
    if dims is None:
        raise ValueError(
            f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with "
            f"the structure of `outputs`. out_dims has structure {_flatten(out_dims)[1]} but "
            f"outputs has structure {spec}."
        )
    result = []
    for k, d in enumerate(dims):
        values = [leaves[k] for leaves in columns]
        first = values[0]
        if d is None:
            # What depends on the batch differs across it: torch's batched tensor.
            if isinstance(first, Tensor) and any(
                v is not first and not equal(v, first) for v in values[1:]
            ):
                raise ValueError(
                    f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is "
                    "None"
                )
            result.append(first)
            continue
        if not isinstance(first, Tensor):
            raise ValueError(
                f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(first)}. "
                "Did you mean to set out_dims= to None for output?"
            )
        stacked = stack(values, 0)
        # movedim checks out_dim against the batched rank, with torch's IndexError
        result.append((stacked if size else stacked[:0]).movedim(0, d))
    return _unflatten(result, spec)


def vmap(
    func: Callable,
    in_dims: int | tuple = 0,
    out_dims: int | tuple | None = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable:
    """``func`` mapped over dimension ``in_dims`` of its inputs (None: not mapped; a nested tuple
    matches the inputs' structure), the results stacked at ``out_dims``.

    It runs ``func`` once per batch index and stacks the results, which is what torch's batching
    computes for a pure function; ``chunk_size`` (checked) changes nothing here.
    """
    _check_randomness(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        name = _name(func)
        _check_out_dims(out_dims, name)
        size, flat_dims, flat_args, spec = _batched_inputs(in_dims, args, name)
        state = _random.get_rng_state()
        outputs = []
        for b in range(size) if size else [None]:
            if randomness == "same":
                _random.set_rng_state(state)  # every index sees the same draws
            sliced = [_slice(a, d, b) for a, d in zip(flat_args, flat_dims, strict=True)]
            outputs.append(func(*_unflatten(sliced, spec), **kwargs))
            if randomness == "error":
                _no_draw(state)
        return _stack_outputs(outputs, out_dims, size, name)

    return wrapped
