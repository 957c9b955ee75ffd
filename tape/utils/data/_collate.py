"""Batch assembly (``torch.utils.data._utils.collate``): samples -> one batch of tensors."""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from tape import creation
from tape.ops import shape
from tape.tensor import Tensor

_STR_OR_OBJECT = re.compile(r"[SaUO]")  # numpy dtype codes default_collate refuses
_ERROR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)
CollateMap = dict[type | tuple[type, ...], Callable]


def _collate_tensors(batch: list[Tensor], *, collate_fn_map: CollateMap | None = None) -> Tensor:
    first = list(batch[0].shape)
    for i, t in enumerate(batch[1:], 1):
        if list(t.shape) != first:  # tape.stack would not say which entry differs
            raise RuntimeError(
                "stack expects each tensor to be equal size, but got "
                f"{first} at entry 0 and {list(t.shape)} at entry {i}"
            )
    return shape.stack(batch, 0)


def _collate_arrays(batch: list[np.ndarray], *, collate_fn_map: CollateMap | None = None):
    if _STR_OR_OBJECT.search(batch[0].dtype.str):
        raise TypeError(_ERROR.format(batch[0].dtype))
    return collate([creation.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_numpy_scalars(batch: list, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    return creation.as_tensor(np.asarray(batch))  # numpy's own dtype, as torch keeps it


def _collate_floats(batch: list[float], *, collate_fn_map: CollateMap | None = None) -> Tensor:
    return creation.tensor(batch, dtype=np.float64)


def _collate_ints(batch: list[int], *, collate_fn_map: CollateMap | None = None) -> Tensor:
    return creation.tensor(batch)


def _collate_strings(batch: list, *, collate_fn_map: CollateMap | None = None) -> list:
    return batch


# Tried by exact type, then by isinstance in this order (numpy scalars before float/int).
default_collate_fn_map: CollateMap = {
    Tensor: _collate_tensors,
    np.ndarray: _collate_arrays,
    (np.bool_, np.number, np.object_): _collate_numpy_scalars,
    float: _collate_floats,
    int: _collate_ints,
    str: _collate_strings,
    bytes: _collate_strings,
}


def _rebuild(elem: Any, values: list, keys: list | None = None) -> Any:
    """A container like ``elem`` holding ``values`` (under ``keys`` for a mapping)."""
    try:
        if keys is not None:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(zip(keys, values, strict=True))
                return clone
            return type(elem)(dict(zip(keys, values, strict=True)))
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:  # the type cannot be copied or built from its items
        return dict(zip(keys, values, strict=True)) if keys is not None else values


def collate(batch: list, *, collate_fn_map: CollateMap | None = None) -> Any:
    """Collate ``batch`` by its first element's type, recursing into containers."""
    elem = batch[0]
    if collate_fn_map is not None:
        if type(elem) in collate_fn_map:
            return collate_fn_map[type(elem)](batch, collate_fn_map=collate_fn_map)
        for kind, fn in collate_fn_map.items():
            if isinstance(elem, kind):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        keys = list(elem)
        values = [collate([d[k] for d in batch], collate_fn_map=collate_fn_map) for k in keys]
        return _rebuild(elem, values, keys)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        columns = zip(*batch, strict=False)
        return type(elem)(*(collate(s, collate_fn_map=collate_fn_map) for s in columns))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        values = [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch, strict=True)]
        return values if isinstance(elem, tuple) else _rebuild(elem, values)
    raise TypeError(_ERROR.format(type(elem)))


def default_collate(batch: list) -> Any:
    """Stack tensors/arrays, turn numbers into tensors, keep strings, recurse into containers.

    Python floats become float64 and ints int64, like torch; tuples come back as lists.
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data: Any) -> Any:
    """One sample (no batching): numpy arrays and scalars become tensors, containers recurse."""
    if isinstance(data, Tensor):
        return data
    if type(data).__module__ == "numpy" and not isinstance(data, np.str_):
        if isinstance(data, np.ndarray) and _STR_OR_OBJECT.search(data.dtype.str):
            return data
        return creation.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        keys = list(data)
        return _rebuild(data, [default_convert(data[k]) for k in keys], keys)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, str | bytes):
        return _rebuild(data, [default_convert(d) for d in data])
    return data
