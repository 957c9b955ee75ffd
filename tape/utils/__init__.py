"""``tape.utils``: as ``torch.utils``. ``tape.utils.data`` loads on first use, keeping
``import tape`` fast."""

import importlib
from types import ModuleType

__all__ = ["data"]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
