"""Calling a module with other parameters and buffers (``torch.func.functional_call``)."""

from __future__ import annotations

import contextlib
import warnings

from tape import _capture

_ABSENT = object()


def _slot(module, name: str):
    """(the submodule, its dict that holds ``name``'s last part, or None for a plain
    attribute, the last part)."""
    *path, leaf = name.split(".")
    owner = module.get_submodule(".".join(path))
    for store in (owner._parameters, owner._buffers):
        if leaf in store:
            return owner, store, leaf
    return owner, None, leaf


def _tied(module, tensors: dict) -> dict:
    """``tensors`` with every other name of a given parameter or buffer (tied weights) mapped
    to the same tensor."""
    names: dict = {}
    for members in (module.named_parameters, module.named_buffers):
        for name, value in members(remove_duplicate=False):
            names.setdefault(id(value), []).append(name)
    out = dict(tensors)
    for group in names.values():
        given = [n for n in group if n in tensors]
        if len(given) > 1 and any(tensors[n] is not tensors[given[0]] for n in given):
            raise ValueError(
                f"functional_call got multiple values for keys {given}, which are tied. "
                "Consider using tie_weights=False"
            )
        for n in group if given else ():
            out.setdefault(n, tensors[given[0]])
    return out


@contextlib.contextmanager
def _reparametrized(module, tensors: dict, tie_weights: bool, strict: bool):
    if tie_weights:
        tensors = _tied(module, tensors)
    if strict:
        known = [n for n, _ in module.named_parameters(remove_duplicate=False)]
        known += [n for n, _ in module.named_buffers(remove_duplicate=False)]
        unexpected = sorted(set(tensors) - set(known))
        missing = sorted(set(known) - set(tensors))
        if unexpected or missing:
            lines = [f"Error(s) in reparametrizing for {module._get_name()}:"]
            for what, keys in (("Unexpected", unexpected), ("Missing", missing)):
                if keys:
                    lines.append(f"\t{what} key(s): {', '.join(repr(k) for k in keys)}.")
            raise RuntimeError("\n".join(lines))
    saved = []
    try:
        for name, tensor in tensors.items():
            owner, store, leaf = _slot(module, name)
            if store is None:
                saved.append((owner, None, leaf, owner.__dict__.get(leaf, _ABSENT)))
                object.__setattr__(owner, leaf, tensor)
            else:
                saved.append((owner, store, leaf, store[leaf]))
                store[leaf] = tensor
        _capture.changed()
        yield
    finally:
        for owner, store, leaf, old in reversed(saved):
            if store is not None:
                store[leaf] = old
            elif old is _ABSENT:
                object.__delattr__(owner, leaf)
            else:
                object.__setattr__(owner, leaf, old)
        _capture.changed()


def _functional_call(
    module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True, strict=False
):
    if isinstance(parameters_and_buffers, (list, tuple)):
        merged: dict = {}
        for d in parameters_and_buffers:
            repeated = sorted(set(merged) & set(d))
            if repeated:
                raise ValueError(
                    f"{repeated} appeared in multiple dictionaries; behavior of functional call "
                    "is ambiguous"
                )
            merged.update(d)
        parameters_and_buffers = merged
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _reparametrized(module, parameters_and_buffers, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def functional_call(
    module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True, strict=False
):
    """``module(*args, **kwargs)`` with the parameters and buffers named in
    ``parameters_and_buffers`` (dotted names, as ``named_parameters``) in place of its own,
    which are restored afterwards."""
    warnings.warn(
        "`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and will be "
        "removed in a future version of PyTorch. Please use `torch.func.functional_call` "
        "instead which is a drop-in replacement.",
        FutureWarning,
        stacklevel=2,
    )
    return _functional_call(
        module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict
    )
