"""The CUDA path, against torch on the same GPU: where tensors live, their values and gradients,
and a ResNet18 training step, eager and under ``tape.compile``. Skipped without a GPU (CI has
none); run on the device machine."""

import numpy as np
import pytest
import torch
from conftest import assert_same

import tape

pytestmark = pytest.mark.skipif(
    not (tape.cuda.is_available() and torch.cuda.is_available()),
    reason="needs a GPU visible to both JAX and torch",
)

# Each expression runs under both libraries; `x` is a 3x4 float32 input on the GPU.
CASES = [
    "lib.ones(2, device='cuda')",
    "lib.zeros(2, 3).cuda() + 1",
    "x * 2 + x.exp()",
    "x @ x.T",
    "x.sum(1)",
    "x.relu().max(0).values",
    "x.to('cpu')",
    "x.to('cuda:0', lib.float64)",
    "x[1:, ::2]",
    "lib.cat([x, x], 1)",
]


def _x(lib, requires_grad=False):
    x = lib.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    return x.to("cuda").requires_grad_(requires_grad)


@pytest.mark.parametrize("expr", CASES)
def test_values_and_devices_match_torch(expr):
    got = eval(expr, {"lib": tape, "x": _x(tape)})
    want = eval(expr, {"lib": torch, "x": _x(torch)})
    assert str(got.device) == str(want.device)
    assert got.is_cuda == want.is_cuda
    assert_same(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("expr", CASES[2:])  # the cases that read x
def test_gradients_stay_on_the_gpu(expr):
    grads = {}
    for name, lib in (("tape", tape), ("torch", torch)):
        x = _x(lib, requires_grad=True)
        out = eval(expr, {"lib": lib, "x": x})
        out.float().sum().backward()
        grads[name] = x.grad
    assert str(grads["tape"].device) == str(grads["torch"].device) == "cuda:0"
    assert_same(grads["tape"], grads["torch"], rtol=1e-4, atol=1e-5)


def test_cuda_queries_match_torch():
    assert tape.cuda.device_count() == torch.cuda.device_count()
    assert str(tape.ones(1).cuda().device) == "cuda:0"
    tape.cuda.synchronize()


def _resnet_steps(lib, model, compiled):
    """Two SGD steps on the GPU; the losses and the model, whose ``.grad`` are the second's."""
    model = model.cuda().double()
    opt = lib.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    g = np.random.default_rng(0)
    data = lib.tensor(g.random((8, 3, 64, 64))).cuda()
    labels = lib.tensor(g.random((8, 1000))).cuda()

    def train():
        opt.zero_grad()
        loss = (model(data) - labels).square().mean()
        loss.backward()
        opt.step()
        return loss

    step = lib.compile(train) if compiled else train
    return [step().item() for _ in range(2)], model


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_resnet18_training_matches_torch_on_the_gpu(compiled):
    """In float64: train-mode BatchNorm at this batch makes the gradients so ill-conditioned that
    float32 rounding (TF32's all the more) moves them by percents, in torch as much as here."""
    from test_models import RefResNet

    import models

    tape.manual_seed(0)
    torch.manual_seed(0)
    got_losses, got = _resnet_steps(tape, models.resnet18(), compiled)
    want_losses, want = _resnet_steps(torch, RefResNet(), False)
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-10)
    want_params = dict(want.named_parameters())
    for name, p in got.named_parameters():
        assert str(p.device) == str(p.grad.device) == "cuda:0", name
        assert_same(p, want_params[name], rtol=1e-9, atol=1e-12)
        assert_same(p.grad, want_params[name].grad, rtol=1e-7, atol=1e-10)
    want_buffers = dict(want.named_buffers())
    for name, b in got.named_buffers():
        assert str(b.device) == "cuda:0", name
        assert_same(b, want_buffers[name], rtol=1e-9, atol=1e-12)
