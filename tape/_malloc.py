"""Keep freed host memory in the process for reuse, where the C library is glibc.

XLA CPU allocates a program's scratch buffer with ``malloc`` at every run and frees it after.
glibc serves a block over 32 MiB (its largest mmap threshold) with a fresh ``mmap`` and returns
it with ``munmap``, so every run faults the whole buffer back in, a page at a time. A ResNet18
train step under ``tape.compile`` (B=16, 64x64) has a 43 MiB scratch buffer: 11,000 page faults
and about 25 ms of system time in a 120 ms step, which made the one compiled program slower than
eager tape's many small ones. Smaller blocks from XLA's threads land in per-thread arenas, whose
heaps are unmapped whenever they empty. One arena that keeps what is freed (up to 1 GiB at
the top of its heap) removes both.

The cost is the usual one of a caching allocator: the process keeps its peak heap. A user who
sets any glibc malloc tunable in the environment (``MALLOC_*_``, ``GLIBC_TUNABLES``) keeps their
own; ``TAPE_MALLOC=default`` leaves glibc's defaults alone.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

# mallopt(3) parameters.
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
_SETTINGS = {
    _M_ARENA_MAX: 1,  # XLA's threads share the main heap, which is never unmapped
    _M_MMAP_MAX: 0,  # large blocks come from that heap too, not from mmap
    _M_TRIM_THRESHOLD: 1 << 30,  # and freed memory at its top stays up to 1 GiB
}


def user_tuned(environ: Mapping[str, str]) -> bool:
    """True where the environment already chooses how glibc's malloc behaves."""
    if environ.get("TAPE_MALLOC") == "default":
        return True
    return "glibc.malloc" in environ.get("GLIBC_TUNABLES", "") or any(
        k.startswith("MALLOC_") and k.endswith("_") for k in environ
    )


def keep_freed_memory() -> bool:
    """Apply the settings above with ``mallopt``; True where they took effect."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or user_tuned(os.environ):
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in _SETTINGS.items())
