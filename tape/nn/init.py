"""``tape.nn.init``: in-place initializers with torch's formulas, drawn from tape's
torch-identical generator (so ``manual_seed`` gives torch's exact values)."""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

from tape import _random
from tape.autograd import grad_mode

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "orthogonal_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
]


def calculate_gain(nonlinearity, param=None):
    linear_fns = [
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
    ]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    dimensions = tensor.dim()
    if dimensions < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    num_input_fmaps = tensor.size(1)
    num_output_fmaps = tensor.size(0)
    receptive_field_size = 1
    if tensor.dim() > 2:
        for s in tensor.shape[2:]:
            receptive_field_size *= s
    fan_in = num_input_fmaps * receptive_field_size
    fan_out = num_output_fmaps * receptive_field_size
    return fan_in, fan_out


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# Set by ``_draws_only``: uniform_ advances the generator by the draws it would make and leaves
# the tensor as it is.
_discard = False


@contextlib.contextmanager
def _draws_only():
    """For layers whose default initialisation the model overwrites (torchvision's ResNet
    re-draws every conv weight): the generator moves on exactly as if the values were drawn,
    so later draws stay torch's, without computing values that are thrown away (a ResNet18's
    conv weights are 11M uniforms)."""
    global _discard
    old, _discard = _discard, True
    try:
        yield
    finally:
        _discard = old


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    if _discard:
        (generator or _random.default_generator).skip_uniform(tuple(tensor.shape), tensor.dtype.np)
        return tensor
    with grad_mode.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    with grad_mode.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """torch's inverse-CDF method: uniform in [2l-1, 2u-1], erfinv, scale, shift, clamp."""

    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    from tape import _random, creation

    gen = generator or _random.default_generator
    shape, dt = tuple(tensor.shape), tensor.dtype.np
    p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
    if p > 0.3:
        # Rejection from the full normal: redraw every element, keep the redraw where rejected.
        lo, hi = dt.type(a), dt.type(b)
        result = gen.normal(shape, dt, mean, std)
        while True:
            mask = (result < lo) | (result > hi)
            if not mask.any():
                break
            result = np.where(mask, gen.normal(shape, dt, mean, std), result)
    else:
        # Rejection from uniform candidates on [a, b] against the normal's log-density.
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2
        f = dt.type

        def log_pdf(c):
            return ((c - f(mean)) / f(std)) ** 2 * f(-0.5) - f(log_peak)

        result = gen.uniform(shape, dt, a, b)
        pending = np.log(gen.uniform(shape, dt, 0.0, 1.0)) > log_pdf(result)
        while pending.any():
            cand = gen.uniform(shape, dt, a, b)
            result = np.where(pending, cand, result)
            accept = np.log(gen.uniform(shape, dt, 0.0, 1.0)) > log_pdf(cand)
            pending = np.where(pending, accept, pending)
    with grad_mode.no_grad():
        return tensor.copy_(creation.tensor(np.asarray(result, dt), dtype=tensor.dtype))


def constant_(tensor, val):
    with grad_mode.no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    with grad_mode.no_grad():
        return tensor.fill_(1.0)


def zeros_(tensor):
    with grad_mode.no_grad():
        return tensor.zero_()


def eye_(tensor):
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    from tape import creation

    with grad_mode.no_grad():
        return tensor.copy_(creation.eye(*tensor.shape, dtype=tensor.dtype))


def dirac_(tensor, groups=1):
    """Conv weights that pass each input channel (per group) through unchanged."""
    dimensions = tensor.dim()
    if dimensions not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    values = np.zeros(sizes, tensor.dtype.np)
    center = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for d in range(min_dim):
            values[(g * out_chans_per_grp + d, d, *center)] = 1
    from tape import creation

    with grad_mode.no_grad():
        return tensor.copy_(creation.tensor(values, dtype=tensor.dtype))


def orthogonal_(tensor, gain=1, generator=None):
    """torch's draws (a normal (rows, cols) matrix) and its sign-fixed QR. The QR runs in
    float64 here (torch: its LAPACK in the tensor's dtype), so values agree to about 1 ulp."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    dt = tensor.dtype.np
    flattened = (generator or _random.default_generator).normal((rows, cols), dt, 0.0, 1.0)
    if rows < cols:
        flattened = flattened.T
    q, r = np.linalg.qr(flattened.astype(np.float64))
    q = (q * np.sign(np.diag(r))).astype(dt)
    if rows < cols:
        q = q.T
    from tape import creation

    values = (q * dt.type(gain)).reshape(tuple(tensor.shape))
    with grad_mode.no_grad():
        return tensor.copy_(creation.tensor(values, dtype=tensor.dtype))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    """The kaiming inits' standard deviation; ``None`` (with torch's warning) for no elements."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0, std, generator)


def _default_layer_init(weight, bias, *, zero_fan_in_bias: bool) -> None:
    """torch's default init of Linear and the conv layers: ``weight`` kaiming-uniform with
    ``a=sqrt(5)``, ``bias`` uniform in +-1/sqrt(fan_in). With ``fan_in == 0`` Linear still fills
    the bias (bound 0, ``zero_fan_in_bias``) where the conv layers leave it."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        if fan_in > 0:
            bound = 1 / math.sqrt(fan_in)
        elif zero_fan_in_bias:
            bound = 0
        else:
            return
        uniform_(bias, -bound, bound)


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Normal values with ``ceil(sparsity * rows)`` zeros in each column, at rows chosen by a
    ``randperm`` per column (torch's draws: the permutations from the default generator)."""
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    from tape import creation

    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    with grad_mode.no_grad():
        tensor.normal_(0, std, generator=generator)
        for col in range(cols):
            tensor[creation.randperm(rows)[:num_zeros], col] = 0
    return tensor


def _deprecated(init):
    """torch's old name for ``init`` (without the trailing underscore), which warns."""
    new_name = init.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(
            f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.",
            FutureWarning,
            stacklevel=2,
        )
        return init(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    deprecated_init.__doc__ = f"Deprecated: use ``{new_name}``."
    return deprecated_init


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
