"""Padding and packing variable-length sequences (``torch.nn.utils.rnn``).

A ``PackedSequence`` holds only the valid steps of a batch, time-major: the first step of every
sequence, then the second step of those that have one, and so on; ``batch_sizes[t]`` counts
the sequences that have a step ``t``. The sequences are sorted longest first, and
``sorted_indices`` says which input each sorted column came from. Packing and padding are each
one op, a gather (or scatter) at indices that depend only on ``batch_sizes``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from tape import _dtype, creation
from tape._dispatch import Op
from tape.ops.registry import NONE, dispatch, register
from tape.tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


# ================================================================================================
# The two layouts: pure JAX
# ================================================================================================
def _positions(batch_sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The (step, column) in the padded layout of each row of the packed layout."""
    steps = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    columns = np.concatenate([np.arange(n) for n in batch_sizes])
    return steps, columns


def _pack_fwd(padded, batch_sizes, batch_first):
    if batch_first:
        padded = jnp.swapaxes(padded, 0, 1)
    return padded[_positions(batch_sizes)]


def _pad_fwd(data, batch_sizes, length, fill):
    steps, columns = _positions(batch_sizes)
    out = jnp.full((length, batch_sizes[0], *data.shape[1:]), fill, data.dtype)
    # torch reads only the rows that batch_sizes counts, should data hold more
    return out.at[steps, columns].set(data[: len(steps)])


# torch's pad_packed_sequence copies each block of steps into a filled tensor (CopySlices).
_PACK = register("pack_padded_sequence", _pack_fwd, "PackPaddedSequenceBackward0", NONE, "none")
_PAD = register("pad_packed_sequence", _pad_fwd, "CopySlices", NONE, "none")


def _to_packed(
    padded: Tensor, batch_sizes: tuple[int, ...], batch_first: bool = False, op: Op = _PACK
) -> Tensor:
    """The packed ``(sum(batch_sizes), *)`` rows of a padded ``(T, B, *)`` tensor; ``op``
    names the recorded node."""
    return dispatch(op, (padded,), (("batch_sizes", batch_sizes), ("batch_first", batch_first)))


def _to_padded(
    data: Tensor, batch_sizes: tuple[int, ...], length: int | None = None, fill: float = 0.0
) -> Tensor:
    """The ``(length, batch_sizes[0], *)`` padded form of packed ``data``, ``fill`` elsewhere."""
    length = len(batch_sizes) if length is None else length
    static = (("batch_sizes", batch_sizes), ("length", length), ("fill", fill))
    return dispatch(_PAD, (data,), static)


def _lengths(batch_sizes: tuple[int, ...]) -> list[int]:
    """Each sorted column's length: the number of steps whose batch reaches it."""
    return [sum(1 for n in batch_sizes if n > b) for b in range(batch_sizes[0])]


# ================================================================================================
# PackedSequence
# ================================================================================================
class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedFields):
    """The packed steps of a batch of sequences (``data``), the number of sequences at each
    step (``batch_sizes``, a CPU int64 tensor) and the sorting permutation and its inverse
    (None when the input was sorted already). Made by ``pack_padded_sequence`` and
    ``pack_sequence``; every RNN module takes and returns one."""

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # the form PackedSequence((data, batch_sizes), sorted_indices)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never "
                "be created manually. They should be instantiated by functions like "
                "pack_sequence and pack_padded_sequences in nn.utils.rnn. "
                "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence"
            )
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _with_data(self, data: Tensor) -> PackedSequence:
        """``self`` with ``data`` moved or cast; the indices follow it to its device, while
        ``batch_sizes`` stays on the CPU, as torch keeps it."""
        if data is self.data:
            return self

        def move(t):
            return None if t is None else t.to(data.device)

        return type(self)(
            data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices)
        )

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data.to(*args, **kwargs)``; ``self`` when that changes nothing."""
        return self._with_data(self.data.to(*args, **kwargs))

    def cuda(self, device=None) -> PackedSequence:
        return self._with_data(self.data.cuda(device))

    def cpu(self) -> PackedSequence:
        return self._with_data(self.data.cpu())

    def double(self) -> PackedSequence:
        return self.to(dtype=_dtype.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=_dtype.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=_dtype.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=_dtype.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=_dtype.int32)

    def short(self) -> PackedSequence:
        return self.to(dtype=_dtype.int16)

    def char(self) -> PackedSequence:
        return self.to(dtype=_dtype.int8)

    def byte(self) -> PackedSequence:
        return self.to(dtype=_dtype.uint8)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a 1-D permutation (None for None), computed as torch does (a scatter)."""
    if permutation is None:
        return None
    steps = creation.arange(permutation.numel(), device=permutation.device)
    return creation.empty_like(permutation).scatter_(0, permutation, steps)


# ================================================================================================
# Packing and padding
# ================================================================================================
def _batch_sizes(input: Tensor, lengths: Tensor, batch_first: bool) -> tuple[int, ...]:
    """The batch size at each step, after torch's checks of ``lengths`` against ``input``."""
    if lengths.dim() != 1 or lengths.device.type != "cpu":
        raise RuntimeError(
            "'lengths' argument should be a 1D CPU int64 tensor, but got "
            f"{lengths.dim()}D {lengths.device} Long tensor"
        )
    batch, steps = input.size(1), input.size(0)  # size(1) first: torch's IndexError for 1-D
    if batch_first:
        batch, steps = steps, batch
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    lens = lengths.tolist()
    if len(lens) != batch:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} "
            f"(batch_size={batch})"
        )
    if lens[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' "
            "that is <= 0"
        )
    if any(a < b for a, b in zip(lens, lens[1:], strict=False)):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
            "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
            "to sidestep this requirement if you do not need ONNX exportability."
        )
    if lens[0] > steps:  # torch packs fewer rows than its batch_sizes count here
        raise RuntimeError(
            f"pack_padded_sequence: a sequence's length ({lens[0]}) is more than the input's "
            f"{steps} steps; lengths must not exceed input.size({int(not batch_first)})"
        )
    return tuple(sum(1 for n in lens if n > t) for t in range(lens[0]))


def pack_padded_sequence(
    input: Tensor,
    lengths: Tensor | list[int],
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded ``(T, B, *)`` batch (``(B, T, *)`` with ``batch_first``) of sequences of
    ``lengths`` (a list, or a CPU int64 tensor). With ``enforce_sorted`` the lengths must
    decrease; otherwise the batch is sorted first and the permutation kept."""
    if isinstance(lengths, Tensor):
        lengths = lengths.to(dtype=_dtype.int64)
    else:
        lengths = creation.as_tensor(lengths, dtype=_dtype.int64, device="cpu")
    sorted_indices = None
    if not enforce_sorted:
        lengths, sorted_indices = lengths.sort(descending=True)
        sorted_indices = sorted_indices.to(input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    batch_sizes = _batch_sizes(input, lengths, batch_first)
    data = _to_packed(input, batch_sizes, batch_first)
    return PackedSequence(
        data, creation.tensor(batch_sizes, dtype=_dtype.int64), sorted_indices, None
    )


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The padded ``(T, B, *)`` batch (``(B, T, *)`` with ``batch_first``) of a packed one, in
    the order it was packed from, and its lengths; ``total_length`` pads it to more steps."""
    batch_sizes = tuple(sequence.batch_sizes.tolist())
    length = len(batch_sizes)
    if total_length is not None:
        if total_length < length:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{length}"
            )
        length = total_length
    padded = _to_padded(sequence.data, batch_sizes, length, padding_value)
    lengths = creation.tensor(_lengths(batch_sizes), dtype=_dtype.int64)
    if batch_first:
        padded = padded.transpose(0, 1)
    unsorted = sequence.unsorted_indices
    if unsorted is None:
        return padded, lengths
    return padded.index_select(0 if batch_first else 1, unsorted), lengths[unsorted.cpu()]


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L, *)`` tensors: ``pad_sequence`` then ``pack_padded_sequence``."""
    lengths = creation.as_tensor([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of ``(L, *)`` tensors a packed batch was made from, in their order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """The ``(L, *)`` tensors of ``sequences`` in one ``(max L, B, *)`` tensor (``(B, max L,
    *)`` with ``batch_first``), each copied in as torch copies it (``CopySlices``) and
    padded with ``padding_value`` on ``padding_side``."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    first = sequences[0]
    for seq in sequences[1:]:  # torch's copy error for a sequence of other trailing sizes
        for k, (a, b) in enumerate(zip(first.shape[1:], seq.shape[1:], strict=False), start=1):
            if a != b:
                raise RuntimeError(
                    f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                    f"non-singleton dimension {k}"
                )
    longest = max(len(s) for s in sequences)
    shape = (longest, len(sequences), *first.shape[1:])
    out = creation.full(shape, padding_value, dtype=first.dtype, device=first.device)
    if batch_first:
        out = out.transpose(0, 1).contiguous()
    for i, seq in enumerate(sequences):
        n = len(seq)
        steps = slice(longest - n, longest) if padding_side == "left" else slice(0, n)
        out[(i, steps) if batch_first else (steps, i)] = seq
    return out


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The sequences of a padded batch: each row's first ``lengths[i]`` steps. Without
    ``batch_first`` the batch is transposed in place first, as torch does."""
    if not batch_first:
        padded_sequences.transpose_(0, 1)
    steps = creation.arange(padded_sequences.shape[1])
    return [seq[steps < length] for seq, length in zip(padded_sequences, lengths, strict=True)]
