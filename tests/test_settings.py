"""Process-wide switches (threads, deterministic algorithms, float32 matmul precision) and the
dense-layout flags, against torch: the same calls give the same answers, warnings and errors."""

from __future__ import annotations

import warnings

import pytest
import torch

import tape


def _outcome(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn()
        except Exception as e:  # noqa: BLE001
            out = (type(e).__name__, str(e))
    # torch's C++ warnings end with their source location, which tape has no reason to copy
    return out, [str(w.message).split(" (Triggered internally at")[0] for w in caught]


# Each case is a list of calls; the settings each touches are put back afterwards (torch's
# interop thread count can be set once per process, so only its argument errors are run).
CASES = {
    "num_threads": lambda t: [t.set_num_threads(3), t.get_num_threads()],
    "num_threads_zero": lambda t: t.set_num_threads(0),
    "num_threads_negative": lambda t: t.set_num_threads(-1),
    "num_threads_float": lambda t: t.set_num_threads(1.5),
    "num_threads_str": lambda t: t.set_num_threads("2"),
    "interop_zero": lambda t: t.set_num_interop_threads(0),
    "interop_float": lambda t: t.set_num_interop_threads(2.0),
    "deterministic_default": lambda t: [
        t.are_deterministic_algorithms_enabled(),
        t.is_deterministic_algorithms_warn_only_enabled(),
    ],
    "deterministic_on": lambda t: [
        t.use_deterministic_algorithms(True, warn_only=True),
        t.are_deterministic_algorithms_enabled(),
        t.is_deterministic_algorithms_warn_only_enabled(),
        t.use_deterministic_algorithms(False),
        t.are_deterministic_algorithms_enabled(),
    ],
    "deterministic_int": lambda t: t.use_deterministic_algorithms(1),
    "precision": lambda t: [
        t.get_float32_matmul_precision(),
        t.set_float32_matmul_precision("medium"),
        t.get_float32_matmul_precision(),
    ],
    "precision_unknown": lambda t: [
        t.set_float32_matmul_precision("low"),
        t.get_float32_matmul_precision(),
    ],
    "precision_int": lambda t: t.set_float32_matmul_precision(3),
    "layout_flags": lambda t: [
        (x.is_sparse, x.is_sparse_csr, x.is_quantized, x.is_meta, x.is_nested, x.is_mkldnn)
        for x in (t.ones(2), t.ones(2, requires_grad=True) * 2, t.zeros(3, 2).t())
    ],
    "layout": lambda t: [
        repr(t.ones(2).layout).replace("torch.", "tape."),
        repr(t.strided).replace("torch.", "tape."),
        t.ones(2).layout is t.strided,
    ],
}


@pytest.mark.parametrize("case", CASES)
def test_settings_match_torch(case):
    got = []
    for lib in (torch, tape):
        saved = (
            lib.get_num_threads(),
            lib.are_deterministic_algorithms_enabled(),
            lib.is_deterministic_algorithms_warn_only_enabled(),
            lib.get_float32_matmul_precision(),
        )
        try:
            got.append(_outcome(lambda lib=lib: CASES[case](lib)))
        finally:
            lib.set_num_threads(saved[0])
            lib.use_deterministic_algorithms(saved[1], warn_only=saved[2])
            lib.set_float32_matmul_precision(saved[3])
    assert got[1] == got[0]


def test_interop_threads_are_set_once():
    """torch allows one call per process (run here on tape alone: torch's own once is spent
    by its first call); the second raises torch's message."""
    tape._settings._settings.interop_set = False
    tape.set_num_interop_threads(1)
    assert tape.get_num_interop_threads() == 1
    with pytest.raises(RuntimeError, match="^Error: cannot set number of interop threads"):
        tape.set_num_interop_threads(2)
