"""Sampling from distributions given by tensors: ``normal``, ``bernoulli``, ``poisson`` and
``multinomial``,
drawn from tape's torch-identical generator (``tape._random``), so the same seed gives torch's
numbers.

The draws are made on the host; ``normal`` then scales and shifts them as ATen does (a
standard normal times ``std`` plus ``mean``, each rounded in the output's dtype). Its gradient
is zero for ``mean`` and ``std`` (and ``bernoulli``'s and ``poisson``'s for their parameters),
as in torch, which does not reparameterize the sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import numpy as np

from tape import _dtype, _random, creation
from tape._dispatch import _raise_broadcast_error
from tape.ops.registry import dispatch, register

if TYPE_CHECKING:
    from tape.tensor import Tensor


def _scaled(z, std, mean):
    # ATen: out.normal_(0, 1); out.mul_(std); out.add_(mean), each rounded in out's dtype.
    return jax.lax.stop_gradient(((z * std).astype(z.dtype) + mean).astype(z.dtype))


def _shifted(z, std, mean):
    # ATen: out.normal_(0, std); out.add_(mean): z already holds the scaled draws.
    return jax.lax.stop_gradient((z + mean).astype(z.dtype))


# (mean is a tensor, std is a tensor) -> the op; inputs are (draws, std, mean).
_NORMAL = {
    (True, True): register("normal_tensor_tensor", _scaled, "NormalBackward3"),
    (True, False): register("normal_tensor_float", _shifted, "NormalBackward1"),
    (False, True): register("normal_float_tensor", _scaled, "NormalBackward2"),
}


def normal(
    mean, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False
):
    """``torch.normal``: samples with the given means and standard deviations (tensors that
    broadcast, or numbers), or ``size`` samples of one normal distribution.

    >>> tape.normal(tape.zeros(3), tape.tensor([1.0, 2.0, 3.0]))  # doctest: +SKIP
    """
    from tape.tensor import Tensor

    gen = generator or _random.default_generator
    tensors = (isinstance(mean, Tensor), isinstance(std, Tensor))
    if not any(tensors):
        if size is None:
            raise TypeError("normal() missing the 'size' argument for a float mean and std")
        d = creation._float_dtype(dtype)
        values = gen.normal(creation._size((size,)), d.np, mean, std)
        return creation._new(values, device, requires_grad)
    ref = mean if tensors[0] else std
    if not ref.dtype.is_floating_point:
        raise _dtype.kernel_missing("normal_kernel_cpu", ref.dtype)
    # A number std is checked by the draw itself (Generator.normal, torch's message).
    if tensors[1] and std.numel() and not (std.detach().cpu().numpy() >= 0).all():
        raise RuntimeError("normal expects all elements of std >= 0.0")
    shapes = [tuple(t.shape) for t, is_t in zip((mean, std), tensors, strict=True) if is_t]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError as error:
        _raise_broadcast_error([np.empty(s) for s in shapes], error)
        raise
    z = gen.normal(shape, ref.dtype.np, 0.0, 1.0 if tensors[1] else std)
    draws = creation.tensor(z, device=ref.device)
    return dispatch(_NORMAL[tensors], (draws, std, mean))


def _drawn(params, draws):
    """The draws made on the host from ``params``: no gradient reaches the parameters."""
    return jax.lax.stop_gradient(draws)


_BERNOULLI = register("bernoulli", _drawn, "BernoulliBackward0")
_POISSON = register("poisson", _drawn, "PoissonBackward0")
# ATen's check of the probabilities, message and all.
_P_RANGE = (
    "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message be "
    "improved?  If so, please report an enhancement request to PyTorch.)"
)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """``torch.bernoulli``: 1 with probability ``input`` (or ``p`` everywhere), else 0, in
    ``input``'s dtype."""
    gen = generator or _random.default_generator
    if p is not None:
        # torch's node for this form raises on backward; this one records none
        return creation.empty_like(input).bernoulli_(p, generator=gen)
    if not input.dtype.is_floating_point:
        raise _dtype.kernel_missing("bernoulli_tensor_cpu_p_", input.dtype)
    probs = input.detach().cpu().numpy()
    if not ((probs >= 0) & (probs <= 1)).all():
        raise RuntimeError(_P_RANGE)
    draws = gen.bernoulli(probs, probs.shape, probs.dtype)
    return dispatch(_BERNOULLI, (input, creation.tensor(draws, device=input.device)))


def poisson(input, generator=None) -> Tensor:
    """``torch.poisson``: a count drawn from Poisson(rate) for each rate in ``input``, in
    ``input``'s dtype.

    >>> tape.poisson(tape.tensor([0.5, 4.0, 30.0]))  # doctest: +SKIP
    tensor([ 0.,  3., 27.])
    """
    if not input.dtype.is_floating_point:
        raise _dtype.kernel_missing("poisson_cpu", input.dtype)
    gen = generator or _random.default_generator
    counts = gen.poisson(input.detach().cpu().numpy())
    draws = creation.tensor(counts, dtype=input.dtype, device=input.device)
    return dispatch(_POISSON, (input, draws))


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """``num_samples`` category indices per row of ``input`` (1-D or 2-D weights), drawn as
    torch draws them from the same generator state.

    >>> tape.multinomial(tape.tensor([0.0, 10.0, 3.0]), 2)  # doctest: +SKIP
    tensor([1, 2])
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise TypeError(
            "multinomial(): argument 'num_samples' (position 2) must be int, not "
            f"{type(num_samples).__name__}"
        )
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            "multinomial only supports floating-point dtypes for input, got: "
            f"{_dtype.scalar_type_name(input.dtype)}"
        )
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    if input.shape[-1] > 1 << 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    gen = generator or _random.default_generator
    probs = input.detach().cpu().numpy()
    return creation._new(gen.multinomial(probs, int(num_samples), bool(replacement)), input.device)
