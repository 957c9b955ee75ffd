"""Fold and Unfold: col2im and im2col as modules (``tape.nn.functional.fold``/``unfold``)."""

from __future__ import annotations

from tape.nn import functional as F
from tape.nn.module import Module


class _Patches(Module):
    """The patch geometry Fold and Unfold share (siblings in torch)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
            f"stride={self.stride}"
        )


class Unfold(_Patches):
    """Every kernel-sized patch of a batch of images as a column: (N, C, H, W) -> (N, C*kh*kw, L).

    >>> Unfold(kernel_size=2)(tape.ones(1, 3, 4, 4)).shape
    torch.Size([1, 12, 9])
    """

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(_Patches):
    """Columns of patches summed back into images: (N, C*kh*kw, L) -> (N, C, *output_size)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, input):
        return F.fold(
            input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, {super().extra_repr()}"
