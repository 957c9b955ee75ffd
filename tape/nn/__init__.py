"""``tape.nn``: neural-network building blocks."""

from tape.nn import functional

__all__ = ["functional"]
