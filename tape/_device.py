"""torch-style devices ('cpu', 'cuda:0') mapped onto JAX devices."""

from __future__ import annotations

import contextlib
import functools

import jax
import numpy as np

# torch's list of device types, for its parse error; tape itself maps only cpu and cuda.
_TORCH_TYPES = (
    "cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, xla, lazy, vulkan, "
    "mps, meta, hpu, mtia, privateuseone"
)


class device:
    """``tape.device('cuda', 0)`` or ``tape.device('cuda:0')``; prints like torch's."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int):
            type, index = "cuda", type
        elif ":" in type:
            type, _, idx = type.partition(":")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of {_TORCH_TYPES} device type at start of device string: {type}"
            )
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


@functools.cache
def _gpus() -> tuple:
    try:
        return tuple(jax.devices("gpu"))
    except RuntimeError:
        return ()


def jax_device(d) -> jax.Device:
    """The JAX device for a torch-style device spec, with torch's error when there is no GPU."""
    d = device(d)
    if d.type == "cpu":
        return jax.devices("cpu")[0]
    gpus = _gpus()
    if not gpus:
        raise AssertionError("Torch not compiled with CUDA enabled")
    index = d.index or 0
    if index >= len(gpus):
        raise RuntimeError(
            f"CUDA error: invalid device ordinal (asked for cuda:{index}, "
            f"but only {len(gpus)} GPU(s) are visible)"
        )
    return gpus[index]


# While tape.compile traces a function its values are tracers, which have no device: they live
# where the traced call's inputs do (set by tape._compile around the trace).
trace_device: device | None = None


def names_cpu(spec) -> bool:
    """Whether a device spec means the CPU; ``x.device`` and "cpu", the usual ones, are known
    without parsing (a creation op's ``device=`` costs nothing then)."""
    return spec is CPU or spec == "cpu" or device(spec).type == "cpu"


def device_of(array) -> device:
    if isinstance(array, np.ndarray):
        return CPU
    if isinstance(array, jax.core.Tracer):
        return trace_device or CPU
    (dev,) = array.devices()
    if dev.platform == "cpu":
        return CPU
    return device("cuda", _gpus().index(dev))


def on_cpu(array) -> bool:
    """Whether ``array`` lives on the CPU (as every array does where there is no GPU)."""
    return not _gpus() or device_of(array).type == "cpu"


def host_values(tensor):
    """A tensor's values as a host array, or None where they cannot be read: one traced by
    tape.compile, or one on a GPU (a device-to-host copy, and torch's CUDA kernels do not check
    either). For checks of values that torch makes on the CPU (index bounds, zero divisors),
    worth computing a pending value and splitting its deferred program for."""
    array = tensor._storage.array
    if isinstance(array, np.ndarray):
        return array
    if isinstance(array, jax.core.Tracer) or device_of(array) != CPU:
        return None
    return np.asarray(array)


def storage_device(storage) -> device:
    """Where a value lives, computed or not: a pending value is computed on the device of the
    arrays its thunks take (numpy inputs and uncommitted arrays go to the default, the CPU)."""
    if not _gpus():  # the CPU is the only device: no walk through pending graphs
        return CPU
    if storage.pending() is None:
        return device_of(storage.array)
    stack, seen = [storage.pending()[0]], set()
    while stack:
        thunk = stack.pop()
        if thunk.values is not None:  # computed since
            arrays = thunk.values
        else:
            arrays = []
            for x in thunk.inputs:
                if type(x) is not tuple:
                    arrays.append(x)
                elif id(x[0]) not in seen:
                    seen.add(id(x[0]))
                    stack.append(x[0])
        for a in arrays:
            if getattr(a, "committed", False):
                return device_of(a)
    return CPU


def place_like(array, storage):
    """``array`` on the device where ``storage``'s value lives (as it is on a CPU-only machine)."""
    if not _gpus():
        return array
    where = storage_device(storage)
    return array if where == CPU else jax.device_put(array, jax_device(where))


def move(tensor, d):
    """``tensor`` on device ``d``: an op on the tape (ToCopyBackward0), so gradients flow back.

    The copy itself is an eager ``jax.device_put``: the op's forward runs inside ``jax.jit``,
    where ``device_put`` to another device is ignored (the output stays on the input's device),
    so the op alone would leave a ``.cuda()`` tensor on the CPU. For the same reason a hook on
    the node moves the gradient back to where ``tensor`` lives."""
    target = jax_device(d)
    here, there = device_of(tensor._storage.array), device(d)
    if here.type == there.type and (here.index or 0) == (there.index or 0):
        return tensor
    from tape.autograd import grad_mode

    if not (tensor._requires_grad and grad_mode.state.enabled):
        from tape import creation

        return creation._new(jax.device_put(tensor._storage.array, target))
    from tape.ops import elementwise

    out = elementwise.to_device(tensor, target)
    out._storage.array = jax.device_put(out._storage.array, target)
    out.grad_fn.register_hook(
        lambda grad_inputs, _: tuple(None if g is None else g.to(here) for g in grad_inputs)
    )
    return out


class cuda:
    """``tape.cuda.is_available()`` and friends."""

    @staticmethod
    def is_available() -> bool:
        return bool(_gpus())

    @staticmethod
    def device_count() -> int:
        return len(_gpus())

    @staticmethod
    def manual_seed(seed: int) -> None:
        pass

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        pass

    @staticmethod
    def synchronize(device=None) -> None:
        """Wait for the GPU's queued work. A tiny program on that GPU's (in-order) compute
        stream, waited for; tape's default JAX device is the CPU, so it must be named."""
        target = jax_device("cuda" if device is None else device) if _gpus() else None
        (jax.device_put(0.0, target) + 0).block_until_ready()


def finish_dispatched_work() -> None:
    """Wait for every program XLA is still running. tape runs it at exit: a process that ends
    while XLA's CPU threads still run its last step (a script ending in ``opt.step()``) can
    crash in teardown, as a warm ResNet18 step did in 1 of 5 runs (SIGSEGV, jaxlib 0.10.2)."""
    for array in jax.live_arrays():
        with contextlib.suppress(Exception):  # a deleted array has nothing left to wait for
            array.block_until_ready()
