"""nn.MultiheadAttention and F.multi_head_attention_forward against torch: the same seed gives
the same weights; outputs, attention weights, their grad_fn names, and the gradients of inputs
and parameters agree, over one table of configurations and calls."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import assert_same, assert_same_error, normalize

import tape

L, S, N, E = 5, 4, 3, 8


def _data(lib, batch_first: bool, kdim: int = E, vdim: int = E):
    rng = np.random.default_rng(1)

    def make(length, dim):
        shape = (N, length, dim) if batch_first else (length, N, dim)
        return lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)

    return make(L, E), make(S, kdim), make(S, vdim)


_KPM = [[False] * S, [False, False, True, True], [False, True, False, False]]
_AM = np.random.default_rng(2).standard_normal((L, S)).astype(np.float32)


def _self(lib, m, q, k, v):
    return m(q, q, q)


def _cross(lib, m, q, k, v):
    return m(q, k, v)


def _shared_kv(lib, m, q, k, v):
    return m(q, k, k)


def _masks(lib, m, q, k, v):
    return m(q, k, v, key_padding_mask=lib.tensor(_KPM), attn_mask=lib.tensor(_AM))


def _bool_attn_mask(lib, m, q, k, v):
    mask = lib.tensor(np.triu(np.ones((L, S), bool), 1))
    return m(q, k, v, attn_mask=mask, average_attn_weights=False)


def _float_kpm(lib, m, q, k, v):
    kpm = lib.tensor(np.where(np.array(_KPM), -1e4, 0.0).astype(np.float32))
    return m(q, k, v, key_padding_mask=kpm)


def _no_weights(lib, m, q, k, v):
    return m(q, q, q, need_weights=False)


def _unbatched(lib, m, q, k, v):
    return m(q[:, 0] if not m.batch_first else q[0], k[:, 0], k[:, 0])


def _eval(lib, m, q, k, v):
    m.eval()
    return m(q, k, v)


# (name, constructor kwargs, batch_first, call)
CASES = [
    ("self", {}, False, _self),
    ("self_batch_first", {}, True, _self),
    ("cross", {}, False, _cross),
    ("shared_kv_batch_first", {}, True, _shared_kv),
    ("masks", {}, False, _masks),
    ("bool_attn_mask", {}, True, _bool_attn_mask),
    ("float_key_padding_mask", {}, False, _float_kpm),
    ("no_weights", {}, False, _no_weights),
    ("no_bias", {"bias": False}, False, _cross),
    ("kdim_vdim", {"kdim": 6, "vdim": 5}, False, _cross),
    ("bias_kv_zero_attn", {"add_bias_kv": True, "add_zero_attn": True}, False, _masks),
    ("four_heads_eval", {"num_heads": 4}, True, _eval),
    ("unbatched", {}, False, _unbatched),
]


def _run(lib, kwargs, batch_first, call):
    lib.manual_seed(0)
    kwargs = {"num_heads": 2, **kwargs}
    m = lib.nn.MultiheadAttention(E, batch_first=batch_first, **kwargs)
    q, k, v = _data(lib, batch_first, kwargs.get("kdim", E), kwargs.get("vdim", E))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, weights = call(lib, m, q, k, v)
    loss = (out * out).sum() + (0 if weights is None else weights.sum())
    loss.backward()
    params = dict(m.named_parameters())
    return m, out, weights, (q.grad, k.grad, v.grad), params


@pytest.mark.parametrize(
    ("name", "kwargs", "batch_first", "call"), CASES, ids=[c[0] for c in CASES]
)
def test_multihead_attention_matches_torch(name, kwargs, batch_first, call):
    mt, out_t, w_t, grads_t, params_t = _run(tape, kwargs, batch_first, call)
    mo, out_o, w_o, grads_o, params_o = _run(torch, kwargs, batch_first, call)
    assert normalize(repr(mt)) == normalize(repr(mo))
    assert list(params_t) == list(params_o)
    for key in params_o:  # the same seed gives the same initial weights
        assert_same(params_t[key].detach(), params_o[key].detach(), rtol=1e-6, atol=1e-7)
    assert_same(out_t, out_o)
    assert_same(w_t, w_o)
    assert type(out_t.grad_fn).__name__ == type(out_o.grad_fn).__name__
    if w_o is not None:
        assert type(w_t.grad_fn).__name__ == type(w_o.grad_fn).__name__
    assert_same(list(grads_t), list(grads_o), rtol=1e-4, atol=1e-5)
    for key in params_o:
        assert_same(params_t[key].grad, params_o[key].grad, rtol=1e-4, atol=1e-5)


ERRORS = {
    "not_divisible": lambda t: t.nn.MultiheadAttention(8, 3),
    "zero_heads": lambda t: t.nn.MultiheadAttention(8, 0),
    "query_1d": lambda t: t.nn.MultiheadAttention(8, 2)(t.ones(8), t.ones(8), t.ones(8)),
    "key_2d": lambda t: t.nn.MultiheadAttention(8, 2)(t.ones(5, 3, 8), t.ones(4, 8), t.ones(4, 8)),
    "embed_dim": lambda t: t.nn.MultiheadAttention(8, 2)(
        t.ones(5, 3, 6), t.ones(4, 3, 6), t.ones(4, 3, 6)
    ),
    "attn_mask_shape": lambda t: t.nn.MultiheadAttention(8, 2)(
        t.ones(5, 3, 8), t.ones(4, 3, 8), t.ones(4, 3, 8), attn_mask=t.zeros(4, 4)
    ),
    "int_mask": lambda t: t.nn.MultiheadAttention(8, 2)(
        t.ones(5, 3, 8), t.ones(4, 3, 8), t.ones(4, 3, 8), attn_mask=t.zeros(5, 4, dtype=t.int64)
    ),
    "kpm_shape": lambda t: t.nn.MultiheadAttention(8, 2)(
        t.ones(5, 3, 8),
        t.ones(4, 3, 8),
        t.ones(4, 3, 8),
        key_padding_mask=t.zeros(3, 5, dtype=t.bool),
    ),
    "causal_without_mask": lambda t: t.nn.MultiheadAttention(8, 2)(
        t.ones(5, 3, 8), t.ones(4, 3, 8), t.ones(4, 3, 8), is_causal=True
    ),
}


@pytest.mark.parametrize("case", ERRORS)
def test_multihead_attention_errors_match_torch(case):
    fn = ERRORS[case]
    assert_same_error(lambda: fn(tape), lambda: fn(torch))


def _train(lib, steps: int = 6) -> list[float]:
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((N, 6, E)).astype(np.float32))
    pad = np.zeros((N, 6), bool)
    pad[1, 4:] = True
    lib.manual_seed(0)
    m = lib.nn.MultiheadAttention(E, 2, batch_first=True)
    opt = lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        out, weights = m(x, x, x, key_padding_mask=lib.tensor(pad))
        loss = (out**2).mean() + weights.var()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_training_steps_match_torch():
    """Repeated steps run op by op, then as one compiled program, then replayed: same losses."""
    np.testing.assert_allclose(_train(tape), _train(torch), rtol=1e-5, atol=1e-7)


_CAUSAL = np.triu(np.full((L, L), -np.inf, np.float32), 1)
_SRC_PAD = np.zeros((N, L), bool)
_SRC_PAD[1, 3:] = True

# (name, layer kwargs, encoder kwargs, call(lib, encoder, x)); the mask given as the exact causal
# mask is detected as causal, as torch does.
ENCODER_CASES = [
    ("post_norm", {"dropout": 0.0}, {}, lambda lib, m, x: m(x)),
    ("dropout_padding", {}, {}, lambda lib, m, x: m(x, src_key_padding_mask=lib.tensor(_SRC_PAD))),
    ("causal_mask", {"dropout": 0.0}, {}, lambda lib, m, x: m(x, mask=lib.tensor(_CAUSAL))),
    (
        "pre_norm_gelu_batch_first_final_norm",
        {"norm_first": True, "activation": "gelu", "batch_first": True},
        {"final_norm": True},
        lambda lib, m, x: m(x.transpose(0, 1), src_key_padding_mask=lib.tensor(_SRC_PAD)),
    ),
    ("no_bias_eval", {"bias": False}, {}, lambda lib, m, x: m.eval()(x)),
]


def _encode(lib, layer_kwargs, encoder_kwargs, call):
    lib.manual_seed(0)
    layer = lib.nn.TransformerEncoderLayer(E, 2, 16, **layer_kwargs)
    norm = lib.nn.LayerNorm(E) if encoder_kwargs.get("final_norm") else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder = lib.nn.TransformerEncoder(layer, 2, norm=norm)
    x = lib.tensor(np.random.default_rng(3).standard_normal((L, N, E)).astype(np.float32))
    x.requires_grad_()
    out = call(lib, encoder, x)
    (out * out).sum().backward()
    params = dict(encoder.named_parameters())
    return encoder, [str(w.message) for w in caught], out, x.grad, params


@pytest.mark.parametrize(
    ("name", "layer_kwargs", "encoder_kwargs", "call"),
    ENCODER_CASES,
    ids=[c[0] for c in ENCODER_CASES],
)
def test_transformer_encoder_matches_torch(name, layer_kwargs, encoder_kwargs, call):
    mt, warned_t, out_t, grad_t, params_t = _encode(tape, layer_kwargs, encoder_kwargs, call)
    mo, warned_o, out_o, grad_o, params_o = _encode(torch, layer_kwargs, encoder_kwargs, call)
    assert normalize(repr(mt)) == normalize(repr(mo))
    assert warned_t == warned_o  # the nested-tensor notice
    assert list(params_t) == list(params_o)
    assert_same(out_t, out_o, rtol=1e-4, atol=1e-5)
    assert type(out_t.grad_fn).__name__ == type(out_o.grad_fn).__name__
    assert_same(grad_t, grad_o, rtol=1e-4, atol=1e-5)
    for key in params_o:
        assert_same(params_t[key].grad, params_o[key].grad, rtol=1e-4, atol=1e-4)


def test_encoder_layer_rejects_unknown_activation_like_torch():
    fn = lambda t: t.nn.TransformerEncoderLayer(8, 2, activation="tanh")  # noqa: E731
    assert_same_error(lambda: fn(tape), lambda: fn(torch))


_RIGHT_PADDED = _SRC_PAD
_GAP = np.zeros((N, L), bool)
_GAP[1, 1] = True  # a padded position before a valid one: torch's mask check refuses nesting


@pytest.mark.parametrize(
    ("name", "padding", "batch_first"),
    [
        ("nested", _RIGHT_PADDED, True),
        ("not_left_aligned", _GAP, True),
        ("seq_first", _RIGHT_PADDED, False),
    ],
)
def test_encoder_inference_with_padding_matches_torch(name, padding, batch_first):
    """In eval mode without grad, torch runs right-padded batches as nested tensors, which
    leaves zeros at the padded positions; elsewhere the values are computed there."""
    outs = []
    for lib in (tape, torch):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(E, 2, 16, batch_first=batch_first)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            encoder = lib.nn.TransformerEncoder(layer, 2).eval()
        x = np.random.default_rng(4).standard_normal((N, L, E) if batch_first else (L, N, E))
        with lib.no_grad(), warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # torch's notice that its nested tensors are a prototype
            outs.append(
                encoder(lib.tensor(x.astype(np.float32)), src_key_padding_mask=lib.tensor(padding))
            )
    assert_same(outs[0], outs[1], rtol=1e-4, atol=1e-5)


_TGT_CAUSAL = np.triu(np.full((S, S), -np.inf, np.float32), 1)
_TGT_PAD = np.zeros((N, S), bool)
_TGT_PAD[2, 2:] = True
_MEMORY_MASK = np.random.default_rng(5).standard_normal((S, L)).astype(np.float32)


def _src_tgt(lib, batch_first: bool = False, batched: bool = True):
    """src (L positions) and tgt (S positions) of width E, each requiring grad."""
    rng = np.random.default_rng(6)

    def make(length):
        shape = (N, length, E) if batch_first else (length, N, E)
        x = rng.standard_normal(shape if batched else (length, E)).astype(np.float32)
        return lib.tensor(x, requires_grad=True)

    return make(L), make(S)


# (name, build(lib), call(lib, model, src, tgt), data kwargs): nn.Transformer, and a
# TransformerDecoder on its own (with the src as memory). The exact causal tgt_mask is detected
# as causal, as torch does.
DECODER_CASES = [
    (
        "transformer_causal_tgt",
        lambda lib: lib.nn.Transformer(E, 2, 2, 2, 16, dropout=0.0),
        lambda lib, m, src, tgt: m(src, tgt, tgt_mask=lib.tensor(_TGT_CAUSAL)),
        {},
    ),
    (
        "transformer_dropout_padding_masks",
        lambda lib: lib.nn.Transformer(E, 2, 1, 2, 16),
        lambda lib, m, src, tgt: m(
            src,
            tgt,
            memory_mask=lib.tensor(_MEMORY_MASK),
            src_key_padding_mask=lib.tensor(_SRC_PAD),
            tgt_key_padding_mask=lib.tensor(_TGT_PAD),
            memory_key_padding_mask=lib.tensor(_SRC_PAD),
        ),
        {},
    ),
    (
        "transformer_pre_norm_gelu_batch_first",
        lambda lib: lib.nn.Transformer(
            E, 2, 1, 1, 16, 0.0, "gelu", batch_first=True, norm_first=True
        ),
        lambda lib, m, src, tgt: m(src, tgt, tgt_is_causal=True, tgt_mask=lib.tensor(_TGT_CAUSAL)),
        {"batch_first": True},
    ),
    (
        "transformer_no_bias_eval_unbatched",
        lambda lib: lib.nn.Transformer(E, 4, 1, 1, 16, bias=False),
        lambda lib, m, src, tgt: m.eval()(src, tgt),
        {"batched": False},
    ),
    (
        "decoder_with_norm",
        lambda lib: lib.nn.TransformerDecoder(
            lib.nn.TransformerDecoderLayer(E, 2, 16, dropout=0.0, activation=lib.tanh),
            3,
            norm=lib.nn.LayerNorm(E),
        ),
        lambda lib, m, src, tgt: m(tgt, src, memory_mask=lib.tensor(_MEMORY_MASK)),
        {},
    ),
]


def _decode(lib, build, call, data_kwargs):
    lib.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build(lib)
        src, tgt = _src_tgt(lib, **data_kwargs)
        out = call(lib, model, src, tgt)
    (out * out).sum().backward()
    return model, [str(w.message) for w in caught], out, src.grad, tgt.grad


@pytest.mark.parametrize(
    ("name", "build", "call", "data_kwargs"), DECODER_CASES, ids=[c[0] for c in DECODER_CASES]
)
def test_transformer_and_decoder_match_torch(name, build, call, data_kwargs):
    mt, warned_t, out_t, src_grad_t, tgt_grad_t = _decode(tape, build, call, data_kwargs)
    mo, warned_o, out_o, src_grad_o, tgt_grad_o = _decode(torch, build, call, data_kwargs)
    assert normalize(repr(mt)) == normalize(repr(mo))
    assert warned_t == warned_o  # the encoder's nested-tensor notice, the masks' mismatch
    params_t, params_o = dict(mt.named_parameters()), dict(mo.named_parameters())
    assert list(params_t) == list(params_o)
    for key in params_o:  # the same initial weights (xavier_uniform_ for nn.Transformer's)
        assert_same(params_t[key].detach(), params_o[key].detach())
    assert_same(out_t, out_o, rtol=1e-4, atol=1e-5)
    assert type(out_t.grad_fn).__name__ == type(out_o.grad_fn).__name__
    assert_same(src_grad_t, src_grad_o, rtol=1e-4, atol=1e-5)  # through the memory
    assert_same(tgt_grad_t, tgt_grad_o, rtol=1e-4, atol=1e-5)
    for key in params_o:
        assert_same(params_t[key].grad, params_o[key].grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, m: m(lib.zeros(L, 2, E), lib.zeros(S, 3, E)),  # batch sizes differ
        lambda lib, m: m(lib.zeros(L, 2, E), lib.zeros(S, 2, E + 1)),  # width is not d_model
    ],
)
def test_transformer_input_errors_match_torch(call):
    def run(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = lib.nn.Transformer(E, 2, 1, 1, 16)
        return lambda: call(lib, m)

    assert_same_error(run(tape), run(torch))


def test_generate_square_subsequent_mask_matches_torch():
    for kw in ({}, {"dtype": "float64"}):
        got = tape.nn.Transformer.generate_square_subsequent_mask(
            4, **{k: getattr(tape, v) for k, v in kw.items()}
        )
        want = torch.nn.Transformer.generate_square_subsequent_mask(
            4, **{k: getattr(torch, v) for k, v in kw.items()}
        )
        assert_same(got, want)
