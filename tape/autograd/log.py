"""The graph log: the compiled backward's signature, built while the forward records the graph.

Every recorded node is appended to the current log with its signature entry (op, sources,
wiring), the way ``tape.autograd.compiled.try_run`` would build it, but with positions in the
log. ``backward`` on the last node logged, when every other logged node feeds a later one, has
exactly the log as its graph: then the signature is the log's entries as they stand, and the
backward skips walking, sorting and re-reading the graph (``try_run`` below).

Anything that could make an entry stale sends that backward the long way instead: a node from
another log, a pending input with no node, a value computed on demand (``_lazy.epoch``), an
in-place change to an input or a saved value (versions), hooks, retained grads, or
``tape.compile``'s tracing. The log holds nodes by weak reference and everything else as plain
data (positions, ids, versions), so it never keeps a graph alive.
"""

from __future__ import annotations

import weakref

from tape import _lazy
from tape.autograd import compiled
from tape.autograd.graph import AccumulateGrad

MAX_ENTRIES = 100_000  # a log that no backward ends (forwards with grad on) starts over past this


class Log:
    """What one graph's compiled backward needs, in recording order."""

    __slots__ = ("nodes", "entries", "open", "dirty", "epoch", "args", "versions", "inner", "saved")

    def __init__(self) -> None:
        self.nodes: list = []  # weak references, one per entry
        self.entries: list = []  # signature entries; True for a leaf accumulator
        self.open: set = set()  # positions of nodes no later node takes an input from
        self.dirty = False
        self.epoch = _lazy.epoch
        self.args: list = []  # (position, input index) of each array argument, in order
        self.versions: list = []  # (position, input index, version) of each tensor input
        self.inner: dict = {}  # try_run's candidates, with the tensor as (position, index)
        self.saved: dict = {}  # id(tensor or storage) -> how many saved entries hold it


current: Log | None = None
enabled = True  # off while tape.compile captures a step: it watches what backward reads


def note(node, args: tuple, tensor_cls: type) -> None:
    """Append ``node``, just recorded from ``args``, to the current log."""
    global current
    log = current
    if log is None or len(log.entries) > MAX_ENTRIES:
        log = current = Log()
    node._log = log
    if log.dirty:
        return
    entries = log.entries
    wires = []
    for producer, nr in node.edges:
        if producer is None:
            wires.append(None)
        elif type(producer) is AccumulateGrad:
            if producer._log is not log:  # first use in this graph: its entry goes first
                producer._log = log
                producer._pos = len(entries)
                entries.append(True)
                log.nodes.append(weakref.ref(producer))
            wires.append((producer._pos, nr))
        elif producer._log is log:
            log.open.discard(producer._pos)
            wires.append((producer._pos, nr))
        else:  # a node from before this log: the graph is more than the log
            log.dirty = True
            return
    pos = len(entries)
    sources = []
    inner = log.inner
    for j, x in enumerate(args):
        if not isinstance(x, tensor_cls):
            sources.append(x)
            continue
        storage = x._storage
        log.versions.append((pos, j, storage.version))
        wire = wires[j]
        kind = compiled.source_kind(storage, node.edges[j][0], wire)
        if kind is compiled.ARG:
            sources.append(compiled._ARG)
            log.args.append((pos, j))
            continue
        if kind is compiled.PATCH:  # rare enough to leave to the slow path
            log.dirty = True
            return
        sources.append(wire)
        if kind is compiled.OWN:
            held = node.thunk is not None
            seen = inner.get(id(x))
            if seen is None:
                inner[id(x)] = [wire[0], pos, j, 1, held]
            else:
                seen[3] += 1
                seen[4] += held
    compiled.count_saved(log.saved, node._saved)
    node._pos = pos
    entries.append((node.form, tuple(sources), tuple(wires)))
    log.nodes.append(weakref.ref(node))
    log.open.add(pos)


def invalidate() -> None:
    """Something changed that the current log's entries may not show."""
    if current is not None:
        current.dirty = True


def end() -> None:
    """A backward ran: the next recorded node starts a new log."""
    global current
    current = None


MISS = None  # try_run: the log does not cover this backward
FIRST = "first sighting"  # try_run: covered, but the signature is new; run it node by node


def try_run(roots, retain_graph: bool, outputs):
    """``compiled.try_run`` for a graph that is exactly the current log: the ``(leaf, grad)``
    pairs, ``MISS`` or ``FIRST``."""
    if len(roots) != 1:
        return MISS
    root, nr, g = roots[0]
    log = root._log
    if (
        log is None
        or log is not current
        or not enabled
        or log.dirty
        or log.epoch != _lazy.epoch
        or len(log.open) != 1
        or root._pos not in log.open
    ):
        return MISS
    nodes = [ref() for ref in log.nodes]
    leaves = _leaves_if_unchanged(log, nodes)
    if leaves is None:
        return MISS
    args = [nodes[pos].inputs[j]._storage.array for pos, j in log.args]
    sig = tuple(log.entries)
    computed = {}
    for t in outputs:
        node = t._grad_fn
        if node is root and t._storage.pending() is not None and node.thunk is t._storage.thunk:
            computed[root._pos] = node.thunk
    t = None  # the loop's last value would count as a reference in _read_later
    if log.inner:
        inner = {k: [p, nodes[c].inputs[j], u, h] for k, (p, c, j, u, h) in log.inner.items()}
        computed.update(compiled._read_later(inner, log.saved, sig))
        inner = None
    pairs = compiled.launch(sig, ((root._pos, nr),), (), [], [g], computed, args, leaves)
    if pairs is None:
        return FIRST
    if not retain_graph:
        for node in nodes:
            node.free()
    return pairs


def _leaves_if_unchanged(log: Log, nodes: list) -> list | None:
    """The graph's leaves, or None where something since recording makes the log stale: hooks,
    retained grads, or a new version of a saved value or an input."""
    leaves = []
    for node in nodes:
        if type(node) is AccumulateGrad:
            if node.variable._hooks:
                return None
            leaves.append(node.variable)
            continue
        if compiled.runs_in_engine(node):
            return None
        for _, st, version in node._saved:
            if st.version != version:
                return None  # the slow path raises torch's error
    for pos, j, version in log.versions:
        if nodes[pos].inputs[j]._storage.version != version:
            return None
    return leaves
