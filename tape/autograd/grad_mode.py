"""Switches for gradient recording: no_grad, enable_grad, set_grad_enabled, inference_mode."""

from __future__ import annotations

import functools


class _State:
    enabled = True
    inference = False
    # Set once a tensor is made in inference mode: from then on a recorded op checks that it
    # saves none (torch's error); until then the check costs nothing.
    inference_tensors = False


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _GradMode:
    """Base for the context managers; each also works as a decorator."""

    _target: bool

    def __enter__(self) -> None:
        self._prev = state.enabled
        state.enabled = self._target

    def __exit__(self, *exc) -> None:
        state.enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class _NoParamGradMode(_GradMode):
    """A mode that takes no argument, so that it also works as a bare ``@decorator``."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamGradMode):
    """Disable recording: ``with tape.no_grad(): y = x * 2`` gives ``y.requires_grad == False``."""

    _target = False


class enable_grad(_NoParamGradMode):
    _target = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode: bool) -> None:
        self._prev = state.enabled
        self._target = bool(mode)
        state.enabled = self._target  # torch applies it at construction, so a bare call works

    def __call__(self, fn):
        state.enabled = self._prev
        mode = self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper

    def __enter__(self) -> None:
        pass


INFERENCE_INPLACE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details."
)
INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`."
)


def mark_inference(t) -> None:
    """Make ``t`` an inference tensor (made in inference mode): it may not be changed in place,
    require grad or be saved for backward outside the mode, and has no version counter."""
    t._inference = True
    state.inference_tensors = True


class inference_mode(_GradMode):
    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # bare ``@inference_mode``

    def __init__(self, mode: bool = True) -> None:
        self._target = not mode

    def __enter__(self) -> None:
        super().__enter__()
        self._prev_inference = state.inference
        state.inference = not self._target

    def __exit__(self, *exc) -> None:
        state.inference = self._prev_inference
        super().__exit__(*exc)

    def __call__(self, fn):
        mode = not self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper
