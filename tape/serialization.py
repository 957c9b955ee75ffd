"""``tape.save`` / ``tape.load`` in torch's zip ``.pth`` layout, without torch and without running
code from the file.

The file is a zip holding ``archive/data.pkl`` (a protocol-2 pickle in which each tensor is a
``torch._utils._rebuild_tensor_v2`` call on a persistent storage id
``('storage', torch.FloatStorage, key, 'cpu', numel)``) and ``archive/data/<key>`` (the raw
little-endian bytes), so ``torch.load(path, weights_only=True)`` reads tape's files and
``tape.load`` reads ``torch.save``'s.

``load`` uses a restricted unpickler: only a whitelist of globals resolves (to tape-side
functions; torch is never imported), BUILD only applies to OrderedDict, and every storage view is
bounds-checked. What can be saved is limited to what loads back under that whitelist: tensors,
dict / OrderedDict / Counter / list / tuple, and int / float / bool / str / bytes / None.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import tempfile
import zipfile
from typing import Any

import numpy as np

from tape import _dtype
from tape.tensor import Size, Tensor

_STORAGE_NAMES = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "float16": "HalfStorage",
    "bfloat16": "BFloat16Storage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "int16": "ShortStorage",
    "int8": "CharStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
}
_ALIGN = 64
_PREFIX = "archive"


# --- writing ----------------------------------------------------------------------------------
class _Global:
    """A reference written as a pickle GLOBAL (``torch._utils _rebuild_tensor_v2``) without
    importing the module it names."""

    _cache: dict[tuple[str, str], _Global] = {}

    def __new__(cls, module: str, name: str):
        key = (module, name)
        if key not in cls._cache:
            obj = super().__new__(cls)
            obj.module, obj.name = module, name
            cls._cache[key] = obj
        return cls._cache[key]

    def __call__(self, *args):  # pickle's save_reduce requires a callable
        raise TypeError(f"{self.module}.{self.name} is a reference for pickling only")


class _StorageRef:
    __slots__ = ("key", "dtype", "numel")

    def __init__(self, key: str, dtype: _dtype.dtype, numel: int) -> None:
        self.key, self.dtype, self.numel = key, dtype, numel


_SAVEABLE = (dict, list, tuple, str, bytes, int, float, bool, type(None))


class _Pickler(pickle._Pickler):  # the pure-Python pickler lets us write raw GLOBAL opcodes
    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file) -> None:
        super().__init__(file, protocol=2)
        self.storages: dict[int, tuple[str, Any]] = {}  # id(storage) -> (key, array)

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Tensor):  # Tensor and its subclasses (nn.Parameter)
            x = self.memo.get(id(obj))
            if x is not None:
                self.write(self.get(x[0]))
                return None
            return self._save_tensor(obj)
        allowed_class = obj is collections.OrderedDict or obj is collections.Counter
        if not allowed_class and not isinstance(
            obj, (*_SAVEABLE, _Global, _StorageRef, _dtype.dtype)
        ):
            raise TypeError(
                f"tape.save cannot save an object of type {type(obj).__module__}."
                f"{type(obj).__qualname__}: it saves tensors, dict / OrderedDict / list / tuple "
                "containers, and int / float / bool / str / bytes / None (what tape.load can "
                "read back without running code). Save a state_dict() rather than the object."
            )
        return super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            storage = _Global("torch", _STORAGE_NAMES[obj.dtype.name])
            return ("storage", storage, obj.key, "cpu", obj.numel)
        return None

    def _save_global_ref(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_Global] = _save_global_ref

    def _save_dtype(self, obj: _dtype.dtype) -> None:
        self.save(_Global("torch", obj.name))

    dispatch[_dtype.dtype] = _save_dtype

    def _save_tensor(self, obj: Tensor) -> None:
        if getattr(obj, "_is_param", False):
            inner = obj.detach()
            self.save_reduce(
                _Global("torch._utils", "_rebuild_parameter"),
                (inner, obj.requires_grad, collections.OrderedDict()),
                obj=obj,
            )
            return
        storage = obj._storage
        while hasattr(storage, "base"):  # .data aliases share the underlying array
            storage = storage.base
        entry = self.storages.get(id(storage))
        if entry is None:
            key = str(len(self.storages))
            entry = (key, storage, np.asarray(storage.array, order="C"))
            self.storages[id(storage)] = entry
        key, _, arr = entry
        ref = _StorageRef(key, obj.dtype, int(arr.size))
        shape = tuple(int(s) for s in arr.shape)
        stride = tuple(int(s) for s in Tensor._wrap(arr).stride()) if arr.ndim else ()
        self.save_reduce(
            _Global("torch._utils", "_rebuild_tensor_v2"),
            (ref, 0, shape, stride, bool(obj.requires_grad), collections.OrderedDict()),
            obj=obj,
        )


def _aligned_info(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """A ZipInfo whose data starts on a 64-byte boundary (torch pads with an extra field too)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    start = zf.fp.tell() + 30 + len(name.encode())
    pad = (-(start + 4)) % _ALIGN
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    return info


def _write_zip(obj, f) -> None:
    buf = io.BytesIO()
    pickler = _Pickler(buf)
    pickler.dump(obj)
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:

        def put(name: str, data: bytes) -> None:
            zf.writestr(_aligned_info(zf, f"{_PREFIX}/{name}"), data)

        put("data.pkl", buf.getvalue())
        put(".format_version", b"1")
        put(".storage_alignment", str(_ALIGN).encode())
        put("byteorder", b"little")
        for key, _, arr in pickler.storages.values():
            data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
            put(f"data/{key}", data)
        put("version", b"3\n")


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True):
    """Save ``obj`` (tensors in nested dict / list / tuple containers) to ``f`` in torch's format.

    A path is written atomically: to a temporary file in the same directory, then ``os.replace``d
    over the target, so a failed save leaves any previous file intact.
    """
    if not isinstance(f, (str, os.PathLike)):
        _write_zip(obj, f)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pth", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            _write_zip(obj, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# --- reading ----------------------------------------------------------------------------------
class _StorageType:
    """What ``torch.FloatStorage`` and friends resolve to: just the element dtype."""

    def __init__(self, d: _dtype.dtype) -> None:
        self.dtype = d


_STORAGE_TYPES = {name: _StorageType(_dtype._NAMES[dt]) for dt, name in _STORAGE_NAMES.items()}


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("_rebuild_tensor_v2 expects a storage")
    size, stride = tuple(size), tuple(stride)
    ints = (storage_offset, *size, *stride)
    if len(size) != len(stride) or not all(isinstance(v, int) and v >= 0 for v in ints):
        raise pickle.UnpicklingError(f"bad tensor geometry: size {size}, stride {stride}")
    numel = int(np.prod(size, dtype=np.int64)) if size else 1
    if numel:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= storage.size:
            raise pickle.UnpicklingError(
                f"tensor of size {size} and stride {stride} at offset {storage_offset} reads "
                f"past its storage of {storage.size} elements"
            )
        view = np.lib.stride_tricks.as_strided(
            storage[storage_offset:],
            shape=size,
            strides=tuple(s * storage.itemsize for s in stride),
            writeable=False,
        )
        arr = np.array(view)
    else:
        arr = np.zeros(size, storage.dtype)
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks=None, state=None):
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError("_rebuild_parameter expects a tensor")
    try:
        from tape.nn import Parameter
    except ImportError:
        return data.requires_grad_(bool(requires_grad))
    return Parameter(data, requires_grad=bool(requires_grad))


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _rebuild_parameter(data, requires_grad)


def _size(*args):
    return Size(*args)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch", "Size"): _size,
    **{("torch", name): st for name, st in _STORAGE_TYPES.items()},
    **{("torch", d.name): d for d in _dtype.ALL},
}


class _Unpickler(pickle._Unpickler):
    """Resolves only whitelisted globals; never imports a module named by the file."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file, zf: zipfile.ZipFile, prefix: str, byteorder: str) -> None:
        super().__init__(file)
        self.zf, self.prefix, self.byteorder = zf, prefix, byteorder
        self.loaded: dict[str, np.ndarray] = {}

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise pickle.UnpicklingError(
                f"Weights only load failed: Unsupported global: GLOBAL {module}.{name}. tape.load "
                "only resolves tensors, OrderedDict and the torch storage/dtype names it knows, "
                "so it never runs code from a file."
            ) from None

    def persistent_load(self, pid):
        if (
            not isinstance(pid, tuple)
            or len(pid) != 5
            or pid[0] != "storage"
            or not isinstance(pid[1], _StorageType)
            or not isinstance(pid[2], str)
        ):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, stype, key, _location, numel = pid
        if key not in self.loaded:
            name = f"{self.prefix}data/{key}"
            try:
                data = self.zf.read(name)
            except KeyError:
                raise pickle.UnpicklingError(f"storage record {name!r} is missing") from None
            np_dtype = stype.dtype.np.newbyteorder("<" if self.byteorder == "little" else ">")
            if len(data) % np_dtype.itemsize:
                raise pickle.UnpicklingError(f"storage record {name!r} has a partial element")
            arr = np.frombuffer(data, np_dtype).astype(stype.dtype.np)
            if isinstance(numel, int) and arr.size < numel:
                raise pickle.UnpicklingError(
                    f"storage record {name!r} holds {arr.size} elements, expected {numel}"
                )
            self.loaded[key] = arr
        return self.loaded[key]

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is not collections.OrderedDict or not isinstance(state, dict):
            raise pickle.UnpicklingError(
                f"Weights only load failed: can only BUILD an OrderedDict, got {type(inst)}"
            )
        for k, v in state.items():
            if not isinstance(k, str):
                raise pickle.UnpicklingError("bad BUILD state")
            setattr(inst, k, v)

    dispatch[pickle.BUILD[0]] = _load_build


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **kwargs):
    """Load what ``save`` (or ``torch.save``) wrote. Tensors come back on the CPU.

    Raises ``pickle.UnpicklingError`` for a file that names anything outside the whitelist and
    ``RuntimeError`` for a file that is not a readable checkpoint (corrupt, truncated, legacy).
    """
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<buffer>")
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise RuntimeError(
            f"{name} is not a checkpoint tape.load can read: it is not a zip archive (torch's "
            f"format since 1.6) or it is truncated or corrupt ({e})"
        ) from None
    with zf:
        try:
            pkl = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
            if len(pkl) != 1:
                raise RuntimeError(f"{name}: expected exactly one data.pkl record, found {pkl}")
            prefix = pkl[0][: -len("data.pkl")]
            try:
                byteorder = zf.read(prefix + "byteorder").decode()
            except KeyError:
                byteorder = "little"
            if byteorder not in ("little", "big"):
                raise RuntimeError(f"{name}: unknown byteorder {byteorder!r}")
            data = zf.read(pkl[0])
            return _Unpickler(io.BytesIO(data), zf, prefix, byteorder).load()
        except (pickle.UnpicklingError, RuntimeError):
            raise
        except Exception as e:  # a malformed archive or pickle: report it as such
            raise RuntimeError(f"{name} is truncated or corrupt: {type(e).__name__}: {e}") from None


__all__ = ["load", "save"]
