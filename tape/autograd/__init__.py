"""``tape.autograd``: backward, grad, the grad-mode switches and custom Functions."""

from tape.autograd import anomaly_mode, function, functional
from tape.autograd.anomaly_mode import detect_anomaly, set_detect_anomaly
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
from tape.autograd.gradcheck import gradcheck, gradgradcheck
from tape.autograd.graph import Node
from tape.autograd.variable import Variable

__all__ = [
    "Function",
    "Node",
    "Variable",
    "anomaly_mode",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "function",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]
