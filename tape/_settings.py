"""torch's process-wide switches that training scripts set up front: thread counts,
deterministic algorithms, float32 matmul precision.

tape keeps and reports them as torch does, so scripts run unchanged, but XLA decides what they
would control: its CPU thread pool is sized once, when JAX starts; its CPU kernels are
deterministic; and it picks float32 dot precision itself.

>>> set_num_threads(2); get_num_threads()
2
"""

from __future__ import annotations

import os


class _Settings:
    num_threads = os.cpu_count() or 1
    interop_threads = os.cpu_count() or 1
    interop_set = False
    deterministic = False
    warn_only = False
    matmul_precision = "highest"


_settings = _Settings()
_PRECISIONS = ("highest", "high", "medium")


def _positive_int(name: str, n) -> int:
    if type(n) is not int:
        raise RuntimeError(f"{name} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{name} expects a positive integer")
    return n


def set_num_threads(n: int) -> None:
    """Recorded for ``get_num_threads``; XLA's CPU thread pool keeps the size it started with."""
    _settings.num_threads = _positive_int("set_num_threads", n)


def get_num_threads() -> int:
    return _settings.num_threads


def set_num_interop_threads(n: int) -> None:
    """Recorded for ``get_num_interop_threads``; as in torch, only once."""
    n = _positive_int("set_num_interop_threads", n)
    if _settings.interop_set:
        raise RuntimeError(
            "Error: cannot set number of interop threads after parallel work has started or "
            "set_num_interop_threads called"
        )
    _settings.interop_threads, _settings.interop_set = n, True


def get_num_interop_threads() -> int:
    return _settings.interop_threads


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Recorded: XLA's CPU kernels give the same result on every run already."""
    if type(mode) is not bool:
        raise TypeError(
            "_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
            f"{type(mode).__name__}"
        )
    _settings.deterministic, _settings.warn_only = mode, bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _settings.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _settings.warn_only


def set_float32_matmul_precision(precision: str) -> None:
    """Recorded for ``get_float32_matmul_precision``; XLA chooses its dots' precision."""
    if not isinstance(precision, str):
        raise RuntimeError(
            f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}"
        )
    if precision not in _PRECISIONS:
        import warnings

        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
            "setFloat32MatmulPrecision call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    _settings.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _settings.matmul_precision
