"""Stochastic Weight Averaging and EMA (``torch.optim.swa_utils``).

``AveragedModel`` keeps a copy of a model whose parameters (and optionally buffers) are a running
average of the model's: an equal-weight average (SWA) by default, or any ``avg_fn`` /
``multi_avg_fn``, such as the exponential moving average of ``get_ema_multi_avg_fn``. ``SWALR``
anneals each group's learning rate to a constant ``swa_lr``, and ``update_bn`` recomputes the
BatchNorm statistics of an averaged model with one pass over the data.

torch's multi-tensor averages are ``torch._foreach_*`` kernels; tape runs the same arithmetic one
tensor at a time with in-place ops, so the averages equal torch's to float rounding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from typing import TYPE_CHECKING, Any, Literal

from tape import _device, _dtype, creation
from tape.autograd import grad_mode
from tape.nn.module import Module
from tape.nn.normalization import _BatchNorm, _InstanceNorm
from tape.optim.lr_scheduler import LRScheduler, _per_group, _warn_get_lr
from tape.tensor import Tensor

if TYPE_CHECKING:
    from tape.optim.optimizer import Optimizer

__all__ = [
    "SWALR",
    "AveragedModel",
    "get_ema_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
    "update_bn",
]

PARAM_LIST = tuple[Tensor, ...] | list[Tensor]
AvgFn = Callable[[Tensor, Tensor, Tensor | int], Tensor]
MultiAvgFn = Callable[[PARAM_LIST, PARAM_LIST, Tensor | int], None]

# The device types on which torch's AveragedModel averages with its multi-tensor (lerp) kernel
# by default; elsewhere (the CPU) it uses get_swa_avg_fn one tensor at a time.
_FOREACH_DEVICE_TYPES = ("cuda", "xpu", "mtia", "privateuseone")


def _is_float_or_complex(t: Tensor) -> bool:
    return t.is_floating_point() or t.is_complex()


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(
            f"Invalid decay value {decay} provided. Please provide a value in [0,1] range."
        )


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """The in-place exponential moving average over lists of tensors, for ``multi_avg_fn``:
    ``ema = decay * ema + (1 - decay) * model``.

    >>> ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    """
    _check_decay(decay)

    @grad_mode.no_grad()
    def ema_update(ema_param_list: PARAM_LIST, current_param_list: PARAM_LIST, _) -> None:
        # torch's multi-tensor lerp takes floating and complex lists only (one dtype per list)
        if _is_float_or_complex(ema_param_list[0]):
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.lerp_(p_model, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """The in-place equal-weight running average (SWA) over lists of tensors, for
    ``multi_avg_fn``: ``avg += (model - avg) / (num_averaged + 1)``."""

    @grad_mode.no_grad()
    def swa_update(
        averaged_param_list: PARAM_LIST,
        current_param_list: PARAM_LIST,
        num_averaged: Tensor | int,
    ) -> None:
        pairs = list(zip(averaged_param_list, current_param_list, strict=True))
        if _is_float_or_complex(averaged_param_list[0]):
            # torch passes a tensor weight as a Scalar: its (float32) value
            weight = float(1 / (num_averaged + 1))
            for p_avg, p_model in pairs:
                p_avg.lerp_(p_model, weight)
            return
        diffs = [p_model - p_avg for p_avg, p_model in pairs]
        if isinstance(num_averaged, Tensor):
            for p_avg, diff in zip(averaged_param_list, diffs, strict=True):
                p_avg.addcdiv_(diff, num_averaged + 1)
        else:  # torch's add_ then refuses the float alpha for integral tensors
            for p_avg, diff in zip(averaged_param_list, diffs, strict=True):
                p_avg.add_(diff, alpha=1 / (num_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """The exponential moving average of one tensor, for ``avg_fn``:
    returns ``decay * ema + (1 - decay) * model``."""
    _check_decay(decay)

    @grad_mode.no_grad()
    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> AvgFn:
    """The equal-weight running average (SWA) of one tensor, for ``avg_fn``:
    returns ``avg + (model - avg) / (num_averaged + 1)``."""

    @grad_mode.no_grad()
    def swa_update(
        averaged_param: Tensor, current_param: Tensor, num_averaged: Tensor | int
    ) -> Tensor:
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def _group_by_device_and_dtype(
    averaged: list[Tensor], current: list[Tensor]
) -> dict[tuple[Any, Any], tuple[list[Tensor], list[Tensor]]]:
    """Pairs grouped by the averaged tensor's (device, dtype), as torch groups them for its
    multi-tensor kernels; a multi_avg_fn sees one group per call."""
    groups: dict[tuple[Any, Any], tuple[list[Tensor], list[Tensor]]] = {}
    for p_avg, p_model in zip(averaged, current, strict=True):
        avgs, models = groups.setdefault((p_avg.device, p_avg.dtype), ([], []))
        avgs.append(p_avg)
        models.append(p_model)
    return groups


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are a running average of ``model``'s (SWA / EMA).

    ``update_parameters(model)`` folds the model's current parameters into the average (the first
    call copies them); ``avg_fn(avg, current, n)`` returns one averaged tensor,
    ``multi_avg_fn(avgs, currents, n)`` updates lists in place, and with neither the average has
    equal weights. With ``use_buffers`` the buffers are averaged too, otherwise copied from
    ``model``. ``n_averaged`` (a buffer) counts the updates.

    >>> swa_model = AveragedModel(model)
    >>> ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99))
    >>> for _ in range(epochs):
    ...     train_one_epoch(model)
    ...     swa_model.update_parameters(model)
    """

    n_averaged: Tensor

    def __init__(
        self,
        model: Module,
        device: int | str | _device.device | None = None,
        avg_fn: AvgFn | None = None,
        multi_avg_fn: MultiAvgFn | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", creation.tensor(0, dtype=_dtype.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters (and buffers, with ``use_buffers``) into the
        average."""
        if self.use_buffers:
            self_tensors = itertools.chain(self.module.parameters(), self.module.buffers())
            model_tensors = itertools.chain(model.parameters(), model.buffers())
        else:
            self_tensors = self.parameters()
            model_tensors = model.parameters()
        averaged: list[Tensor] = []
        current: list[Tensor] = []
        first = bool(self.n_averaged == 0)
        # zip stops at the shorter model, as torch's does (no strict check)
        for p_avg, p_model in zip(self_tensors, model_tensors, strict=False):
            p_model_ = p_model.detach().to(p_avg.device)
            averaged.append(p_avg.detach())
            current.append(p_model_)
            if first:
                p_avg.detach().copy_(p_model_)

        if self.n_averaged > 0:
            if self.multi_avg_fn is not None or self.avg_fn is None:
                self._multi_update(averaged, current)
            else:
                for p_avg, p_model in zip(averaged, current, strict=True):
                    n_averaged = self.n_averaged.to(p_avg.device)
                    p_avg.copy_(self.avg_fn(p_avg, p_model, n_averaged))

        if not self.use_buffers:
            # buffers that are not averaged follow the source model
            for b_swa, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b_swa.detach().copy_(b_model.detach().to(b_swa.device))
        self.n_averaged += 1

    def _multi_update(self, averaged: list[Tensor], current: list[Tensor]) -> None:
        for (device, _), (avgs, models) in _group_by_device_and_dtype(averaged, current).items():
            n_averaged = self.n_averaged.to(device)
            if self.multi_avg_fn is not None:
                self.multi_avg_fn(avgs, models, n_averaged)
            elif device.type in _FOREACH_DEVICE_TYPES:
                get_swa_multi_avg_fn()(avgs, models, n_averaged)
            else:
                avg_fn = get_swa_avg_fn()
                for p_avg, p_model in zip(avgs, models, strict=True):
                    p_avg.copy_(avg_fn(p_avg, p_model, n_averaged))


def _is_batch_norm(module: Module) -> bool:
    # tape's InstanceNorm derives from _BatchNorm; torch's does not, and update_bn skips it
    return isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm)


@grad_mode.no_grad()
def update_bn(
    loader: Iterable[Any], model: Module, device: int | str | _device.device | None = None
) -> None:
    """Recompute the running statistics of ``model``'s BatchNorm layers with one pass over
    ``loader`` (batches are tensors, or lists/tuples whose first item is the input).

    The statistics are reset and then averaged with equal weights over the batches (momentum
    ``None``); the layers' momenta and the model's training mode are restored afterwards.

    >>> update_bn(train_loader, swa_model)
    """
    momenta = {}
    for module in model.modules():
        if _is_batch_norm(module):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return

    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate from its current value to ``swa_lr`` (one value, or one
    per group) over ``anneal_epochs`` steps, by cosine (``"cos"``) or linear annealing, then keep
    it there. Usually switched to late in training, after another scheduler.

    >>> swa_scheduler = SWALR(optimizer, swa_lr=0.05, anneal_epochs=5, anneal_strategy="linear")
    >>> for epoch in range(epochs):
    ...     train_one_epoch(model, optimizer)
    ...     if epoch >= swa_start:
    ...         swa_model.update_parameters(model)
    ...         swa_scheduler.step()
    ...     else:
    ...         scheduler.step()
    """

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | Sequence[float],
        anneal_epochs: int = 10,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        last_epoch: int = -1,
    ) -> None:
        # torch writes the groups' swa_lr before validating the other arguments
        for lr, group in zip(
            _per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups, strict=True
        ):
            group["swa_lr"] = lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list:
        _warn_get_lr(self)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        # The groups' lr is the previous step's interpolation; undo it to recover the lr the
        # annealing started from, then interpolate to this step.
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [
            self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
            for group in self.optimizer.param_groups
        ]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [
            group["swa_lr"] * alpha + lr * (1 - alpha)
            for group, lr in zip(self.optimizer.param_groups, prev_lrs, strict=True)
        ]

    def _set_anneal_func(self, anneal_strategy: Literal["cos", "linear"]) -> None:
        self._anneal_strategy = anneal_strategy
        if anneal_strategy == "cos":
            self.anneal_func = self._cosine_anneal
        else:
            self.anneal_func = self._linear_anneal

    def state_dict(self) -> dict[str, Any]:
        """Everything in ``__dict__`` but the optimizer and the annealing function."""
        return {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("optimizer", "anneal_func")
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
