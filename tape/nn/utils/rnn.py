"""Padding variable-length sequences into one batch and back (``torch.nn.utils.rnn``).

Packed sequences (``PackedSequence`` and the ``pack_*`` functions) are not in tape.
"""

from __future__ import annotations

from tape import creation


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
