"""``tape.autograd``: backward, grad, the grad-mode switches and custom Functions."""

from tape.autograd import function, functional
from tape.autograd.engine import backward, grad
from tape.autograd.function import Function
from tape.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from tape.autograd.graph import Node

__all__ = [
    "Function",
    "Node",
    "backward",
    "enable_grad",
    "function",
    "functional",
    "grad",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]
