"""Bytes that decide a compiled graph program, read from its signature, so that a new process
loads the program from tape's store (tape._program_store) instead of tracing and lowering it.

A signature (``tape._lazy.signature``, ``tape.autograd.compiled``) is nested tuples of forms,
wiring and constants. A form's op is named by its registry name when tape registered it while
being imported (tape's source, which keys every stored program, then decides its forward), or by
its ``source`` key (a Flax module declared with its source). Any other op, and any constant or
static argument that is not a number, string, bool, None, dtype or tuple of them, gives None: the
program is then compiled by ``jax.jit`` as usual.
"""

from __future__ import annotations

import numpy as np

from tape import _dtype, _lazy

_BUILTIN: frozenset = frozenset()  # the ops tape registers while it is imported
_SCALARS = (type(None), bool, int, float, complex, str)


class _Unkeyed(Exception):
    """Raised inside ``_encode`` for a part that cannot be keyed."""


def seal_builtin_ops(names) -> None:
    """Called once tape is imported: the ops registered until now are tape's own."""
    global _BUILTIN
    _BUILTIN = frozenset(names)


def signature_key(signature) -> bytes | None:
    """What decides the program of ``signature`` besides its argument types, or None."""
    return _key(signature)


def op_key(op, *fields) -> bytes | None:
    """What decides a program of one of tape's own ops besides its argument types: the op's
    name and ``fields`` (its static arguments, compute dtype, VJP recipe), or None."""
    if op.name not in _BUILTIN or op.source is not None:
        return None
    return _key(fields, f"op:{op.name}")


def _key(x, *head: str) -> bytes | None:
    parts: list[str] = [f"default dtype {_dtype.get_default_dtype()}", *head]
    try:
        _encode(x, parts)
    except _Unkeyed:
        return None
    return "\0".join(parts).encode()


def _encode(x, parts: list) -> None:
    if type(x) in _SCALARS:
        parts.append(f"{type(x).__name__}:{x!r}")
    elif type(x) is tuple:
        parts.append(f"({len(x)}")
        for v in x:
            _encode(v, parts)
    elif type(x) is _lazy.Form:
        op = x.op
        if op.source is not None:
            parts.append(f"source:{op.source.hex()}")
        elif op.name in _BUILTIN:
            parts.append(f"op:{op.name}")
        else:
            raise _Unkeyed
        for field in (x.static, x.cast, x.float_outs, x.n_out):
            _encode(field, parts)
    elif isinstance(x, np.dtype):
        parts.append(f"dtype:{x.str}")
    elif isinstance(x, np.generic) and x.dtype.kind in "biufc":
        parts.append(f"scalar:{x.dtype.str}:{x.item()!r}")
    else:
        raise _Unkeyed
