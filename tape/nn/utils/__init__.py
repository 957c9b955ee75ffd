"""``tape.nn.utils``: gradient clipping, parameter/vector conversion and sequence padding and
packing (``rnn``), as ``torch.nn.utils``."""

from tape.nn.utils import fusion, parametrizations, parametrize, rnn, stateless
from tape.nn.utils.clip_grad import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from tape.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from tape.nn.utils.fusion import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from tape.nn.utils.weight_norm import remove_weight_norm, weight_norm

__all__ = [
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "fuse_conv_bn_eval",
    "fuse_conv_bn_weights",
    "fuse_linear_bn_eval",
    "fuse_linear_bn_weights",
    "fusion",
    "parametrizations",
    "parametrize",
    "remove_weight_norm",
    "get_total_norm",
    "parameters_to_vector",
    "rnn",
    "stateless",
    "vector_to_parameters",
    "weight_norm",
]
