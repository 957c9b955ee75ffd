"""tape.viz.draw_graph: PyTorch's node names, blue leaf boxes with shapes, forward arrows,
inline SVG, and files in SVG and PNG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("matplotlib")

import torch

import tape
from tape.viz import LEAF_COLOR, Graph, draw_graph


def q_graph(lib):
    a = lib.tensor([2.0, 3.0], requires_grad=True)
    b = lib.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a**3 - b**2
    return Q, a, b


def test_tutorial_dag_nodes_and_forward_arrows():
    Q, a, b = q_graph(tape)
    g = draw_graph(Q, {"a": a, "b": b}, name="Q")
    assert isinstance(g, Graph)
    assert sorted(g.nodes) == sorted(
        [
            ("a\n(2)", "leaf"),
            ("b\n(2)", "leaf"),
            ("PowBackward0", "op"),
            ("PowBackward0", "op"),
            ("MulBackward0", "op"),
            ("SubBackward0", "op"),
            ("Q\n(2)", "output"),
        ]
    )
    # forward direction: from the leaves towards Q
    assert sorted(g.edges) == sorted(
        [
            ("a\n(2)", "PowBackward0"),
            ("PowBackward0", "MulBackward0"),
            ("MulBackward0", "SubBackward0"),
            ("b\n(2)", "PowBackward0"),
            ("PowBackward0", "SubBackward0"),
            ("SubBackward0", "Q\n(2)"),
        ]
    )


def _shape_of_graph(g: Graph):
    return sorted(g.nodes), sorted(g.edges)


def test_same_picture_as_for_pytorch_tensors():
    """The walk uses torch's API (grad_fn, next_functions, variable): both draw alike."""
    for build in (
        q_graph,
        lambda lib: ((lib.ones(3, 4, requires_grad=True).exp() * 2).sum(dim=1).sigmoid().mean(),),
    ):
        got = draw_graph(build(tape)[0])
        want = draw_graph(build(torch)[0])
        assert _shape_of_graph(got) == _shape_of_graph(want)


def test_unnamed_leaves_show_shapes_and_layers_run_top_down():
    w = tape.randn(5, 3, requires_grad=True)
    x = tape.ones(4, 5)
    out = (x @ w).relu().sum()
    g = draw_graph(out)
    labels = [label for label, kind in g.nodes if kind == "leaf"]
    assert labels == ["(5, 3)"]
    nodes = {n.label: n for n in g._nodes}
    # every arrow points down the page: forward goes from top (leaves) to bottom (output)
    for a, b in g._edges:
        src = next(n for n in g._nodes if n.key == a)
        dst = next(n for n in g._nodes if n.key == b)
        assert src.y < dst.y
    assert nodes["()"].kind == "output"


def test_svg_inline_and_files(tmp_path):
    Q, a, b = q_graph(tape)
    g = draw_graph(Q, {"a": a, "b": b})
    svg = g._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    for text in ("SubBackward0", "MulBackward0", "PowBackward0"):
        assert text in svg  # labels stay text in the SVG
    assert "#add8e6" in svg.lower()  # lightblue leaf boxes
    assert LEAF_COLOR == "lightblue"
    assert g.svg() == svg  # deterministic

    svg_path = g.save(tmp_path / "dag.svg")
    png_path = g.save(tmp_path / "dag.png")
    assert open(svg_path).read().startswith("<?xml")
    data = open(png_path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    with pytest.raises(ValueError, match="svg"):
        g.save(tmp_path / "dag.gif")


def test_dot_source():
    Q, a, b = q_graph(tape)
    dot = draw_graph(Q, {"a": a, "b": b}).dot()
    assert dot.startswith("digraph {") and dot.rstrip().endswith("}")
    assert 'label="a\\n(2)" fillcolor="lightblue"' in dot
    assert dot.count("->") == 6


def test_leaf_plain_tensor_and_freed_graph():
    a = tape.tensor([1.0, 2.0], requires_grad=True)
    assert draw_graph(a, {"a": a}).nodes == [("a\n(2)", "leaf")]
    c = tape.zeros(2, 3)
    assert draw_graph(c).nodes == [("(2, 3)", "plain")]
    # after backward (graph freed) the structure can still be drawn
    y = (a * a).sum()
    y.backward()
    assert ("MulBackward0", "op") in draw_graph(y).nodes


def test_shared_leaf_and_several_outputs():
    a = tape.tensor([1.0, 2.0], requires_grad=True)
    y1, y2 = a * 2, a.exp()
    g = draw_graph([y1, y2], {"a": a}, name="y")
    assert [k for _, k in g.nodes].count("leaf") == 1
    assert ("y[0]\n(2)", "output") in g.nodes and ("y[1]\n(2)", "output") in g.nodes
    assert "2 backward nodes, 1 leaves" in repr(g)


def test_model_graph_draws():
    from tape import nn

    tape.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    loss = nn.functional.cross_entropy(model(tape.randn(2, 4)), tape.tensor([0, 2]))
    g = draw_graph(loss, dict(model.named_parameters()), name="loss")
    leaves = {label for label, kind in g.nodes if kind == "leaf"}
    assert leaves == {"0.weight\n(8, 4)", "0.bias\n(8)", "2.weight\n(3, 8)", "2.bias\n(3)"}
    assert g.png()[:4] == b"\x89PNG"
