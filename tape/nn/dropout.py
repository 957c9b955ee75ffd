"""Dropout."""

from __future__ import annotations

from tape.nn import functional as F
from tape.nn.module import Module


class _DropoutNd(Module):
    """torch's base of every dropout class: ``isinstance(m, nn.Dropout)`` is False for a
    ``Dropout2d``, as in torch."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes elements with probability ``p`` in training (masks equal torch's under
    ``manual_seed``) and scales the rest by ``1 / (1 - p)``; the identity in eval mode."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) or (C, L) input (masks equal torch's under
    ``manual_seed``)."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) input (masks equal torch's under
    ``manual_seed``)."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) input (masks equal torch's under
    ``manual_seed``)."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks (``F.alpha_dropout``): keeps zero mean and unit variance; masks
    equal torch's under ``manual_seed``. Like torch's, it ignores ``inplace``."""

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole (N, C) channels (``F.feature_alpha_dropout``); like torch's, it
    ignores ``inplace``."""

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training)
