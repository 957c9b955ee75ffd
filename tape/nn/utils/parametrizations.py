"""Parametrizations built on ``parametrize`` (``torch.nn.utils.parametrizations``).

>>> weight_norm(nn.Linear(20, 40)).parametrizations.weight.original0.shape  # the norms g
torch.Size([40, 1])
"""

from __future__ import annotations

from tape.nn import functional as F
from tape.nn.module import Module
from tape.nn.utils import parametrize

__all__ = ["weight_norm"]


class _WeightNorm(Module):
    """``weight = g * v / ||v||``, the norm over every axis but ``dim`` (all of them: None)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return F._weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return F.norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Split ``module.<name>`` into its magnitude ``original0`` (g) and direction
    ``original1`` (v); a checkpoint with the old ``<name>_g``/``<name>_v`` keys still loads."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def old_keys(state_dict, prefix, *args) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(old_keys)
    return module
