"""Pictures of the autograd graph: ``tape.viz.draw_graph(Q)``.

The picture is the one in PyTorch's autograd tutorial (``dag_autograd.png``): every node is a
backward function named as in PyTorch (``MulBackward0``, ``SubBackward0``, ...), every leaf tensor
that collects a gradient is a blue box showing its shape (and its name, when given), the tensor
the graph was drawn for is a green box at the bottom, and the arrows point in the direction of the
forward pass, from inputs to outputs.

``draw_graph`` returns a :class:`Graph`. In Jupyter it displays inline as SVG; ``Graph.save``
writes ``.svg`` or ``.png``; ``Graph.dot()`` gives Graphviz DOT text for those who have Graphviz.

Rendering uses matplotlib only (its SVG and Agg back ends, with the fonts it ships), with a small
layered layout computed here. That keeps the feature pip-installable everywhere: no system package
such as Graphviz's ``dot`` binary is needed. The walk uses only ``grad_fn``,
``next_functions`` and ``AccumulateGrad.variable``, so it draws PyTorch tensors the same way.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Graph", "draw_graph"]

LEAF_COLOR = "lightblue"
OP_COLOR = "lightgrey"
OUTPUT_COLOR = "#caff70"  # Graphviz's darkolivegreen1, as torchviz draws outputs
PLAIN_COLOR = "white"

_FONT_SIZE = 10.0  # points
_CHAR_W = 0.61 * _FONT_SIZE  # DejaVu Sans Mono advance width
_LINE_H = 1.3 * _FONT_SIZE
_PAD_X, _PAD_Y = 9.0, 6.0
_GAP_X, _GAP_Y = 18.0, 34.0
_MARGIN = 8.0


@dataclass
class _Node:
    key: int
    label: str
    kind: str  # "op", "leaf", "output" or "plain"
    rank: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def width(self) -> float:
        return max(len(s) for s in self.label.split("\n")) * _CHAR_W + 2 * _PAD_X

    @property
    def height(self) -> float:
        return (self.label.count("\n") + 1) * _LINE_H + 2 * _PAD_Y

    @property
    def color(self) -> str:
        return {"op": OP_COLOR, "leaf": LEAF_COLOR, "output": OUTPUT_COLOR}.get(
            self.kind, PLAIN_COLOR
        )


def _shape(t) -> str:
    return "(" + ", ".join(str(int(s)) for s in t.shape) + ")"


class Graph:
    """A drawn autograd graph: ``nodes`` (label, kind) and forward-direction ``edges``."""

    def __init__(self, nodes: list[_Node], edges: list[tuple[int, int]]) -> None:
        self._nodes = nodes
        self._edges = edges
        _layout(nodes, edges)

    # --- what is in it ---------------------------------------------------------------------

    @property
    def nodes(self) -> list[tuple[str, str]]:
        """``(label, kind)`` per node; kind is ``op``, ``leaf``, ``output`` or ``plain``."""
        return [(n.label, n.kind) for n in self._nodes]

    @property
    def edges(self) -> list[tuple[str, str]]:
        """``(from_label, to_label)`` per arrow, in the forward direction."""
        by_key = {n.key: n.label for n in self._nodes}
        return [(by_key[a], by_key[b]) for a, b in self._edges]

    def __repr__(self) -> str:
        ops = sum(n.kind == "op" for n in self._nodes)
        leaves = sum(n.kind == "leaf" for n in self._nodes)
        return f"<tape.viz.Graph: {ops} backward nodes, {leaves} leaves, {len(self._edges)} edges>"

    # --- output ----------------------------------------------------------------------------

    def dot(self) -> str:
        """The graph as Graphviz DOT source (``dot -Tpng``), for use with Graphviz if installed."""
        lines = [
            "digraph {",
            '  graph [size="12,12"]',
            '  node [shape=box style="filled,rounded" fontname=monospace fontsize=10]',
        ]
        for n in self._nodes:
            label = n.label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            lines.append(f'  n{n.key} [label="{label}" fillcolor="{n.color}"]')
        lines += [f"  n{a} -> n{b}" for a, b in self._edges]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _figure(self):
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

        nodes = {n.key: n for n in self._nodes}
        width = max(n.x + n.width / 2 for n in self._nodes) + _MARGIN
        height = max(n.y + n.height / 2 for n in self._nodes) + _MARGIN
        fig = Figure(figsize=(width / 72, height / 72), dpi=72)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.set_axis_off()
        for a, b in self._edges:
            src, dst = nodes[a], nodes[b]
            ax.add_patch(
                FancyArrowPatch(
                    (src.x, src.y + src.height / 2),
                    (dst.x, dst.y - dst.height / 2),
                    arrowstyle="-|>,head_length=6,head_width=3",
                    color="black",
                    linewidth=0.9,
                    shrinkA=0,
                    shrinkB=1,
                    zorder=1,
                )
            )
        for n in self._nodes:
            ax.add_patch(
                FancyBboxPatch(
                    (n.x - n.width / 2, n.y - n.height / 2),
                    n.width,
                    n.height,
                    boxstyle="round,pad=0,rounding_size=4",
                    facecolor=n.color,
                    edgecolor="black",
                    linewidth=0.9,
                    zorder=2,
                )
            )
            ax.text(
                n.x,
                n.y,
                n.label,
                ha="center",
                va="center",
                family="DejaVu Sans Mono",
                fontsize=_FONT_SIZE,
                linespacing=1.15,
                zorder=3,
            )
        return fig

    def svg(self) -> str:
        """The picture as SVG text (labels kept as text)."""
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tape"}):
            self._figure().savefig(buf, format="svg", metadata={"Date": None})
        return buf.getvalue()

    def png(self, dpi: int = 144) -> bytes:
        """The picture as PNG bytes."""
        buf = io.BytesIO()
        self._figure().savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()

    def save(self, path: str | os.PathLike, format: str | None = None, dpi: int = 144) -> str:
        """Write ``path`` as SVG or PNG (from ``format`` or the file's extension); return it."""
        path = os.fspath(path)
        fmt = (format or os.path.splitext(path)[1].lstrip(".") or "svg").lower()
        if fmt == "svg":
            data = self.svg().encode()
        elif fmt == "png":
            data = self.png(dpi=dpi)
        else:
            raise ValueError(f"draw_graph can save 'svg' or 'png', not {fmt!r}")
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return path

    def _repr_svg_(self) -> str:
        return self.svg()


def draw_graph(
    tensor,
    params: Mapping[str, object] | None = None,
    *,
    name: str | None = None,
    show_output: bool = True,
) -> Graph:
    """Draw the backward graph that produced ``tensor`` (or a list of tensors).

    ``params`` maps names to leaf tensors (``dict(model.named_parameters())``, or
    ``{"a": a, "b": b}``) so their boxes read ``a\\n(2)``; unnamed leaves show only their shape.
    ``name`` labels the output box, which ``show_output=False`` leaves out.
    """
    roots = list(tensor) if isinstance(tensor, (list, tuple)) else [tensor]
    names = {id(t): k for k, t in (params or {}).items()}
    nodes: dict[int, _Node] = {}
    edges: list[tuple[int, int]] = []
    keep: list[object] = []  # hold the objects whose ids are keys

    def leaf_label(t) -> str:
        n = names.get(id(t))
        return _shape(t) if n is None else f"{n}\n{_shape(t)}"

    def add_fn(fn) -> int:
        key = id(fn)
        if key in nodes:
            return key
        keep.append(fn)
        variable = getattr(fn, "variable", None)
        if variable is not None:  # AccumulateGrad: draw the leaf tensor itself
            nodes[key] = _Node(key, leaf_label(variable), "leaf")
            return key
        nodes[key] = _Node(key, type(fn).__name__, "op")
        stack.append(fn)
        return key

    stack: list[object] = []
    for i, t in enumerate(roots):
        fn = getattr(t, "grad_fn", None)
        label = name if len(roots) == 1 else (f"{name}[{i}]" if name else None)
        out_label = _shape(t) if not label else f"{label}\n{_shape(t)}"
        if fn is None:
            kind = "leaf" if getattr(t, "requires_grad", False) else "plain"
            key = id(t)
            keep.append(t)
            if key not in nodes:
                lbl = leaf_label(t) if label is None else out_label
                nodes[key] = _Node(key, lbl, kind)
            continue
        root_key = add_fn(fn)
        while stack:
            cur = stack.pop()
            for nxt in _next_functions(cur):
                edges.append((add_fn(nxt), id(cur)))
        if show_output:
            keep.append(t)
            nodes[id(t)] = _Node(id(t), out_label, "output")
            edges.append((root_key, id(t)))
    return Graph(list(nodes.values()), list(dict.fromkeys(edges)))


def _next_functions(fn) -> Iterable[object]:
    for entry in getattr(fn, "next_functions", ()) or ():
        nxt = entry[0] if isinstance(entry, tuple) else entry
        if nxt is not None:
            yield nxt


# --- layout: layers by longest path, barycentric ordering, then packed coordinates ----------


def _layout(nodes: list[_Node], edges: list[tuple[int, int]]) -> None:
    if not nodes:
        return
    preds: dict[int, list[int]] = {n.key: [] for n in nodes}
    succs: dict[int, list[int]] = {n.key: [] for n in nodes}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    by_key = {n.key: n for n in nodes}

    # Layers by the longest path to the output: every node sits just above its last consumer,
    # so a leaf is drawn next to the op that uses it.
    indeg = {k: len(v) for k, v in succs.items()}
    order = [k for k, d in indeg.items() if d == 0]
    for k in order:  # grows while iterating
        for p in preds[k]:
            indeg[p] -= 1
            if indeg[p] == 0:
                order.append(p)
    rank = dict.fromkeys(by_key, 0)
    for k in order:
        for p in preds[k]:
            rank[p] = min(rank[p], rank[k] - 1)
    low = min(rank.values())
    layers: dict[int, list[int]] = {}
    for k in by_key:  # discovery order: roots first
        layers.setdefault(rank[k] - low, []).append(k)
    depth = max(layers) + 1
    layers_list = [layers.get(r, []) for r in range(depth)]

    def barycenter(layer: list[int], nbrs: dict[int, list[int]], pos: dict[int, float]) -> None:
        def key(k: int) -> float:
            ps = [pos[p] for p in nbrs[k] if p in pos]
            return sum(ps) / len(ps) if ps else pos.get(k, 0.0)

        layer.sort(key=key)

    pos: dict[int, float] = {}
    for layer in layers_list:
        pos.update({k: float(i) for i, k in enumerate(layer)})
    for _ in range(4):
        for r in range(1, depth):
            barycenter(layers_list[r], preds, pos)
            pos.update({k: float(i) for i, k in enumerate(layers_list[r])})
        for r in range(depth - 2, -1, -1):
            barycenter(layers_list[r], succs, pos)
            pos.update({k: float(i) for i, k in enumerate(layers_list[r])})

    # x coordinates: pack each layer, then pull nodes toward their neighbours, keeping the order.
    x: dict[int, float] = {}
    for layer in layers_list:
        cursor = 0.0
        for k in layer:
            w = by_key[k].width
            x[k] = cursor + w / 2
            cursor += w + _GAP_X
        shift = (cursor - _GAP_X) / 2
        for k in layer:
            x[k] -= shift

    def place(layer: list[int], nbrs: dict[int, list[int]]) -> None:
        want = []
        for k in layer:
            xs = [x[p] for p in nbrs[k]]
            want.append(sum(xs) / len(xs) if xs else x[k])
        placed: list[float] = []
        for i, k in enumerate(layer):
            v = want[i]
            if i:
                prev = layer[i - 1]
                v = max(v, placed[-1] + (by_key[prev].width + by_key[k].width) / 2 + _GAP_X)
            placed.append(v)
        # centre the packed layer on the mean of what its nodes wanted
        if placed:
            offset = sum(want) / len(want) - sum(placed) / len(placed)
            for k, v in zip(layer, placed, strict=True):
                x[k] = v + offset

    for _ in range(3):
        for r in range(1, depth):
            place(layers_list[r], preds)
        for r in range(depth - 2, -1, -1):
            place(layers_list[r], succs)

    left = min(x[k] - by_key[k].width / 2 for k in by_key)
    y = _MARGIN
    for r, layer in enumerate(layers_list):
        h = max((by_key[k].height for k in layer), default=0.0)
        for k in layer:
            n = by_key[k]
            n.rank = r
            n.x = x[k] - left + _MARGIN
            n.y = y + h / 2
        y += h + _GAP_Y
