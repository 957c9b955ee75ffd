"""tape.nn.FlaxModule: a Flax linen module as a tape nn.Module, checked against torch."""

from __future__ import annotations

import flax.linen as fnn
import jax
import numpy as np
import pytest
import torch

import tape
from tape import nn
from tape._dispatch import _make_vjp


class Net(fnn.Module):
    @fnn.compact
    def __call__(self, x, train: bool = True):
        x = fnn.Conv(8, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))(x)
        x = fnn.BatchNorm(
            use_running_average=not train, momentum=0.9, epsilon=1e-5, use_fast_variance=False
        )(x)
        x = fnn.relu(x)
        x = fnn.Conv(4, (3, 3), padding=((1, 1), (1, 1)), use_bias=False)(x)
        x = x.mean(axis=(1, 2))
        return fnn.Dense(5)(x)


NAMES = {"Conv_0": "conv1", "BatchNorm_0": "bn1", "Conv_1": "conv2", "Dense_0": "fc"}


class Ref(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, 2, 1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 4, 3, 1, 1, bias=False)
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, x):
        x = self.conv2(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


def make():
    model = nn.FlaxModule(Net(), tape.zeros(1, 3, 8, 8), names=NAMES, seed=0)
    ref = Ref()
    ref.load_state_dict(
        {k: torch.from_numpy(np.array(v.numpy())) for k, v in model.state_dict().items()}
    )
    return model, ref


def test_names_shapes_and_order():
    model, ref = make()
    assert list(model.state_dict()) == list(ref.state_dict())
    for k, v in ref.state_dict().items():
        assert tuple(model.state_dict()[k].shape) == tuple(v.shape), k
    assert model.state_dict()["bn1.num_batches_tracked"].dtype == tape.int64
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert isinstance(model.conv1.weight, nn.Parameter)
    assert "(conv1): Conv()" in repr(model)


def test_leaf_level_and_default_names():
    leaf = nn.FlaxModule(Net(), tape.zeros(1, 3, 8, 8), names={"Conv_0/kernel": "stem.weight"})
    keys = list(leaf.state_dict())
    assert keys[0] == "stem.weight"
    assert "Conv_0.bias" in keys and "BatchNorm_0.running_var" in keys
    assert tuple(leaf.stem.weight.shape) == (8, 3, 3, 3)  # OIHW
    assert tuple(leaf.Dense_0.weight.shape) == (5, 4)  # (out, in)


def test_train_eval_grads_and_running_stats_match_torch():
    model, ref = make()
    rng = np.random.default_rng(0)
    for step in range(3):  # the later steps run deferred/compiled paths
        x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
        w = rng.standard_normal((4, 5)).astype(np.float32)
        xt, xr = tape.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, want = model(xt), ref(xr)
        assert type(out.grad_fn).__name__ == "NetBackward0"
        np.testing.assert_allclose(
            out.detach().numpy(), want.detach().numpy(), rtol=1e-4, atol=1e-5
        )
        (out * tape.tensor(w)).sum().backward()
        (want * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-4, atol=1e-5)
        params = dict(ref.named_parameters())
        for name, p in model.named_parameters():
            np.testing.assert_allclose(
                p.grad.numpy(), params[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name
            )
        buffers = dict(ref.named_buffers())
        for name, b in model.named_buffers():
            np.testing.assert_allclose(
                b.numpy(), buffers[name].numpy(), rtol=1e-5, atol=1e-6, err_msg=name
            )
        assert int(model.bn1.num_batches_tracked.item()) == step + 1
        model.zero_grad()
        ref.zero_grad()
    model.eval()
    ref.eval()
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(
        model(tape.tensor(x)).detach().numpy(),
        ref(torch.tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    assert int(model.bn1.num_batches_tracked.item()) == 3  # eval leaves the stats alone


def _vjp_jaxpr(out):
    node = out.grad_fn
    diff = tuple(i for i, (n, _) in enumerate(node.edges) if n is not None)
    arrays = tuple(x._storage.array if isinstance(x, tape.Tensor) else x for x in node.inputs)
    cts = tuple(np.ones(m.shape, m.dtype) for m in node.out_meta)
    form = node.form
    cts = cts[0] if form.float_outs is None else tuple(cts[i] for i in form.float_outs)
    bwd = _make_vjp(form.pure(), diff, form.float_outs)
    return str(jax.make_jaxpr(bwd)(arrays, cts)), diff


def test_frozen_parameters_get_no_gradient_computation():
    model, _ = make()
    model.eval()
    x = tape.randn(2, 3, 8, 8, requires_grad=True)
    full, diff_full = _vjp_jaxpr(model(x))
    for p in model.parameters():
        p.requires_grad = False
    frozen, diff_frozen = _vjp_jaxpr(model(x))
    assert diff_full == tuple(range(len(diff_full))) and diff_frozen == (0,)
    # Forward (2 convs) + input gradients (2) vs. + weight gradients (2 more).
    assert full.count("conv_general_dilated") == 6
    assert frozen.count("conv_general_dilated") == 4
    out = model(x)
    out.sum().backward()
    assert all(p.grad is None for p in model.parameters())
    assert x.grad is not None
    # Nothing requires grad: no node is recorded at all.
    assert model(tape.randn(2, 3, 8, 8)).grad_fn is None


def test_replaced_child_and_state_dict_round_trip():
    model, ref = make()
    ref2 = Ref()
    model.load_state_dict({k: tape.tensor(v.numpy()) for k, v in ref2.state_dict().items()})
    model.eval()
    ref2.eval()
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(
        model(tape.tensor(x)).detach().numpy(),
        ref2(torch.tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict({**model.state_dict(), "fc.weight": tape.zeros(3, 3)})
