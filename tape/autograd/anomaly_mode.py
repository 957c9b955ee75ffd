"""Anomaly detection: ``detect_anomaly`` and ``set_detect_anomaly``, as torch's.

While it is on, every backward node keeps the stack of the forward call that made it (in
``grad_fn.metadata["traceback_"]``), a backward runs node by node, and when a node fails (an
input changed in place, say) a warning shows that stack before the error; with ``check_nan`` a
node that returns NaN raises. Off, it costs nothing: the traceback is kept by an ``__init__``
swapped into ``Node`` only while the mode is on.

    >>> with torch.autograd.detect_anomaly():
    ...     loss.backward()
"""

from __future__ import annotations

import os
import traceback
import warnings

from tape.autograd import graph


class _State:
    enabled = False
    check_nan = True


state = _State()
_plain_init = graph.Node.__init__
_TAPE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _init_keeping_traceback(node) -> None:
    _plain_init(node)
    # The user's frames: tape's own would bury the line that made the node.
    stack = traceback.format_stack()
    node.metadata["traceback_"] = [f for f in stack if not f.startswith(f'  File "{_TAPE}')]


def _set(enabled: bool, check_nan: bool) -> None:
    state.enabled, state.check_nan = bool(enabled), bool(check_nan)
    graph.Node.__init__ = _init_keeping_traceback if enabled else _plain_init


def is_anomaly_enabled() -> bool:
    return state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return state.check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    _set(enabled, check_nan)


class detect_anomaly:
    """Anomaly detection on inside the ``with`` block (not a decorator, as in torch)."""

    def __init__(self, check_nan: bool = True) -> None:
        self.prev, self.prev_check_nan = state.enabled, state.check_nan
        self.check_nan = check_nan
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should "
            "only be enabled for debugging.",
            stacklevel=2,
        )

    def __enter__(self) -> None:
        _set(True, self.check_nan)

    def __exit__(self, *exc) -> None:
        _set(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    """Anomaly detection on or off from the call, or inside the ``with`` block only."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev, self.prev_check_nan = state.enabled, state.check_nan
        _set(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _set(self.prev, self.prev_check_nan)


def warn_forward_traceback(node) -> None:
    """torch's warning with the stack of the forward call that made the failing ``node``."""
    stack = getattr(node, "_metadata", {}).get("traceback_")
    if stack is None:
        return
    warnings.warn(
        f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
        + "".join(stack),
        stacklevel=4,
    )
