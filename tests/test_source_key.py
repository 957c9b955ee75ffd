"""Source keys (tape._source_key): equal modules built from the same code get one key, and any
change to a field, a closure, the declared file or its loaded code gives another; what the key
cannot vouch for gives None, so the caller traces as before. Records of a Flax module's variable
shapes (tape.nn.flax_adapter) are read back only when they are what was written. Graph
signature keys (tape._signature_key) follow the same rule."""

from __future__ import annotations

import functools
import importlib
import math
import sys
import textwrap

import flax.linen as fnn
import jax
import numpy as np
import pytest

import tape
from models import flax_resnet as F
from tape import _lazy
from tape._signature_key import signature_key
from tape._source_key import source_key
from tape.nn import flax_adapter
from tape.ops.registry import OPS, register

THIS = sys.modules[__name__]


class _Scaled(fnn.Module):
    """A Flax module of this file, which tests declare or not."""

    scale: float = 2.0
    act: object = None

    @fnn.compact
    def __call__(self, x):
        y = x * self.scale
        return y if self.act is None else self.act(y)


class _Opaque:
    """An object with no stable description."""


def _key(module, modules=(F,)):
    return source_key(module, list(modules))


def test_equal_modules_share_a_key():
    assert _key(F.BasicBlock(64)) == _key(F.BasicBlock(64))
    assert _key(F.Stem()) is not None


@pytest.mark.parametrize(
    "other",
    [
        F.BasicBlock(128),
        F.BasicBlock(64, (2, 2)),
        F.BasicBlock(64, zero_init_residual=True),
        F.BasicBlock(64, conv=functools.partial(F.Conv, use_bias=True)),
        F.BasicBlock(64, act=jax.nn.relu),
        F.Bottleneck(64),
        F.BasicBlock(64, name="named"),
    ],
    ids=["filters", "strides", "zero_init", "partial", "act", "class", "name"],
)
def test_any_field_changes_the_key(other):
    assert _key(other) not in (None, _key(F.BasicBlock(64)))


def test_a_closure_is_keyed_by_what_it_holds():
    def conv(scale):
        init = fnn.initializers.variance_scaling(scale, "fan_out", "normal")
        return F.BasicBlock(64, conv=functools.partial(F.Conv, kernel_init=init))

    assert _key(conv(2.0)) == _key(conv(2.0))
    assert _key(conv(1.0)) != _key(conv(2.0))


def test_lambdas_of_a_declared_module_are_told_apart_by_their_code():
    double, triple = (lambda x: x * 2), (lambda x: x * 3)
    keys = {_key(_Scaled(act=f), [THIS]) for f in (double, triple)}
    assert len(keys) == 2 and None not in keys


@pytest.mark.parametrize(
    "module, modules",
    [
        (_Scaled(), [F]),  # a class from an undeclared module
        (F.BasicBlock(64, act=lambda x: x), [F]),  # a function from an undeclared module
        (F.BasicBlock(64, act=_Opaque()), [F, THIS]),  # an object with no description
        (F.BasicBlock(64), [F, math]),  # a module that is not Python source
    ],
    ids=["class", "function", "object", "compiled module"],
)
def test_what_the_key_cannot_vouch_for_gives_none(module, modules):
    assert _key(module, modules) is None


def test_the_file_and_the_loaded_code_both_key(tmp_path, monkeypatch):
    """Editing the declared file changes the key before a reload (the file), and the reload
    changes it again (the loaded code): neither the old code nor the new one is keyed by the
    other's key."""
    source = """
        import flax.linen as fnn

        SCALE = {scale}

        class Block(fnn.Module):
            @fnn.compact
            def __call__(self, x):
                return x * SCALE
    """
    path = tmp_path / "tape_source_key_probe.py"
    path.write_text(textwrap.dedent(source.format(scale=2.0)))
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = importlib.import_module("tape_source_key_probe")
    try:
        before = _key(probe.Block(), [probe])
        path.write_text(textwrap.dedent(source.format(scale=3.0)))
        edited = _key(probe.Block(), [probe])
        importlib.reload(probe)
        reloaded = _key(probe.Block(), [probe])
    finally:
        sys.modules.pop("tape_source_key_probe", None)
    assert len({before, edited, reloaded}) == 3


def _shapes():
    return flax_adapter._trace_init(
        F.BasicBlock(8, (2, 2)), jax.ShapeDtypeStruct((1, 8, 8, 4), np.float32), {"train": False}
    )


def test_a_shape_record_reads_back_as_traced():
    shapes, types = _shapes()
    back = flax_adapter._from_record(flax_adapter._to_record(shapes, types))
    assert back == (shapes, types)
    assert list(back[1]) == list(types)  # call order is kept


@pytest.mark.parametrize(
    "record",
    [
        None,
        [],
        {"shapes": [["params", ["Conv_0", "weight"], [3, -1], "float32"]], "types": []},
        {"shapes": [["params", [], [3], "float32"]], "types": []},
        {"shapes": [["params", ["w"], [3.5], "float32"]], "types": []},
        {"shapes": [["params", ["w"], [3], "no-such-dtype"]], "types": []},
        {"shapes": [["params", [1], [3], "float32"]], "types": []},
        {"shapes": [], "types": [[1, "Conv"]]},
        {"shapes": [["params", ["w"]]], "types": []},
        {"shapes": []},
    ],
)
def test_a_record_that_is_not_what_was_written_is_ignored(record):
    assert flax_adapter._from_record(record) is None


# --- graph signatures (tape._signature_key) ------------------------------------------------


def _mul_form():
    return _lazy.form(OPS["mul"], (), np.dtype(np.float32), None, 1)


def _sig(constant=2.5, form=None):
    return ((form or _mul_form(), ("<array>", constant)),)


def test_a_signature_of_tape_ops_and_constants_is_keyed():
    assert signature_key(_sig()) == signature_key(_sig()) is not None
    assert signature_key(_sig(3.5)) not in (None, signature_key(_sig()))
    assert signature_key(_sig(2)) != signature_key(_sig(2.0))  # the type is part of it
    add = _lazy.form(OPS["add"], (), np.dtype(np.float32), None, 1)
    assert signature_key(_sig(form=add)) != signature_key(_sig())


def test_the_default_dtype_is_part_of_a_signature_key():
    before = signature_key(_sig())
    tape.set_default_dtype(tape.float64)
    try:
        assert signature_key(_sig()) != before
    finally:
        tape.set_default_dtype(tape.float32)


def test_what_tape_cannot_vouch_for_leaves_a_signature_unkeyed():
    late = OPS.get("test_source_key_late_op") or register(
        "test_source_key_late_op", lambda x: x * 2, "MulBackward0"
    )  # registered after tape's import: code tape's source does not fix
    assert signature_key(_sig(form=_lazy.form(late, (), None, None, 1))) is None
    assert signature_key(_sig(object())) is None  # a constant with no stable description
