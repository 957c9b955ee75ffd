"""Shared helpers for the torch-differential tests: run one program under tape and under torch."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

import tape

LIBS = {"tape": tape, "torch": torch}

_ADDR = re.compile(r"0x[0-9a-fA-F]+")
_TAPE_PREFIX = re.compile(r"\btape\.(?=[A-Za-z_])")


def normalize(text: str) -> str:
    """Mask object addresses and spell tape's module prefix as torch's."""
    return _TAPE_PREFIX.sub("torch.", _ADDR.sub("0xADDR", text))


def to_numpy(x):
    """A tape or torch tensor (or nested tuple/list of them, or None) as numpy."""
    if x is None:
        return None
    if isinstance(x, (tuple, list)):
        return type(x)(to_numpy(v) for v in x)
    if isinstance(x, torch.Tensor):
        return x.detach().numpy(force=True)  # force: torch's ZeroTensor gradients
    if isinstance(x, tape.Tensor):
        return x.detach().numpy()
    return x


def assert_same(got, want, *, rtol=1e-5, atol=1e-6, check_dtype=True):
    """Compare a tape result with torch's: tensors by value/shape/dtype, others by equality."""
    if want is None or got is None:
        assert got is None and want is None, (got, want)
        return
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            assert_same(g, w, rtol=rtol, atol=atol, check_dtype=check_dtype)
        return
    if isinstance(want, torch.Tensor):
        assert isinstance(got, tape.Tensor), type(got)
        assert tuple(got.shape) == tuple(want.shape), (got.shape, want.shape)
        if check_dtype:
            assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (
                got.dtype,
                want.dtype,
            )
        np.testing.assert_allclose(
            to_numpy(got).astype(np.float64),
            to_numpy(want).astype(np.float64),
            rtol=rtol,
            atol=atol,
        )
        return
    assert got == want, (got, want)


def capture_error(fn):
    """Run ``fn``; return the raised exception (or None)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return e
    return None


def assert_same_error(tape_fn, torch_fn):
    """Both raise the same exception type, and tape's message starts like torch's."""
    et, eo = capture_error(tape_fn), capture_error(torch_fn)
    assert eo is not None, "torch did not raise"
    assert et is not None, f"tape did not raise; torch raised {type(eo).__name__}: {eo}"
    assert type(et).__name__ == type(eo).__name__, (et, eo)
    want = str(eo).split("\n")[0]
    # torch sometimes appends its C++ location; compare the part before it.
    want = want.split(" (Triggered internally")[0]
    assert str(et).startswith(want[:200]) or want.startswith(str(et)[: len(want)]), (
        f"\ntape:  {et}\ntorch: {eo}"
    )
    return et, eo


@pytest.fixture
def caught_warnings():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        yield w
