"""Constructor arguments shared by the optimizers: torch's checks and ``defaults``."""

from __future__ import annotations

from typing import Any


def check_value(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def check_non_negative(**values) -> None:
    """torch's ``Invalid <name> value`` checks, in the order given, on arguments that must be
    ``>= 0``."""
    for name, value in values.items():
        label = {"lr": "learning rate", "eps": "epsilon value"}.get(name, f"{name} value")
        check_value(0.0 <= value, f"Invalid {label}: {value}")


def defaults_of(arguments: dict[str, Any]) -> dict[str, Any]:
    """An optimizer's ``defaults`` from its constructor's ``locals()``: every argument but
    ``self`` and ``params``."""
    return {k: v for k, v in arguments.items() if k not in ("self", "params", "__class__")}
