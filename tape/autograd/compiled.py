"""Whole-graph backward: when a graph's structure repeats (a training loop), run its entire
backward pass as one compiled XLA call instead of one dispatch per node.

The graph signature is the ordered list of nodes with their ops, static arguments, wiring and
input kinds; shapes and dtypes are left to ``jax.jit``'s own cache. A signature seen once runs
node by node (cheap to start); from the second sighting on it is compiled.
"""

from __future__ import annotations

from operator import attrgetter
from sys import getrefcount

import jax.numpy as jnp

from tape import _lazy
from tape.autograd import graph
from tape.autograd.graph import AccumulateGrad

_ARG = "<array>"  # marks where a node input is an array argument rather than a constant
_PENDING = "<pending>"  # a pending forward value: (_PENDING, thunk index, output index)
_cache = _lazy.ProgramCache()  # backward programs by graph signature
_Tensor = None


def _tensor_cls():
    """tape.tensor.Tensor, looked up once (tape.tensor imports this package)."""
    global _Tensor
    if _Tensor is None:
        from tape.tensor import Tensor

        _Tensor = Tensor
    return _Tensor


def plan(roots) -> list:
    """Nodes in the engine's execution order: torch's, highest sequence number first.

    A node is recorded after every node it takes inputs from, so running the ready node with
    the highest sequence number is running the nodes by sequence number, descending. Leaf
    accumulators (numbered last) run as soon as they are ready: right after their last user,
    several in the order they were found, so the same graph always gets the same order and
    so the same compiled-program signature.
    """
    stack = [node for node, _, _ in roots]
    found = dict.fromkeys(stack)  # discovery order
    last = {}  # leaf accumulator -> its user with the lowest sequence number, the last to run
    while stack:
        node = stack.pop()
        for nxt, _ in node.edges:
            if nxt is None:
                continue
            if nxt not in found:
                found[nxt] = None
                stack.append(nxt)
            if type(nxt) is AccumulateGrad:
                user = last.get(nxt)
                if user is None or node._seq < user._seq:
                    last[nxt] = node
    nodes = []
    after: dict = {}  # last user (None: no user, a root) -> the leaf accumulators it readies
    for node in found:
        if type(node) is AccumulateGrad:
            after.setdefault(last.get(node), []).append(node)
        else:
            nodes.append(node)
    nodes.sort(key=_by_seq, reverse=True)
    if not after:
        return nodes
    order = after.get(None, [])
    for node in nodes:
        order.append(node)
        ready = after.get(node)
        if ready:
            order += ready
    return order


_by_seq = attrgetter("_seq")


def _leaf_hooked(node: AccumulateGrad) -> bool:
    """Hooks on a leaf or its accumulator: the node-by-node path runs them."""
    t = node.variable
    return bool(t._hooks or t._post_accumulate_hooks or node._hooks or node._pre_hooks)


def try_run(order: list, roots, retain_graph: bool, accumulate, outputs=()) -> list | None:
    """Run the backward compiled if this graph shape was seen before.

    Pending forward values (``tape._lazy``) the backward needs are computed in the same
    program, and so are the values of ``outputs`` (the tensors ``backward`` was called on), so
    reading the loss afterwards costs nothing. Returns the ``(leaf, grad)`` pairs to
    accumulate, or None when the caller should run the graph node by node (first sighting,
    hooks, or anything else the compiled path doesn't cover).
    """
    Tensor = _Tensor or _tensor_cls()
    index = {node: i for i, node in enumerate(order)}
    sig = []
    args = []
    leaves = []
    patches = []  # (sig position, input position, thunk, output): pending values with no node
    computed = {}  # node position -> the pending thunk whose values that node recomputes
    # Candidates, by id(tensor): [producer position, tensor, uses in the graph, references to
    # its thunk from the pending thunks of those uses]
    inner = {}
    saved = {}  # id(tensor or storage) -> how many saved-tensor entries hold it
    for node in order:
        if type(node) is AccumulateGrad:
            if _leaf_hooked(node):
                return None
            keep = accumulate is None or (node, 0) in accumulate
            sig.append(keep)
            if keep:
                leaves.append(node.variable)
            continue
        if _hooked(node) or node._seq < graph.last_unseen_write:
            return None
        if not _count_saved(node, saved):
            node.check_saved()  # raises torch's error: freed, or modified in place
        # Each input is the output of a node in this graph, recomputed inside the program (a
        # pending value, or a cheap op's: passing an argument costs about a microsecond), a
        # pending value with no node (computed from its thunk), an array argument, or a Python
        # scalar baked in as a constant. The input's value when recorded is used, and the edge,
        # not x.grad_fn: x may have been modified in place since this use. Every edge's node is
        # in ``order`` (plan walks them).
        values = node.values
        if values is None:  # freed by an earlier backward: the node-by-node path re-reads
            return None
        sources = []
        edges = []
        for x, v, (producer, nr) in zip(node.inputs, values, node.edges, strict=True):
            wire = None if producer is None else (index[producer], nr)
            edges.append(wire)
            if isinstance(x, Tensor):
                refs = 1
                if v is x:
                    v, refs = _saved_input(node, x)
                pending = type(v) is tuple and v[0].values is None
                if (
                    wire is not None
                    and type(producer) is not AccumulateGrad
                    and (pending or producer.form.op.remat)
                ):
                    sources.append(wire)
                    if pending and producer.thunk is v[0]:
                        seen = inner.get(id(x))
                        if seen is None:
                            inner[id(x)] = [wire[0], x, 1, refs]
                        else:
                            seen[2] += 1
                            seen[3] += refs
                elif pending:
                    patches.append((len(sig), len(sources), v[0], v[1]))
                    sources.append(None)
                else:
                    sources.append(_ARG)
                    args.append(v[0].values[v[1]] if type(v) is tuple else v)
            else:
                sources.append(x)
        sig.append((node.form, tuple(sources), tuple(edges)))
    # The values of the tensors backward was called on, when still pending: from their node.
    for t in outputs:
        node = t._grad_fn
        if t._storage.pending() is not None and node in index and node.thunk is t._storage.thunk:
            computed[index[node]] = node.thunk
    # A pending value the program recomputes is handed back where something outside this
    # graph may read it (a loss to print, BatchNorm's running stats, logits kept for an
    # accuracy), so that it needs no second program. Values only the graph holds stay inside:
    # each output makes XLA store a value it could have fused away.
    x = v = t = None  # the loop's last values would count as references
    if inner:
        computed.update(_read_later(inner, saved, sig))
    out_nodes = tuple(sorted(computed))
    thunks = _lazy.collect([thunk for _, _, thunk, _ in patches])
    thunk_index = {id(t): i for i, t in enumerate(thunks)}
    thunk_args: list = []
    thunk_sig = _lazy.signature(thunks, thunk_index, thunk_args)
    for i, j, thunk, nr in patches:
        form, sources, edges = sig[i]
        sources = (*sources[:j], (_PENDING, thunk_index[id(thunk)], nr), *sources[j + 1 :])
        sig[i] = (form, sources, edges)
    sig = tuple(sig)
    root_sig = tuple([(index[n], nr) for n, nr, _ in roots])
    key = (sig, root_sig, thunk_sig, out_nodes)
    fn = _cache.get(key, _backward_program)
    if fn is None:
        return None
    grads, values = fn(args, [g for _, _, g in roots], thunk_args)
    if not patches and accumulate is None:
        _remember(sig, root_sig, out_nodes, fn, roots, _graph_refs(inner, saved))
    return _finish(order, computed, out_nodes, values, retain_graph, leaves, grads)


def _finish(order, computed, out_nodes, values, retain_graph, leaves, grads) -> list:
    """Hand the recomputed forward values to their thunks, free the graph, pair the grads."""
    _hand_back(computed, out_nodes, values)
    if not retain_graph:
        for node in order:
            node.free()
    return list(zip(leaves, grads, strict=True))


def _hand_back(computed: dict, out_nodes: tuple, values) -> None:
    """Give the forward values the program computed to their pending thunks."""
    for i, out in zip(out_nodes, values, strict=True):
        thunk = computed[i]
        if thunk.values is None:
            thunk.values = out if type(out) is tuple else (out,)
            thunk.inputs = None


class _Template:
    """A graph that ran compiled: its signature, the references its own nodes held to the
    values it may hand back (``_graph_refs``), its programs by handed-back outputs, and
    ``check``, the replay function generated for it (``_generate``)."""

    __slots__ = ("sig", "root_sig", "refs", "programs", "check")

    def __init__(self, sig: tuple, root_sig: tuple, refs: dict) -> None:
        self.sig = sig
        self.root_sig = root_sig
        self.refs = refs
        self.programs: dict = {}
        self.check = None


MAX_TEMPLATES = 4  # per root op: graphs that alternate among a few shapes all replay
_templates: dict = {}  # the roots' forms -> templates, the most recent first
_checks: dict = {}  # (sig, root_sig, refs) -> generated replay function, shared by equal templates
MAX_CHECKS = 64


def _root_key(roots) -> tuple:
    if len(roots) == 1:  # backward of one loss: no loop
        node, nr, _ = roots[0]
        return ((node.form, nr),)
    return tuple([(node.form, nr) for node, nr, _ in roots])


def _remember(sig: tuple, root_sig: tuple, out_nodes: tuple, fn, roots, refs: dict) -> None:
    held = _templates.setdefault(_root_key(roots), [])
    for t in held:
        if t.root_sig == root_sig and t.sig == sig:
            break
    else:
        t = _Template(sig, root_sig, refs)
        held.insert(0, t)
        del held[MAX_TEMPLATES:]
    t.programs[out_nodes] = fn


def replay(roots, retain_graph: bool, outputs=()) -> list | None:
    """``try_run`` for a graph shaped like one that already ran compiled: the remembered
    signature is checked against the graph, node by node in its order, instead of planning the
    graph and building and hashing its signature again.

    Returns None, having changed nothing, when the graph differs from every remembered one, or
    when anything (hooks, saved values changed or freed) needs ``try_run``'s own handling.
    """
    held = _templates.get(_root_key(roots))
    if held:
        for t in held:
            pairs = (t.check or _check_of(t))(roots, retain_graph, outputs, t.programs)
            if pairs is not None:
                return pairs
    return None


def _check_of(t: _Template):
    """``t``'s replay function: generated once per signature, and shared."""
    key = (t.sig, t.root_sig, tuple(sorted(t.refs.items())))
    check = _checks.get(key)
    if check is None:
        if len(_checks) >= MAX_CHECKS:
            _checks.clear()
        check = _checks[key] = _generate(t.sig, t.root_sig, t.refs)
    t.check = check
    return check


def _generate(sig: tuple, root_sig: tuple, refs: dict):
    """The replay function of one signature: Python code that checks a graph against ``sig``
    and runs its program, with every decision ``sig`` fixes taken here, once.

    The check is ``try_run``'s, position by position: the same node forms and wiring, strictly
    descending sequence numbers, no hooks, saved values unchanged, and the same kind of value
    at each input (an array argument, a value computed inside, a constant). Which recomputed
    values to hand back is ``_read_later``'s test, with the graph's own references to each
    (``refs``, counted once by ``try_run``: the same signature holds them the same way) written
    in as numbers. A cheap training step's backward is mostly this check: unrolled, the
    Q-step's costs 14 us where session 18's loop over ``sig`` cost 23 (README). Writing the
    code costs 0.2-0.3 ms a node, once.
    """
    consts: list = []

    def const(value) -> str:
        consts.append(value)
        return f"K[{len(consts) - 1}]"

    code = ["def check(roots, retain_graph, outputs, programs):"]
    emit = code.append
    emit(f" if len(roots) != {len(root_sig)}: return None")
    bound = set()  # positions whose node is in a local n<position> by now

    def bind(k: int, local: str) -> None:
        """The node in ``local`` is position ``k``'s: bound when first met, else checked."""
        if k in bound:
            emit(f" if {local} is not n{k}: return None")
        else:
            emit(f" n{k} = {local}")
            bound.add(k)

    for r, (i, nr) in enumerate(root_sig):
        emit(f" n, nr, _ = roots[{r}]")
        emit(f" if nr != {nr}: return None")
        bind(i, "n")
    # Nodes recorded after the last unseen write and the last hook: their values are the
    # ones recorded, and they have no hooks (graph.note_hook), so each is not asked.
    emit(" floor = max(graph.last_unseen_write, graph.last_hook)")
    emit(" last = INF")
    emit(" args = []")
    emit(" computed = {}")
    watched = set()  # producer positions whose value is handed back by _read_later's test
    for entry in sig:
        if entry is not True:
            for source in entry[1]:
                if type(source) is tuple and source[0] is not _PENDING:
                    k = source[0]
                    if sig[k][0].n_out == 1 and refs.get(k) is not None:
                        watched.add(k)
    for k in sorted(watched):
        emit(f" c{k} = None")
    keys = []  # the positions written into ``computed``, in the order they may be
    leaves, nodes = [], []
    for i, entry in enumerate(sig):
        if i not in bound:  # no user of this position matched: never the same graph
            emit(" return None")
            break
        emit(f" n = n{i}")
        if entry is True:  # a leaf accumulator
            leaves.append(i)
            emit(" if type(n) is not AccumulateGrad: return None")
            emit(" v = n.variable")
            emit(" if v._hooks or v._post_accumulate_hooks or n._hooks or n._pre_hooks:")
            emit("  return None")
            continue
        nodes.append(i)
        form, sources, wires = entry
        emit(f" if n.form is not {const(form)}: return None")
        emit(" s = n._seq")
        emit(" if not floor < s < last: return None")
        emit(" last = s")
        emit(" sv = n._saved")
        emit(" if sv:")
        emit("  if n._freed: return None")
        emit("  for w in sv:")
        emit("   if w[1].version != w[2]: return None")
        emit(" vals = n.values")
        emit(" e = n.edges")
        emit(f" if vals is None or len(e) != {len(wires)}: return None")
        emit(" xs = n.inputs")
        if i in watched:  # the size of the arrays its pending value holds (_pins_inputs)
            emit(f" h{i} = 0")
        for j, (wire, source) in enumerate(zip(wires, sources, strict=True)):
            if wire is None:
                emit(f" if e[{j}][0] is not None: return None")
            else:
                k, nr = wire
                emit(f" p, r = e[{j}]")
                emit(f" if p is None or r != {nr}: return None")
                bind(k, "p")
            if source is _ARG or type(source) is tuple:
                if source is not _ARG and wire is None:
                    emit(" return None")
                    break
                emit(f" x = xs[{j}]")
                if wire is None:  # with an edge, the input is a tensor
                    emit(" if not isinstance(x, Tensor): return None")
                emit(f" v = vals[{j}]")
                if source is _ARG:
                    emit(" if v is x: v = _saved_input(n, x)[0]")
                    emit(" if type(v) is tuple:")
                    emit("  if v[0].values is None: return None")
                    emit("  v = v[0].values[v[1]]")
                    emit(" args.append(v)")
                    if i in watched:
                        emit(f" h{i} += v.size")
                    continue
                # A value computed inside: pending, unless its producer's op is cheap enough to
                # be recomputed anyway (its form, checked at its own position, says).
                emit(" refs = 1")
                emit(" if v is x: v, refs = _saved_input(n, x)")
                if sig[k][0].op.remat:
                    emit(" if type(v) is tuple and v[0].values is None and p.thunk is v[0]:")
                else:
                    emit(" if type(v) is not tuple or v[0].values is not None: return None")
                    emit(" if p.thunk is v[0]:")
                if k in watched:
                    emit(f"  if c{k} is None:")
                    emit(f"   c{k} = x")
                    emit(f"   t{k} = v[0]")
                    emit(f"   r{k} = refs")
                    emit(f"  else: r{k} += refs")
                else:  # several outputs, or not one tensor when try_run counted: kept
                    emit(f"  computed[{k}] = v[0]")
                    keys.append(k)
                if i in watched and sig[k][0].op.remat:
                    emit(f" elif type(v) is not tuple: h{i} += v.size")
            else:
                emit(f" x = xs[{j}]")
                emit(
                    f" if isinstance(x, Tensor) or type(x) is not {const(type(source))}"
                    f" or x != {const(source)}: return None"
                )
        else:
            continue
        break
    if len(leaves) > 1:  # one leaf at two places is another graph
        emit(f" if len({{{', '.join(f'n{i}' for i in leaves)}}}) != {len(leaves)}: return None")
    # The values of the tensors backward was called on, when still pending: from their node.
    for r, (i, _) in enumerate(root_sig):
        emit(f" if len(outputs) > {r}:")
        emit(f"  x = outputs[{r}]")
        emit("  s = x._storage")
        emit(f"  if s.pending() is not None and n{i} is x._grad_fn and n{i}.thunk is s.thunk:")
        emit(f"   computed[{i}] = s.thunk")
        keys.append(i)
    emit(" x = v = p = n = s = w = None  # references the test below would count")
    for k in sorted(watched):
        tensor_refs, storage_refs = refs[k]
        emit(f" if c{k} is not None:")
        emit(f"  st = c{k}._storage")
        emit(
            f"  if (getrefcount(c{k}) > {tensor_refs + _LOCAL_REFS}"
            f" or getrefcount(st) > {storage_refs + _LOCAL_REFS}"
            f" or getrefcount(t{k}) > r{k} + {2 + _LOCAL_REFS}"
            f" or h{k} >= {_SMALL} and h{k} >= st.meta.size):"
        )
        emit(f"   computed[{k}] = t{k}")
        keys.append(k)
    # Written in ascending order whichever of them run, the outputs need no sorting.
    emit(f" out_nodes = tuple({'computed' if keys == sorted(keys) else 'sorted(computed)'})")
    emit(" fn = programs.get(out_nodes)")
    emit(" if fn is None:")
    emit("  fn = _cache.get((SIG, ROOT_SIG, (), out_nodes), _backward_program)")
    emit("  if fn is None: return None")
    emit("  programs[out_nodes] = fn")
    emit(" grads, values = fn(args, [g for _, _, g in roots], [])")
    emit(" if out_nodes: _hand_back(computed, out_nodes, values)")
    if nodes:
        emit(" if not retain_graph:")
    for i in nodes:
        emit(f"  n{i}.vjp = n{i}.values = None")
        emit(f"  if n{i}._saved:")
        emit(f"   n{i}._freed = True")
        emit(f"   n{i}.inputs = None")
    emit(f" return list(zip(({''.join(f'n{i}.variable, ' for i in leaves)}), grads, strict=True))")
    scope = {
        "K": consts,
        "SIG": sig,
        "ROOT_SIG": root_sig,
        "INF": float("inf"),
        "graph": graph,
        "AccumulateGrad": AccumulateGrad,
        "Tensor": _Tensor or _tensor_cls(),
        "getrefcount": getrefcount,
        "_saved_input": _saved_input,
        "_hand_back": _hand_back,
        "_cache": _cache,
        "_backward_program": _backward_program,
    }
    exec(compile("\n".join(code), "<tape replay>", "exec"), scope)
    return scope["check"]


def _hooked(node) -> bool:
    """Whether ``node`` needs the engine's own handling: hooks, retained grads, the VJP of
    tape.compile's trace, or a custom Function's backward."""
    return bool(
        node._hooks
        or node._pre_hooks
        or node._tensor_pre_hooks
        or node._retained
        or node.vjp is not None
        or node.custom
    )


def _saved_input(node, x) -> tuple:
    """The value now of an input that torch saves (its ``Node.values`` entry is the tensor),
    and how many references ``node`` holds to its pending thunk: one through the value, and one
    through ``node``'s own pending thunk (whose ``inputs`` ``values`` then is); otherwise a
    pending producer's thunk is referred to through the value only."""
    storage = x._storage
    # storage.pending(), not its fields: tape.compile's capture watches it
    value = storage.pending() or storage.array
    return value, node.thunk is not None and node.thunk.inputs is not None


def _count_saved(node, saved: dict) -> bool:
    """Count ``node``'s saved entries into ``saved`` (by id of tensor and storage); False when
    they were freed or changed in place since the forward."""
    entries = node._saved
    if entries:
        if node._freed:
            return False
        for t, st, version in entries:
            if st.version != version:
                return False
            if t is not None:
                saved[id(t)] = saved.get(id(t), 0) + 1
            saved[id(st)] = saved.get(id(st), 0) + 1
    return True


_SMALL = 4096  # elements: see _read_later
# Thunk inputs that are not arrays: pending values (thunk, index) and Python scalars.
_NOT_ARRAYS = frozenset({tuple, bool, int, float, complex, type(None)})


def _read_later(inner: dict, saved: dict, sig: list) -> dict:
    """Of the candidates (``try_run``'s ``inner``), the producer positions whose values may be
    read after the backward, with their thunks.

    A value is only the graph's when the tensor, its storage and its thunk have no references
    but the graph's own (node inputs, saved entries, the producer, its users' thunks), and the
    arrays it reads directly are small or smaller than it. Getting this wrong is never wrong,
    only slower: a value not handed back stays pending, and reading it recomputes it.
    """
    out = {}
    for i, tensor, uses, thunk_uses in inner.values():
        if i in out:
            continue
        storage = tensor._storage
        thunk = storage.thunk
        tensor_refs, storage_refs = _own_refs(tensor, uses, saved)
        if (
            sig[i][0].n_out > 1  # several outputs (BatchNorm's stats): kept, not reasoned about
            # the thunk's references: its storage and producer node, and its users' thunks
            or getrefcount(tensor) > tensor_refs + _ENTRY_REFS
            or getrefcount(storage) > storage_refs + _LOCAL_REFS
            or getrefcount(thunk) > 2 + thunk_uses + _LOCAL_REFS
            or _pins_inputs(thunk, storage)
        ):
            out[i] = thunk
    return out


def _own_refs(tensor, uses: int, saved: dict) -> tuple[int, int]:
    """The graph's own references to a value's tensor (its uses and saved entries) and to its
    storage (the tensor, saved entries)."""
    return uses + saved.get(id(tensor), 0), 1 + saved.get(id(tensor._storage), 0)


def _graph_refs(inner: dict, saved: dict) -> dict:
    """``_own_refs`` of ``try_run``'s candidates, by producer position; None where two tensors
    shared one (then each replay keeps it)."""
    refs = {}
    for i, tensor, uses, _ in inner.values():
        refs[i] = None if i in refs else _own_refs(tensor, uses, saved)
    return refs


def _pins_inputs(thunk, storage) -> bool:
    """A pending value holds its input arrays (weights among them) until computed, and an
    optimizer step would then copy them rather than update them in place: worth avoiding
    where those arrays are at least as large as the value itself, unless they are so small
    that the copy costs less than handing the value back (a program output, ~1 us)."""
    held = 0
    for e in thunk.inputs:
        if type(e) not in _NOT_ARRAYS:
            held += getattr(e, "size", 0)
    return held >= _SMALL and held >= storage.meta.size


def _probe_refs() -> tuple[int, int]:
    """What ``_read_later``'s own loop adds to a reference count (its entry list, its local
    variable, getrefcount's argument), measured the same way rather than assumed: the count of
    a fresh object held by one candidate entry, and by one attribute."""

    class Holder:
        pass

    holder = Holder()
    holder.value = object()
    entries = {0: [0, object(), 0, 0]}
    for _, tensor, _, _ in entries.values():
        entry_refs = getrefcount(tensor)
    value = holder.value
    return entry_refs, getrefcount(value) - 1


_ENTRY_REFS, _LOCAL_REFS = _probe_refs()


def _backward_program(key):
    """A pure function (array arguments, root cotangents) -> leaf gradients for one signature."""
    from tape._dispatch import _make_vjp, linearize

    sig, root_sig, thunk_sig, out_nodes = key

    def program(args, root_cts, thunk_args):
        pending = _lazy.evaluate(thunk_sig, thunk_args)
        arg_iter = iter(args)
        inputs_of = {}
        for i, entry in enumerate(sig):
            if not isinstance(entry, bool):
                inputs_of[i] = [next(arg_iter) if s is _ARG else s for s in entry[1]]
        outputs_of = {}
        linearized = {}  # node position -> its VJP, for forwards computed in this program

        def value(source):
            if not isinstance(source, tuple):
                return source
            if source[0] is _PENDING:
                return pending[source[1]][source[2]]
            i, nr = source
            if i not in outputs_of:
                forward(i)
            out = outputs_of[i]
            return out[nr] if isinstance(out, tuple) else out

        def forward(i):
            """Compute node ``i``'s outputs, its producers' first: with a stack, not recursion,
            as a chain of ops may be thousands deep."""
            stack = [i]
            while stack:
                i = stack[-1]
                todo = [
                    s[0]
                    for s in inputs_of[i]
                    if isinstance(s, tuple) and s[0] is not _PENDING and s[0] not in outputs_of
                ]
                if todo:
                    stack += reversed(todo)  # the first input's producer first, as recursion
                    continue
                stack.pop()
                if i in outputs_of:  # reached through two users
                    continue
                form, _, edges = sig[i]
                inputs = tuple(map(value, inputs_of[i]))
                diff = tuple(j for j, e in enumerate(edges) if e is not None)
                if form.op.remat or not diff:
                    outputs_of[i] = form.pure()(*inputs)
                else:  # costly (a conv, a Flax block): its backward reuses this forward
                    outputs_of[i], linearized[i] = linearize(
                        form.pure(), inputs, diff, form.float_outs
                    )

        buffers = [None] * len(sig)
        for (i, nr), ct in zip(root_sig, root_cts, strict=True):
            _add_to(buffers, i, nr, ct, sig)
        out = []
        for i, entry in enumerate(sig):
            grads = buffers[i]
            if isinstance(entry, bool):
                if entry:
                    out.append(grads[0] if grads else None)
                continue
            form, _, edges = entry
            if grads is None:
                continue
            float_outs = form.float_outs
            cts = grads[0] if float_outs is None else tuple(grads[j] for j in float_outs)
            if cts is None:
                continue
            diff = tuple(j for j, e in enumerate(edges) if e is not None)
            if i in linearized:
                in_grads = linearized[i](cts)
            else:
                inputs = tuple(map(value, inputs_of[i]))
                in_grads = _make_vjp(form.pure(), diff, float_outs)(inputs, cts)
            for j, g in zip(diff, in_grads, strict=True):
                _add_to(buffers, edges[j][0], edges[j][1], g, sig)
        for i in out_nodes:
            value((i, 0))  # makes sure outputs_of[i] is computed
        return out, [outputs_of[i] for i in out_nodes]

    return program


def _add_to(buffers, i, nr, g, sig) -> None:
    entry = sig[i]
    n_out = 1 if isinstance(entry, bool) else entry[0].n_out
    buf = buffers[i]
    if buf is None:
        buf = buffers[i] = [None] * n_out
    buf[nr] = g if buf[nr] is None else jnp.add(buf[nr], g)
