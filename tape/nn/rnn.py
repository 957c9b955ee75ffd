"""RNN, LSTM, GRU and their one-step cells, with torch's parameters, init and outputs.

Each layer and direction of a recurrent module is one registry op: a pure JAX function that
computes the input projection for every step at once, then runs the recurrence with
``jax.lax.scan``, so that XLA compiles the loop and ``jax.vjp`` gives its backward. The cells
are compositions of ordinary ops, as torch's CPU cells are.

A ``PackedSequence`` input runs through the same layers in its padded form, with a (T, N) mask
of the valid steps: past a sequence's end its state stays as it is, so the final state is that
of its last step, and a reverse direction starts from h0 at that step.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from tape import creation
from tape.nn import functional as F
from tape.nn import init
from tape.nn.module import Module
from tape.nn.parameter import Parameter
from tape.nn.utils.rnn import PackedSequence, _pack_fwd, _to_packed, _to_padded
from tape.ops.registry import NONE, SAME, dispatch, register
from tape.ops.shape import cat, stack

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ================================================================================================
# One layer in one direction: pure JAX
# ================================================================================================
def _project(x, w_ih, bias):
    """``x @ w_ih.T + b_ih`` for all steps at once: (L, N, H_in) -> (L, N, G)."""
    gx = jnp.matmul(x, w_ih.T)
    return gx + bias[0] if bias else gx


def _hidden(h, w_hh, bias):
    gh = jnp.matmul(h, w_hh.T)
    return gh + bias[1] if bias else gh


def _scan(step, carry, gx, mask, reverse):
    """``lax.scan`` of ``step(carry, gx_t) -> (carry, out_t)`` over the steps of ``gx``. Where
    the (L, N) ``mask`` of a packed input is off, a column keeps its carry and outputs zeros."""
    if mask is None:
        return jax.lax.scan(step, carry, gx, reverse=reverse)

    def masked(carry, xs):
        gx, valid = xs
        valid = valid[:, None]
        new, out = step(carry, gx)
        new = jax.tree.map(lambda n, c: jnp.where(valid, n, c), new, carry)
        return new, jnp.where(valid, out, 0)

    return jax.lax.scan(masked, carry, (gx, mask), reverse=reverse)


def _simple_layer(act):
    def fwd(x, mask, h0, w_ih, w_hh, *bias, reverse):
        def step(h, gx):
            h = act(_hidden(h, w_hh, bias) + gx)
            return h, h

        h, out = _scan(step, h0, _project(x, w_ih, bias), mask, reverse)
        return out, h

    return fwd


def _lstm_layer(x, mask, h0, c0, w_ih, w_hh, *weights, reverse, proj=False):
    """With ``proj`` the last of ``weights`` is ``w_hr`` (torch's ``proj_size``): each step's
    h is projected by it before it is output and fed back."""
    bias, w_hr = (weights[:-1], weights[-1]) if proj else (weights, None)

    def step(carry, gx):
        h, c = carry
        i, f, g, o = jnp.split(_hidden(h, w_hh, bias) + gx, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        if proj:
            h = jnp.matmul(h, w_hr.T)
        return (h, c), h

    (h, c), out = _scan(step, (h0, c0), _project(x, w_ih, bias), mask, reverse)
    return out, h, c


def _gru_layer(x, mask, h0, w_ih, w_hh, *bias, reverse):
    def step(h, gx):
        xr, xz, xn = jnp.split(gx, 3, axis=-1)
        hr, hz, hn = jnp.split(_hidden(h, w_hh, bias), 3, axis=-1)
        r = jax.nn.sigmoid(hr + xr)
        z = jax.nn.sigmoid(hz + xz)
        n = jnp.tanh(xn + hn * r)
        h = (h - n) * z + n
        return h, h

    h, out = _scan(step, h0, _project(x, w_ih, bias), mask, reverse)
    return out, h


# The grad_fn names are those torch shows on CPU for a unidirectional layer's output: the
# composite RNN and GRU stack their steps, the LSTM runs as one oneDNN layer, unless it projects
# (oneDNN has no projection: torch falls back to its composite).
_LAYER_OPS = {
    "RNN_TANH": register(
        "rnn_tanh_layer", _simple_layer(jnp.tanh), "StackBackward0", SAME, remat=False
    ),
    "RNN_RELU": register(
        "rnn_relu_layer", _simple_layer(jax.nn.relu), "StackBackward0", SAME, remat=False
    ),
    "LSTM": register("lstm_layer", _lstm_layer, "MkldnnRnnLayerBackward0", SAME, remat=False),
    "LSTM_PROJ": register(
        "lstm_proj_layer",
        functools.partial(_lstm_layer, proj=True),
        "StackBackward0",
        SAME,
        remat=False,
    ),
    "GRU": register("gru_layer", _gru_layer, "StackBackward0", SAME, remat=False),
}
# torch's composite RNN and GRU turn a batch_first output around in place (``transpose_``).
_transpose_inplace = register(
    "rnn_transpose_", lambda x: jnp.swapaxes(x, 0, 1), "TransposeBackward1", SAME, saves="none"
)
# torch's packed layers concatenate their steps' outputs.
_packed_output = register("rnn_packed_output", _pack_fwd, "CatBackward0", NONE, saves="none")
_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


# ================================================================================================
# Modules
# ================================================================================================
class RNNBase(Module):
    """Parameters, init, checks and the layer loop shared by RNN, LSTM and GRU."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        _check_args(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout)
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        gate_size = _GATES[mode] * hidden_size
        num_directions = 2 if bidirectional else 1
        real_hidden_size = proj_size or hidden_size  # the size of h
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
            for direction in range(num_directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = {
                    f"weight_ih_l{layer}{suffix}": (gate_size, layer_input_size),
                    f"weight_hh_l{layer}{suffix}": (gate_size, real_hidden_size),
                }
                if bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gate_size,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gate_size,)
                if proj_size > 0:
                    shapes[f"weight_hr_l{layer}{suffix}"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(
                        self, name, Parameter(creation.empty(shape, device=device, dtype=dtype))
                    )
                self._flat_weights_names.extend(shapes)
                self._all_weights.append(list(shapes))
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op, as torch's is off cuDNN."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def _check_input(self, input, dims: int = 3) -> None:
        weight_dtype = self._flat_weights[0].dtype
        if input.dtype != weight_dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                f"Convert input: input.to({weight_dtype}), or convert model: "
                f"model.to({input.dtype})"
            )
        if input.dim() != dims:
            raise RuntimeError(f"input must have {dims} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(
                "input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {input.size(-1)}"
            )

    def _state_shapes(self, batch: int) -> tuple[tuple[int, int, int], ...]:
        """The shapes of h0 (and c0): with ``proj_size`` h is that wide, c stays hidden_size."""
        layers = self.num_layers * (2 if self.bidirectional else 1)
        h = (layers, batch, self.proj_size or self.hidden_size)
        return (h, (layers, batch, self.hidden_size)) if self.mode == "LSTM" else (h,)

    def _check_states(self, states: tuple, batch: int, messages: tuple[str, ...]) -> None:
        """torch's check of each state's shape, with its message (``{}``: wanted, got)."""
        for state, shape, message in zip(states, self._state_shapes(batch), messages, strict=True):
            if tuple(state.shape) != shape:
                raise RuntimeError(message.format(shape, list(state.shape)))

    def _zeros(self, batch: int, like) -> tuple:
        """Zero initial states, as ``_state_shapes``."""
        return tuple(
            creation.zeros(shape, dtype=like.dtype, device=like.device)
            for shape in self._state_shapes(batch)
        )

    def _run(self, input, states: tuple, batch_sizes: tuple[int, ...] | None = None) -> tuple:
        """The layer loop on a batched input; ``states`` are h0 (and c0), as ``_state_shapes``.
        With a packed input's ``batch_sizes``, ``input`` is its padded (T, N, H_in) form and
        the output is packed. Returns the output and the final states, stacked as torch stacks
        them."""
        op = _LAYER_OPS["LSTM_PROJ" if self.proj_size else self.mode]
        num_directions = 2 if self.bidirectional else 1
        mask = None
        if batch_sizes is not None:
            valid = np.arange(batch_sizes[0]) < np.array(batch_sizes)[:, None]
            mask = creation.tensor(valid, device=input.device)
        elif self.batch_first:
            input = input.transpose(0, 1)
        all_weights = self.all_weights
        finals: list[list] = [[] for _ in states]
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                args = (input, mask, *(s[k] for s in states), *all_weights[k])
                out, *last = dispatch(op, args, (("reverse", direction == 1),))
                outputs.append(out)
                for final, value in zip(finals, last, strict=True):
                    final.append(value)
            input = outputs[0] if num_directions == 1 else cat(outputs, 2)
            if self.dropout != 0 and self.training and layer < self.num_layers - 1:
                if batch_sizes is None:
                    input = F.dropout(input, self.dropout, True)
                else:  # torch drops out the packed rows: its draws need their shape
                    packed = F.dropout(_to_packed(input, batch_sizes), self.dropout, True)
                    input = _to_padded(packed, batch_sizes)
        if batch_sizes is not None:
            input = _to_packed(input, batch_sizes, op=_packed_output)
        elif self.batch_first:
            if self.mode == "LSTM":
                input = input.transpose(0, 1)
            else:
                input = dispatch(_transpose_inplace, (input,))
        return input, *(stack(final) for final in finals)

    def _forward_packed(self, input: PackedSequence, states, messages: tuple[str, ...]) -> tuple:
        """``forward`` on a packed input: ``states`` (None, or h0 and c0 in the batch's own
        order) are sorted as the packed columns are, the final states sorted back."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        sizes = tuple(batch_sizes.tolist())
        if states is None:
            states = self._zeros(sizes[0], data)
        else:
            states = tuple(_permute(s, sorted_indices) for s in states)
        self._check_input(data, dims=2)
        self._check_states(states, sizes[0], messages)
        output, *finals = self._run(_to_padded(data, sizes), states, sizes)
        output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        return output, *(_permute(f, unsorted_indices) for f in finals)


def _permute(state, permutation):
    """``state``'s batch columns (dim 1) in the order of ``permutation``, if there is one."""
    return state if permutation is None else state.index_select(1, permutation)


def _check_args(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout) -> None:
    if (
        not isinstance(dropout, numbers.Number)
        or not 0 <= dropout <= 1
        or isinstance(dropout, bool)
    ):
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an "
            "element being zeroed"
        )
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero "
            f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=4,
        )
    for name, value in (("bias", bias), ("batch_first", batch_first)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int):
            raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if mode not in _GATES:
        raise ValueError("Unrecognized RNN mode: " + mode)


class _SingleState(RNNBase):
    """RNN and GRU: one hidden state ``hx``."""

    def forward(self, input, hx=None) -> tuple:
        if isinstance(input, PackedSequence):
            states = None if hx is None else (hx,)
            return self._forward_packed(input, states, ("Expected hidden size {}, got {}",))
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        if input.dim() not in (2, 3):
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {input.dim()}D"
                + (" tensor instead" if name == "RNN" else " instead")
            )
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
            if hx is not None:
                if hx.dim() != 2:
                    raise RuntimeError(
                        "For unbatched 2-D input, hx should also be 2-D but got "
                        f"{hx.dim()}-D tensor"
                    )
                hx = hx.unsqueeze(1)
        elif hx is not None and hx.dim() != 3:
            raise RuntimeError(
                f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor"
            )
        batch = input.size(batch_dim)
        states = self._zeros(batch, input) if hx is None else (hx,)
        self._check_input(input)
        self._check_states(states, batch, ("Expected hidden size {}, got {}",))
        output, hidden = self._run(input, states)
        if not batched:
            output, hidden = output.squeeze(batch_dim), hidden.squeeze(1)
        return output, hidden


class RNN(_SingleState):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(
                f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(mode, *args, **kwargs)


class GRU(_SingleState):
    """Gated recurrent unit; gates r, z, n with ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory; gates i, f, g, o. With ``proj_size`` each step's h is projected
    by ``weight_hr`` to that size."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input, hx=None) -> tuple:
        messages = ("Expected hidden[0] size {}, got {}", "Expected hidden[1] size {}, got {}")
        if isinstance(input, PackedSequence):
            output, h, c = self._forward_packed(input, None if hx is None else tuple(hx), messages)
            return output, (h, c)
        if input.dim() not in (2, 3):
            raise ValueError(f"LSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
        batch = input.size(batch_dim)
        if hx is None:
            hx = self._zeros(batch, input)
        else:
            want = 3 if batched else 2
            if hx[0].dim() != want or hx[1].dim() != want:
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(
                    f"For {kind} input, hx and cx should also be {want}-D but got "
                    f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors"
                )
            if not batched:
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self._check_input(input)
        self._check_states(tuple(hx), batch, messages)
        output, h, c = self._run(input, tuple(hx))
        if not batched:
            output, h, c = output.squeeze(batch_dim), h.squeeze(1), c.squeeze(1)
        return output, (h, c)


# ================================================================================================
# Cells
# ================================================================================================
class RNNCellBase(Module):
    """Parameters ``weight_ih``, ``weight_hh`` (and ``bias_ih``, ``bias_hh``) of one cell."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty((gates, input_size), **factory))
        self.weight_hh = Parameter(creation.empty((gates, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(creation.empty(gates, **factory))
            self.bias_hh = Parameter(creation.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, name: str, input, states: tuple, what: str) -> tuple:
        """Checks as torch's; returns (batched, input, states) with a batch dimension."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for i, s in enumerate(states):
            if s is not None and s.dim() not in (1, 2):
                label = what if len(states) == 1 else f"{what}[{i}]"
                raise ValueError(f"{name}: Expected {label} to be 1D or 2D, got {s.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if states[0] is None:
            zeros = creation.zeros(
                input.size(0), self.hidden_size, dtype=input.dtype, device=input.device
            )
            states = (zeros,) * len(states)
        elif not batched:
            states = tuple(s.unsqueeze(0) for s in states)
        if input.size(1) != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.size(1)} expected {self.input_size}"
            )
        for i, s in enumerate(states):
            if s.size(0) != input.size(0):
                raise RuntimeError(
                    f"Input batch size {input.size(0)} doesn't match hidden{i} batch size "
                    f"{s.size(0)}"
                )
            if s.size(1) != self.hidden_size:
                raise RuntimeError(
                    f"hidden{i} has inconsistent hidden_size: got {s.size(1)}, "
                    f"expected {self.hidden_size}"
                )
        return batched, input, states

    def _gates(self, input, hx):
        """``(x W_ih^T + b_ih, h W_hh^T + b_hh)``."""
        return F.linear(input, self.weight_ih, self.bias_ih), F.linear(
            hx, self.weight_hh, self.bias_hh
        )


class RNNCell(RNNCellBase):
    """One step of an Elman RNN."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        batched, input, (hx,) = self._prepare("RNNCell", input, (hx,), "hidden")
        gx, gh = self._gates(input, hx)
        if self.nonlinearity == "tanh":
            out = (gh + gx).tanh()
        elif self.nonlinearity == "relu":
            out = F.relu(gh + gx)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One step of an LSTM; returns ``(h, c)``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None) -> tuple:
        states = (None, None) if hx is None else tuple(hx)
        batched, input, (h, c) = self._prepare("LSTMCell", input, states, "hx")
        gx, gh = self._gates(input, h)
        i, f, g, o = (gh + gx).chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One step of a GRU."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        batched, input, (hx,) = self._prepare("GRUCell", input, (hx,), "hidden")
        gx, gh = self._gates(input, hx)
        xr, xz, xn = gx.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r = (hr + xr).sigmoid()
        z = (hz + xz).sigmoid()
        n = (xn + hn * r).tanh()
        out = (hx - n) * z + n
        return out if batched else out.squeeze(0)
