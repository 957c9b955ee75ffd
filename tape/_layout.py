"""Tensor memory layouts: tape's tensors are all dense and strided, torch's default."""

from __future__ import annotations


class layout:  # noqa: N801 (torch's name)
    """A layout, printed as tape prints dtypes (``tape.strided``, torch's ``torch.strided``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"tape.{self.name}"


strided = layout("strided")
