"""Donating buffers to XLA: a compiled program that overwrites state (a step's weights, momentum
buffers, running statistics) may take over the buffers of the old values for the new ones, so
the update happens in place instead of in freshly allocated memory.

A buffer is handed over only when its storage is the one thing that refers to it: a pending
``clone()`` of a weight, or the same array passed twice, still needs the old value. (A numpy
view taken with ``.numpy()`` is safe either way: JAX then copies instead of donating.)
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

from tape.tensor import Storage

ENABLED = True  # off: programs write fresh buffers (for comparisons)


def _refs(arrays: list) -> list:
    return [sys.getrefcount(a) for a in arrays]


# What ``_refs`` counts for an array that only its storage holds (the same code path).
_probe = Storage(object())
_OWN_REFS = _refs([_probe.array])[0]
del _probe


def donation(arrays: list, *others: list) -> list:
    """``arrays`` (each just read from its storage) ready to donate: each one as it is when
    nothing else refers to it, else a copy of it. ``others``: the program's other inputs."""
    if not arrays or not ENABLED:
        return arrays
    elsewhere = {id(a) for o in others for a in o}
    seen: set = set()
    shared = []  # positions of the arrays something else still refers to
    for i, (a, refs) in enumerate(zip(arrays, _refs(arrays), strict=True)):
        if type(a) is np.ndarray:
            continue  # JAX copies a host array to the device: its buffer is never donated
        if refs > _OWN_REFS or id(a) in seen or id(a) in elsewhere:
            shared.append(i)
        seen.add(id(a))
    if not shared:
        return arrays
    out = list(arrays)
    for i, copy in zip(shared, _copy_all([arrays[i] for i in shared]), strict=True):
        out[i] = copy
    return out


# One program copies them all: jnp.copy one by one costs ~130 us an array (its dispatch), and a
# step whose pending forward still holds a few weights (a small CNN) paid that at every step.
_copies = jax.jit(lambda arrays: [jnp.copy(a) for a in arrays])


def _copy_all(arrays: list) -> list:
    try:
        return _copies(arrays)
    except ValueError:  # on several devices: no one program takes them all
        return [jnp.copy(a) for a in arrays]
