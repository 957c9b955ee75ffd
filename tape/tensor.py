"""The ``Tensor`` facade: a JAX (or host numpy) array plus the autograd bookkeeping torch has.

Math methods are not written here: they are the registry's functions (``tape.ops``), bound as
methods at import time, so each op is defined once.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np

from tape import _device, _dispatch, _dtype, _layout, _lazy, _tensor_str
from tape.autograd import engine, grad_mode, graph


class Storage:
    """The array behind one or more tensors that alias it (``detach()``, ``.data``).

    In-place ops replace ``array`` and bump ``version``, which autograd checks. The array may be
    pending: output ``index`` of a ``Thunk`` not run yet (``tape._lazy``), which reading
    ``array`` computes. ``meta`` has the shape and dtype either way.

    >>> Storage(jnp.ones(3)).meta.shape
    (3,)
    """

    # ``_views`` (left unset until a view of this storage is made): the registry of live views
    # that a write to this storage refreshes (``tape._views``).
    __slots__ = ("_array", "meta", "thunk", "index", "version", "_views", "__weakref__")

    def __init__(self, array, thunk: _lazy.Thunk | None = None, index: int = 0) -> None:
        """``Storage(array)``, or ``Storage(aval, thunk, index)`` for a pending value."""
        self._array = None if thunk is not None else array
        self.meta = array
        self.thunk = thunk
        self.index = index
        self.version = 0

    @property
    def array(self):
        array = self._array
        if array is None:
            thunk = self.thunk
            if thunk.values is None:
                _lazy.materialize(thunk)
            array = self._array = thunk.values[self.index]
            self.thunk = None
        return array

    @array.setter
    def array(self, value) -> None:
        self._array = self.meta = value
        self.thunk = None

    def pending(self):
        """``(thunk, index)`` while the value is not computed, else None."""
        thunk = self.thunk
        if thunk is not None and thunk.values is None:
            return thunk, self.index
        return None

    def set_pending(self, thunk: _lazy.Thunk, index: int, meta) -> None:
        """Hold output ``index`` of ``thunk`` (an in-place write that stays uncomputed)."""
        self._array = None
        self.meta = meta
        self.thunk = thunk
        self.index = index


class _AliasStorage(Storage):
    """``base``'s array under a version counter of its own: what ``.data`` hands out, so that
    in-place changes made through it are not seen by autograd (as in torch)."""

    __slots__ = ("base",)

    def __init__(self, base: Storage) -> None:
        self.base = base
        self.version = 0

    @property
    def array(self):
        return self.base.array

    @array.setter
    def array(self, value) -> None:
        graph.note_unseen_write()
        self.base.array = value

    @property
    def meta(self):
        return self.base.meta

    @property
    def thunk(self):
        return self.base.thunk

    @property
    def index(self) -> int:
        return self.base.index

    def pending(self):
        return self.base.pending()

    def set_pending(self, thunk, index: int, meta) -> None:
        graph.note_unseen_write()
        self.base.set_pending(thunk, index, meta)

    @property
    def _views(self):
        return getattr(self.base, "_views", None)

    @_views.setter
    def _views(self, reg) -> None:
        self.base._views = reg


class Size(tuple):
    """torch.Size: a tuple of ints that prints like torch's."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):
        out = tuple.__getitem__(self, i)
        return Size(out) if isinstance(i, slice) else out


class Tensor:
    """A multi-dimensional array that records the operations applied to it.

    >>> a = tape.tensor([2., 3.], requires_grad=True)
    >>> (a * a).sum().backward()
    >>> a.grad
    tensor([4., 6.])
    """

    # ``_grad`` stays a slot: tape.compile's capture watches it through the slot's descriptor.
    __slots__ = (
        "_storage",
        "_requires_grad",
        "_grad_fn",
        "_output_nr",
        "_grad",
        "__dict__",
        "__weakref__",
    )

    # Attributes most tensors never set: class defaults, so that making a tensor (every op's
    # output) stores five fields, not nine. A tensor that sets one keeps it in its own dict.
    _accumulator = None  # weak reference to the leaf's AccumulateGrad node
    _retains_grad = False
    _hooks = None
    _post_accumulate_hooks = None  # a leaf's hooks run after its .grad is accumulated
    _is_param = False
    _view = None  # a view's ``tape._views.ViewInfo``
    _inference = False  # made in inference mode (grad_mode.mark_inference)

    # --- construction -------------------------------------------------------------------------
    def __init__(self, *args) -> None:
        from tape import creation

        if len(args) == 1 and not isinstance(args[0], int):
            src = creation.tensor(args[0], dtype=_dtype.get_default_dtype())
        else:
            src = creation.empty(*args)
        self._init(src._storage, False, None, 0)

    def _init(self, storage: Storage, requires_grad: bool, grad_fn, output_nr: int) -> None:
        self._storage = storage
        self._requires_grad = requires_grad
        self._grad_fn = grad_fn
        self._output_nr = output_nr
        self._grad = None

    @classmethod
    def _wrap(cls, array, grad_fn=None, output_nr: int = 0, requires_grad: bool = False) -> Tensor:
        return cls._of(Storage(array), grad_fn, output_nr, requires_grad)

    @staticmethod
    def _plain(array) -> Tensor:
        """``_wrap(array)``: a tensor with no autograd history (a gradient, a constant)."""
        t = object.__new__(Tensor)
        t._init(Storage(array), False, None, 0)
        return t

    @staticmethod
    def _of(storage: Storage, grad_fn=None, output_nr: int = 0, requires_grad: bool = False):
        """A tensor on ``storage``; only floating-point results keep ``grad_fn``."""
        t = object.__new__(Tensor)
        t._init(storage, requires_grad and grad_fn is not None, grad_fn, output_nr)
        if t._requires_grad and not _dtype._FROM_NP[storage.meta.dtype].is_floating_point:
            t._requires_grad = False
            t._grad_fn = None
            t._output_nr = 0
        if grad_mode.state.inference:
            grad_mode.mark_inference(t)
        return t

    # --- metadata -----------------------------------------------------------------------------
    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype._FROM_NP[self._storage.meta.dtype]

    @property
    def shape(self) -> Size:
        return Size(self._storage.meta.shape)

    def size(self, dim: int | None = None):
        shape = self._storage.meta.shape
        if dim is None:
            return Size(shape)
        return shape[_canonical_dim(dim, len(shape))]

    def dim(self) -> int:
        return self._storage.meta.ndim

    ndim = property(dim)

    def ndimension(self) -> int:
        return self.dim()

    def numel(self) -> int:
        return int(self._storage.meta.size)

    nelement = numel

    def element_size(self) -> int:
        return self._storage.meta.dtype.itemsize

    def stride(self, dim: int | None = None):
        from tape import _views

        shape, strides, _ = _views.geometry(self)
        return strides if dim is None else strides[_canonical_dim(dim, len(shape))]

    def storage_offset(self) -> int:
        info = self._view
        return 0 if info is None else info.offset

    def is_contiguous(self, memory_format=None) -> bool:
        info = self._view
        if info is None:
            return True
        from tape import _views

        return _views.is_contiguous(tuple(self._storage.meta.shape), info.strides)

    @property
    def _base(self):
        info = self._view
        if info is None or info.creation == "detached":
            return None
        return info.base

    def _is_view(self) -> bool:
        return self._base is not None

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return False

    @property
    def device(self) -> _device.device:
        return _device.device_of(self._storage.array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    # Dense, strided tensors only: what library code asks before taking torch's dense path.
    is_sparse = is_sparse_csr = is_quantized = is_meta = is_nested = is_mkldnn = False

    @property
    def layout(self) -> _layout.layout:
        return _layout.strided

    def get_device(self) -> int:
        """The CUDA device's index, or -1 for the CPU, as torch numbers them."""
        d = self.device
        return -1 if d.type == "cpu" else d.index

    @property
    def itemsize(self) -> int:
        return self.element_size()

    @property
    def nbytes(self) -> int:
        return self.numel() * self.element_size()

    def is_signed(self) -> bool:
        return self.dtype.is_signed

    def data_ptr(self) -> int:
        """A number that identifies this tensor's memory, as torch's address does: equal for
        tensors that share it (``detach()``, ``.data``, a view at offset 0), a view's moved by
        its offset in bytes, 0 without elements. XLA's arrays are immutable and move when
        written, so it names the storage (stable across in-place ops, as torch's address is)
        and is nothing to read through."""
        if self.numel() == 0:
            return 0
        info = self._view
        storage = self._storage if info is None else info.base._storage
        while isinstance(storage, _AliasStorage):
            storage = storage.base
        offset = 0 if info is None else info.offset
        return id(storage) + offset * self.element_size()

    def is_pinned(self, device=None) -> bool:
        """False: a host tensor here is ordinary host memory (JAX stages transfers itself)."""
        return False

    def is_shared(self) -> bool:
        """False: tensors are not in shared memory (``share_memory_`` is not supported)."""
        return False

    def is_nonzero(self) -> bool:
        return bool(self)

    # Real tensors only: conjugation is the identity, so these return the tensor itself.
    def conj(self) -> Tensor:
        return self

    resolve_conj = resolve_neg = conj

    def is_conj(self) -> bool:
        return False

    def is_neg(self) -> bool:
        return False

    def _matrices(self, what: str, batches: bool) -> None:
        """torch's error for a matrix transpose of fewer (or, for ``.H``, more) than 2 dims."""
        n = self.dim()
        if batches and n < 2:
            raise RuntimeError(
                f"{what} is only supported on matrices or batches of matrices. Got {n}-D tensor."
            )
        if not batches and n != 2:
            hint = " For batches of matrices, consider using tensor.mH" if n > 2 else ""
            raise RuntimeError(
                f"{what} is only supported on matrices (2-D tensors). Got {n}-D tensor.{hint}"
            )

    @property
    def mH(self) -> Tensor:
        self._matrices("tensor.mH", batches=True)
        return self.transpose(-2, -1)

    @property
    def H(self) -> Tensor:
        self._matrices("tensor.H", batches=False)
        return self.transpose(-2, -1)

    def adjoint(self) -> Tensor:
        self._matrices("tensor.adjoint()", batches=True)
        return self.transpose(-2, -1)

    @property
    def data(self) -> Tensor:
        """The same array, detached from the graph (in-place changes show in both), with its
        own version counter: autograd does not see changes made through ``.data``."""
        t = object.__new__(Tensor)
        t._init(_AliasStorage(self._storage), False, None, 0)
        if self._inference:
            t._inference = True
        return t

    @data.setter
    def data(self, other: Tensor) -> None:
        from tape import _capture

        _capture.check_tensor_change(self, "assigns .data of")
        _capture.changed()  # compiled steps read this tensor's old storage
        graph.note_unseen_write()
        self._storage = _AliasStorage(other._storage)

    @property
    def _version(self) -> int:
        if self._inference:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._storage.version

    def is_inference(self) -> bool:
        """Whether this tensor was made in ``inference_mode`` (and is not a view of one that
        was not)."""
        return self._inference

    # --- autograd attributes ------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and not self.dtype.is_floating_point:  # torch's setter words it so
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach()."
                )
            return self
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if requires_grad and self._inference and not grad_mode.state.inference:
            raise RuntimeError(
                "Setting requires_grad=True on inference tensor outside InferenceMode is not "
                "allowed."
            )
        if self._requires_grad != bool(requires_grad):
            from tape import _capture

            _capture.check_tensor_change(self, "changes requires_grad of")
            _capture.changed()  # compiled steps baked in which parameters are trained
            self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def grad(self) -> Tensor | None:
        # torch warns only while there is nothing to read (backward(inputs=...) fills it)
        if self._grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed "
                "want the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on "
                "the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure you "
                "access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for "
                "more informations. (Triggered internally at "
                "/pytorch/build/aten/src/ATen/core/TensorBody.h:498.)",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got {value!r}")
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: {tuple(value.shape)} "
                    f"versus {tuple(self.shape)}"
                )
            if value.dtype is not self.dtype:
                raise RuntimeError("assigned grad has data of a different type")
        self._grad = value

    def retain_grad(self) -> None:
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is not None and not self._retains_grad:
            import weakref

            node = self._grad_fn
            graph.note_hook()
            if node._retained is None:
                node._retained = {}
            node._retained[self._output_nr] = weakref.ref(self)
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; it may return a new one."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from tape.autograd.graph import _RemovableHandle

        if self._grad_fn is not None:
            # A non-leaf's hooks live on its grad_fn, keyed by output number, where the engine
            # runs them before the node (and before filling retained grads).
            node = self._grad_fn
            graph.note_hook()
            if node._tensor_pre_hooks is None:
                node._tensor_pre_hooks = {}
            hooks = node._tensor_pre_hooks.setdefault(self._output_nr, [])
            hooks.append(hook)
            return _RemovableHandle(hooks, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(self)`` runs after a backward has accumulated this leaf's ``.grad`` (an
        optimizer step per parameter, say); it must return None.

        >>> w.register_post_accumulate_grad_hook(lambda p: p.grad.clamp_(-1, 1))  # doctest: +SKIP
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        from tape.autograd.graph import _RemovableHandle

        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return _RemovableHandle(self._post_accumulate_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad``."""
        engine.backward((self,), (gradient,), retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        if self._view is not None:
            from tape import _views

            return _views.detached(self)
        t = object.__new__(Tensor)
        t._init(self._storage, False, None, 0)
        if self._inference:
            t._inference = True
        return t

    def detach_(self) -> Tensor:
        self._grad_fn = None
        self._output_nr = 0
        self._requires_grad = False
        return self

    # --- in-place support ---------------------------------------------------------------------
    def _check_inplace(self) -> None:
        if self._inference and not grad_mode.state.inference:
            raise RuntimeError(grad_mode.INFERENCE_INPLACE)
        if self._view is not None:  # first, as torch: a view made under no_grad looks a leaf
            from tape import _views

            _views.check_inplace(self)
        if self._requires_grad and self._grad_fn is None and grad_mode.state.enabled:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )

    def _assign(self, result: Tensor) -> Tensor:
        """Make ``self`` hold ``result`` (an in-place op's out-of-place value) and its history;
        a view writes it through to its base, and the storage's other views see it."""
        if self._view is not None:
            from tape import _views

            return _views.assign(self, result)
        storage = self._storage
        source = result._storage
        old, meta = storage.meta, source.meta
        if meta.shape != old.shape:
            raise RuntimeError(
                f"output with shape {list(old.shape)} doesn't match the broadcast shape "
                f"{list(meta.shape)}"
            )
        ref = source.pending()
        if ref is not None and meta.dtype == old.dtype and storage.pending() is None:
            # Stay uncomputed, so a deferred forward (and the backward fused with it) is not
            # cut into pieces by in-place buffer updates such as BatchNorm's running stats.
            # Not when the old value is pending too: that would chain one step's pending
            # work onto the next's without end.
            storage.set_pending(*ref, meta)
        else:
            new = source.array
            if new.dtype != old.dtype:
                new = _astype(new, old.dtype)
            storage.array = new
        storage.version += 1
        node = result._grad_fn
        if node is not None:
            self._grad_fn = node
            self._output_nr = result._output_nr
            self._requires_grad = True
            if node._saved:
                # An op that saves its output (sigmoid_, exp_) saved the value now in self:
                # a later in-place change to self must fail its backward, as in torch.
                node._saved = tuple(
                    (t, storage, storage.version) if st is source else (t, st, v)
                    for t, st, v in node._saved
                )
        reg = getattr(storage, "_views", None)
        if reg:
            from tape import _views

            _views.refresh(storage, reg)
        return self

    def _snapshot(self) -> Tensor:
        """A tensor holding this one's current value and history, for an in-place op's input."""
        t = object.__new__(Tensor)
        storage = self._storage
        ref = storage.pending()
        copy = Storage(storage.array) if ref is None else Storage(storage.meta, *ref)
        t._init(copy, self._requires_grad, self._grad_fn, self._output_nr)
        t._accumulator = self._accumulator
        if self._grad_fn is None and self._requires_grad:
            return self
        return t

    # --- conversion ---------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return np.asarray(self._storage.array)

    def __array__(self, dtype=None, copy=None):
        arr = np.asarray(self._storage.array)
        return arr if dtype is None else arr.astype(dtype)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to Scalar"
            )
        return np.asarray(self._storage.array).reshape(()).item()

    def tolist(self):
        return np.asarray(self._storage.array).tolist()

    def __len__(self) -> int:
        if self.dim() == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._storage.meta.shape[0]

    def __iter__(self):
        if self.dim() == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
                if self.numel() > 1
                else "Boolean value of Tensor with no values is ambiguous"
            )
        return bool(self.item())

    def __float__(self) -> float:
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        global _warned_float
        if self._requires_grad and not _warned_float:
            _warned_float = True  # torch warns once per process
            warnings.warn(
                "Converting a tensor with requires_grad=True to a scalar may lead to unexpected "
                "behavior.\nConsider using tensor.detach() first.",
                UserWarning,
                stacklevel=2,
            )
        return float(self.item())

    def __int__(self) -> int:
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __format__(self, spec: str) -> str:
        # torch: 0-d tensors format as their Python value; others only with an empty spec.
        if self.dim() == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

    def __repr__(self, *, tensor_contents=None) -> str:
        grad_fn = self._grad_fn
        d = self.dtype
        device = self.device
        return _tensor_str.format_tensor(
            np.asarray(self._storage.array),
            dtype_name=repr(d),
            show_dtype=d not in (_dtype.get_default_dtype(), _dtype.int64, _dtype.bool_),
            device=None if device.type == "cpu" else str(device),
            requires_grad=self._requires_grad and grad_fn is None,
            grad_fn_name=None if grad_fn is None else grad_fn.name(),
        )

    __str__ = __repr__

    # --- dtype and device moves ---------------------------------------------------------------
    @staticmethod
    def _to_args(args, kwargs) -> tuple:
        """(dtype, device) from ``to``'s forms: dtype, device, (device, dtype), or a tensor."""
        dtype, device = kwargs.get("dtype"), kwargs.get("device")
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, _dtype.dtype):
                dtype = a
            elif a is not None:
                device = a
        return dtype, device

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)``."""
        dtype, device = self._to_args(args, kwargs)
        out = self
        if dtype is not None and _dtype.to_dtype(dtype) is not self.dtype:
            out = out._type_as_dtype(_dtype.to_dtype(dtype))
        if device is not None:
            out = _device.move(out, device)
        return out

    def _type_as_dtype(self, d: _dtype.dtype) -> Tensor:
        from tape.ops import elementwise

        return elementwise.to_dtype(self, d)

    def float(self) -> Tensor:
        return self.to(_dtype.float32)

    def double(self) -> Tensor:
        return self.to(_dtype.float64)

    def half(self) -> Tensor:
        return self.to(_dtype.float16)

    def bfloat16(self) -> Tensor:
        return self.to(_dtype.bfloat16)

    def long(self) -> Tensor:
        return self.to(_dtype.int64)

    def int(self) -> Tensor:
        return self.to(_dtype.int32)

    def short(self) -> Tensor:
        return self.to(_dtype.int16)

    def char(self) -> Tensor:
        return self.to(_dtype.int8)

    def byte(self) -> Tensor:
        return self.to(_dtype.uint8)

    def bool(self) -> Tensor:
        return self.to(_dtype.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to("cuda" if device is None else _device.device("cuda", device))


_warned_float = False


def _astype(array, np_dtype):
    return _CASTS(array, np_dtype)


def _cast(array, np_dtype):
    return jax.numpy.asarray(array, np_dtype)


_CASTS = jax.jit(_cast, static_argnums=1)


def _canonical_dim(dim: int, ndim: int) -> int:
    """A dim in ``[-ndim, ndim)`` as a non-negative index, with torch's IndexError otherwise."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


_dispatch._bind_tensor(Tensor, Storage)
