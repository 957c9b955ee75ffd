"""torch's top-level functions that take ATen's arguments where ``nn.functional`` takes others.

``torch.dropout(input, p, train)``, ``torch.batch_norm(input, weight, bias, running_mean, ...)``,
``torch.embedding(weight, indices)``, an integer ``reduction`` (0 none, 1 mean, 2 sum; any other
value, and the default, none), ``stride=()`` meaning the kernel size. Each maps its arguments
onto the functional, which does the work and raises the errors.

    >>> torch.kl_div(log_probs, probs, 2)          # F.kl_div(..., reduction="sum")
"""

from __future__ import annotations

from tape.nn import functional as F

_REDUCTIONS = {1: "mean", 2: "sum"}


def _reduction(value: int) -> str:
    return _REDUCTIONS.get(value, "none")


def _check_p(p: float) -> None:
    # RuntimeError here, where F.dropout raises ValueError.
    if p < 0.0 or p > 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(feature: bool, alpha: bool, inplace: bool):
    def fn(input, p: float, train: bool):
        _check_p(p)
        return F._dropout_impl(input, p, train, inplace, feature=feature, alpha=alpha)

    return fn


dropout = _dropout(False, False, False)
dropout_ = _dropout(False, False, True)
feature_dropout = _dropout(True, False, False)
feature_dropout_ = _dropout(True, False, True)
alpha_dropout = _dropout(False, True, False)
alpha_dropout_ = _dropout(False, True, True)
feature_alpha_dropout = _dropout(True, True, False)
feature_alpha_dropout_ = _dropout(True, True, True)


def batch_norm(
    input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled
):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(
    input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled
):
    return F.instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    # ATen skips the padding row only for an index in range: -1, the default, means none.
    padding = padding_idx if 0 <= padding_idx < weight.shape[0] else None
    return F.embedding(indices, weight, padding, None, 2.0, scale_grad_by_freq, sparse)


def _max_pool(pool, with_indices: bool):
    def fn(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
        stride = None if stride in ((), []) else stride
        return pool(input, kernel_size, stride, padding, dilation, ceil_mode, with_indices)

    return fn


max_pool1d = _max_pool(F.max_pool1d, False)
max_pool1d_with_indices = _max_pool(F.max_pool1d, True)
max_pool2d = _max_pool(F.max_pool2d, False)
max_pool3d = _max_pool(F.max_pool3d, False)


def constant_pad_nd(input, pad, value=0):
    return F.pad(input, pad, "constant", value)


def adaptive_max_pool1d(input, output_size):
    return F.adaptive_max_pool1d(input, output_size, True)


def kl_div(input, target, reduction=0, *, log_target=False):
    # ATen's mean is the elementwise one, without F.kl_div's warning about it.
    return F._kl_div(input, target, _reduction(reduction), log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction), pos_weight=pos_weight
    )


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def triplet_margin_loss(
    anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction=0
):
    return F.triplet_margin_loss(
        anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction)
    )


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(
        input, target, log_input, full, eps=eps, reduction=_reduction(reduction)
    )


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return F._rrelu_impl(input, lower, upper, training, False, generator)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return F._rrelu_impl(input, lower, upper, training, True, generator)
