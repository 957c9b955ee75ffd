"""A key for a value made from code whose source is known, so that a new process finds what an
earlier one derived from it (a Flax module's variable shapes, its compiled programs) without
tracing it.

``source_key(value, modules)`` describes ``value`` (a Flax module, its fields, and the partials,
functions and classes inside them) by names, numbers and code, and adds the source of
``modules``. Passing ``modules`` is the caller's promise that their source, with tape's own and the
installed JAX, Flax and numpy, decides what ``value`` computes. A class or function defined
anywhere else, or an object it cannot describe, gives None, and the caller traces as usual.

A module's source is its file as it is now and the code it runs as loaded (the bytecode of its
functions and classes, and its constants), so a file edited but not reloaded keys neither the
old code nor the new.

>>> source_key(flax_resnet.BasicBlock(64), [flax_resnet])  # doctest: +SKIP
b'...'
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import marshal
import os
import sys
import types
from collections.abc import Iterable

import numpy as np

# Code covered by the key without being named: tape's source is in every stored program's key
# (tape._program_store._environment), the libraries' by their versions.
_LIBRARIES = ("tape", "flax", "jax", "jaxlib", "numpy", "builtins")
_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_files: dict = {}  # (path, mtime, size) -> the file's bytes


class _Opaque(Exception):
    """Raised inside ``_describe`` for a part of the value that cannot be keyed."""


def source_key(value, modules: Iterable[types.ModuleType]) -> bytes | None:
    """sha256 bytes that decide ``value``'s computation, or None when ``value`` holds something
    from outside ``modules`` and the libraries, or something with no stable description."""
    import flax

    modules = tuple(modules)
    named = {m.__name__ for m in modules}
    try:
        text = _describe(value, named, 0)
    except _Opaque:
        return None
    digest = hashlib.sha256(f"{flax.__version__}\0{np.__version__}\0{text}".encode())
    for m in sorted(modules, key=lambda m: m.__name__):
        source = _file(m)
        if source is None:
            return None
        digest.update(f"{m.__name__}\0{len(source)}\0".encode() + source + _loaded(m, named))
    return digest.digest()


def _file(module: types.ModuleType) -> bytes | None:
    path = getattr(module, "__file__", None)
    if path is None or not path.endswith(".py"):
        return None
    try:
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        if key not in _files:
            with open(path, "rb") as fh:
                _files[key] = fh.read()
    except OSError:
        return None
    return _files[key]


def _loaded(module: types.ModuleType, named: set) -> bytes:
    """The code ``module`` runs as loaded: its functions' and classes' bytecode and its
    constants (what cannot be described is left to the file's text)."""
    digest = hashlib.sha256()
    for name, value in sorted(vars(module).items()):
        if name.startswith("__"):
            continue
        if getattr(value, "__module__", None) == module.__name__:
            functions = [value] if isinstance(value, types.FunctionType) else []
            if isinstance(value, type):
                functions = [
                    f for _, f in sorted(vars(value).items()) if isinstance(f, types.FunctionType)
                ]
            for f in functions:
                digest.update(f"{name}.{f.__name__}".encode() + marshal.dumps(f.__code__))
            if functions:
                continue
        try:
            digest.update(f"{name}={_describe(value, named, 0)}\0".encode())
        except _Opaque:
            pass
    return digest.digest()


def _known(module_name: str | None, named: set) -> bool:
    if module_name is None:
        return False
    root = module_name.partition(".")[0]
    return module_name in named or root in _LIBRARIES


def _describe(value, named: set, depth: int) -> str:
    if depth > 32:  # a closure that holds itself
        raise _Opaque
    again = functools.partial(_describe, named=named, depth=depth + 1)
    if type(value) in _SCALARS:
        return f"{type(value).__name__}:{value!r}"
    if type(value) in (tuple, list):
        return f"{type(value).__name__}({','.join(map(again, value))})"
    if type(value) is dict and all(type(k) is str for k in value):
        return "dict(" + ",".join(f"{k}={again(v)}" for k, v in sorted(value.items())) + ")"
    if isinstance(value, np.dtype):
        return f"dtype:{value.str}"
    if type(value) is functools.partial:
        keywords = sorted(value.keywords.items())
        return f"partial({again(value.func)},{again(value.args)},{again(dict(keywords))})"
    if isinstance(value, type):
        return _name(value, named)
    if isinstance(value, types.FunctionType):
        return _function(value, named, again)
    module = sys.modules.get("flax.linen")
    if module is not None and isinstance(value, module.Module):
        fields = [f.name for f in dataclasses.fields(value) if f.name != "parent"]
        parts = ",".join(f"{k}={again(getattr(value, k))}" for k in fields)
        return f"{_name(type(value), named)}({parts})"
    # A library's module-level object that is neither a function nor a class (a jitted
    # function, a custom_jvp rule, a scalar type): its name, since the version fixes it.
    module_name = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(module_name, str) and isinstance(qualname, str) and "<locals>" not in qualname:
        if module_name.partition(".")[0] in _LIBRARIES:
            return f"{module_name}.{qualname}"
    raise _Opaque


def _name(cls: type, named: set) -> str:
    if not _known(cls.__module__, named):
        raise _Opaque
    return f"class:{cls.__module__}.{cls.__qualname__}"


def _function(fn: types.FunctionType, named: set, again) -> str:
    if not _known(fn.__module__, named):
        raise _Opaque
    text = f"fn:{fn.__module__}.{fn.__qualname__}"
    if fn.__module__ in named:
        # Two lambdas (or two closures) can share a name; their code tells them apart.
        text += hashlib.sha256(marshal.dumps(fn.__code__)).hexdigest()
    try:
        cells = tuple(c.cell_contents for c in fn.__closure__ or ())
    except ValueError:  # a cell not yet filled
        raise _Opaque from None
    return f"{text}({again(cells)},{again(fn.__defaults__)},{again(fn.__kwdefaults__)})"
