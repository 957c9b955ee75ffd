"""models.resnet18 against a torch reference ResNet built here with torchvision's module names
(torchvision itself is not a dependency): structure, numerics, fine-tuning, weights."""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import socket
import threading

import numpy as np
import pytest
import torch
import torch.nn as tnn
from conftest import normalize

import models
import tape
from tape import nn, optim


# --- the reference: torchvision's ResNet, written out -----------------------------------------
class RefBasicBlock(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


RefBasicBlock.__name__ = "BasicBlock"


class RefResNet(tnn.Module):
    def __init__(self, layers=(2, 2, 2, 2), num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = tnn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, tnn.Conv2d):
                tnn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, tnn.BatchNorm2d):
                tnn.init.constant_(m.weight, 1)
                tnn.init.constant_(m.bias, 0)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = tnn.Sequential(
                tnn.Conv2d(self.inplanes, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes)
            )
        layers = [RefBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [RefBasicBlock(planes, planes) for _ in range(1, blocks)]
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


RefResNet.__name__ = "ResNet"


def to_torch_state(sd):
    return {k: torch.from_numpy(np.array(v.numpy())) for k, v in sd.items()}


def to_tape_state(sd):
    return {k: tape.tensor(v.numpy()) for k, v in sd.items()}


def close(a, b, rtol=2e-4, atol=2e-5, what=""):
    a = a.detach().numpy() if isinstance(a, tape.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    scale = max(float(np.abs(b).max()), 1e-6)
    err = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
    assert err <= atol + rtol * scale, f"{what}: max abs error {err} (scale {scale})"


@pytest.fixture(scope="module")
def pair():
    tape.manual_seed(0)
    model = models.resnet18()
    ref = RefResNet()
    ref.load_state_dict(to_torch_state(model.state_dict()))
    return model, ref


# --- structure ----------------------------------------------------------------------------------
def test_structure_matches_torchvision(pair):
    model, ref = pair
    assert normalize(repr(model)) == normalize(repr(ref))
    assert sum(p.numel() for p in model.parameters()) == 11689512
    keys = list(model.state_dict())
    assert len(keys) == 122
    assert keys == list(ref.state_dict())
    for (k, v), (k2, v2) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert tuple(v.shape) == tuple(v2.shape), k
        assert str(v.dtype).replace("tape", "torch") == str(v2.dtype), k
    assert tuple(model.conv1.weight.shape) == (64, 3, 7, 7)
    assert [n for n, _ in model.named_children()] == [n for n, _ in ref.named_children()]
    assert isinstance(model.layer1[0], models.BasicBlock)
    assert isinstance(model.fc, nn.Linear)


def test_init_equals_torchvision_under_the_same_seed():
    tape.manual_seed(3)
    model = models.resnet18(num_classes=10)
    torch.manual_seed(3)
    ref = RefResNet(num_classes=10)
    for (k, v), v2 in zip(model.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_array_equal(v.numpy(), v2.numpy(), err_msg=k)
    zero = models.resnet18(zero_init_residual=True)
    assert float(zero.layer1[0].bn2.weight.detach().abs().sum()) == 0.0
    assert float(zero.layer1[0].bn1.weight.detach().sum()) == 64.0


# --- numerics -----------------------------------------------------------------------------------
def _blocks(m):
    return [m.layer1, m.layer2, m.layer3, m.layer4]


def test_train_and_eval_match_torch(pair):
    """Train mode: outputs and running stats of the whole model over two steps (the second runs
    the compiled whole-graph backward); every parameter's gradient block by block, each tape
    block fed torch's input and torch's output cotangent (train-mode BatchNorm at B=2 makes the
    end-to-end gradient ill-conditioned: a 1e-5 change in an activation moves some gradients by
    1%, in torch as much as here). Eval mode: end-to-end gradients."""
    model, ref = pair
    model.load_state_dict(to_tape_state(ref.state_dict()))
    model.train()
    ref.train()
    rng = np.random.default_rng(0)
    seen = {}

    def keep(name):
        def hook(mod, inputs, output):
            output.retain_grad()
            seen[name] = (inputs[0], output)

        return hook

    handles = [ref.maxpool.register_forward_hook(keep("stem"))]
    for li, layer in enumerate(_blocks(ref)):
        for bi, blk in enumerate(layer):
            handles.append(blk.register_forward_hook(keep((li, bi))))
    for step in range(2):
        x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
        xt = tape.tensor(x, requires_grad=True)
        xr = torch.tensor(x, requires_grad=True)
        out, want = model(xt), ref(xr)
        close(out, want, what=f"step {step} output")
        w = rng.standard_normal((2, 1000)).astype(np.float32)
        (out * tape.tensor(w)).sum().backward()
        (want * torch.tensor(w)).sum().backward()
        buffers = dict(ref.named_buffers())
        for name, b in model.named_buffers():
            if name.endswith("num_batches_tracked"):
                assert int(b.item()) == int(buffers[name].item()) == step + 1, name
                assert b.dtype == tape.int64
            else:
                close(b, buffers[name], what=name)
        assert all(p.grad is not None for p in model.parameters())
        model.zero_grad()
        if step == 0:
            ref.zero_grad()
    for h in handles:
        h.remove()
    # Teacher-forced gradients (the last step's torch values); these calls update running stats
    # again, which the checks above no longer need.
    params = dict(ref.named_parameters())
    state = {k: v.clone() for k, v in model.state_dict().items()}
    pieces = [("stem", model, ("conv1.", "bn1."), xr, seen["stem"][1])]
    for li, layer in enumerate(_blocks(model)):
        for bi, blk in enumerate(layer):
            inp, outp = seen[(li, bi)]
            pieces.append(((li, bi), blk, (f"layer{li + 1}.{bi}.",), inp, outp))
    for name, mod, prefixes, inp, outp in pieces:
        model.zero_grad()
        xt = tape.tensor(inp.detach().numpy(), requires_grad=True)
        y = model._stem(model, xt) if name == "stem" else mod(xt)
        close(y, outp, what=f"{name} output")
        (y * tape.tensor(outp.grad.numpy())).sum().backward()
        if inp.grad is not None:
            close(xt.grad, inp.grad, rtol=1e-4, what=f"{name} input grad")
        for pname, p in model.named_parameters():
            if pname.startswith(prefixes):
                close(p.grad, params[pname].grad, rtol=1e-4, atol=1e-5, what=f"grad {pname}")
    model.zero_grad()
    ref.zero_grad()
    model.load_state_dict(state)
    # Eval: end-to-end input and parameter gradients.
    model.eval()
    ref.eval()
    for _ in range(1):
        x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
        with torch.no_grad():
            want = ref(torch.tensor(x))
        with tape.no_grad():
            close(model(tape.tensor(x)), want, what="eval output")
        xt = tape.tensor(x, requires_grad=True)
        xr = torch.tensor(x, requires_grad=True)
        w = rng.standard_normal((2, 1000)).astype(np.float32)
        (model(xt) * tape.tensor(w)).sum().backward()
        (ref(xr) * torch.tensor(w)).sum().backward()
        close(xt.grad, xr.grad, rtol=1e-4, what="eval input grad")
        for pname, p in model.named_parameters():
            close(p.grad, params[pname].grad, rtol=1e-4, atol=1e-5, what=f"eval grad {pname}")
        model.zero_grad()
        ref.zero_grad()
    model.train()
    ref.train()


def test_few_nodes_per_forward(pair):
    model, _ = pair
    out = model(tape.randn(2, 3, 64, 64))
    names, seen, stack = [], set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node).__name__ != "AccumulateGrad":
            names.append(type(node).__name__)
        stack.extend(n for n, _ in node.next_functions)
    assert names.count("BasicBlockBackward0") == 8
    assert names.count("ResNetStemBackward0") == 1
    assert len(names) <= 14, names


def test_state_dict_round_trips_through_files(pair, tmp_path):
    model, ref = pair
    tape.save(model.state_dict(), tmp_path / "tape.pth")
    loaded = torch.load(tmp_path / "tape.pth", weights_only=True)
    assert list(loaded) == list(ref.state_dict())
    ref2 = RefResNet()
    ref2.load_state_dict(loaded)
    torch.save(ref2.state_dict(), tmp_path / "torch.pth")
    model.load_state_dict(tape.load(tmp_path / "torch.pth"))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), loaded[k].numpy(), err_msg=k)


# --- fine-tuning (seed 002) ---------------------------------------------------------------------
def test_finetune_only_fc_learns():
    tape.manual_seed(0)
    model = models.resnet18()
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(512, 10)
    assert tuple(model.fc.weight.shape) == (10, 512)
    opt = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(2):
        out = model(tape.rand(1, 3, 64, 64))
        assert tuple(out.shape) == (1, 10)
        # Frozen Flax stages record no node at all: only avgpool/flatten/fc are on the tape.
        assert type(out.grad_fn).__name__ == "AddmmBackward0"
        opt.zero_grad()
        (out - tape.rand(1, 10)).sum().backward()
        opt.step()
    trainable = {n for n, p in model.named_parameters() if p.grad is not None}
    assert trainable == {"fc.weight", "fc.bias"}
    after = model.state_dict()
    for k, v in before.items():
        if k.startswith("fc."):
            assert not np.array_equal(v.numpy(), after[k].numpy()), k
        elif "running" not in k and "num_batches" not in k:
            np.testing.assert_array_equal(v.numpy(), after[k].numpy(), err_msg=k)


# --- weights ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A resnet18 checkpoint written by torch.save, its bytes, and the reference it came from."""
    torch.manual_seed(1)
    ref = RefResNet()
    with torch.no_grad():  # non-trivial running stats
        for m in ref.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    path = tmp_path_factory.mktemp("ckpt") / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    return path, path.read_bytes(), ref


def _check_weights(model, ref):
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k].numpy(), v.numpy(), err_msg=k)


def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    for var in ("TAPE_RESNET18_URL", "TAPE_WEIGHTS_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    d = tmp_path / "th" / "hub" / "checkpoints"
    d.mkdir(parents=True)
    return d


def test_pretrained_from_torch_home(checkpoint, tmp_path, monkeypatch):
    path, data, ref = checkpoint
    d = _cache(tmp_path, monkeypatch)
    (d / "resnet18-f37072fd.pth").write_bytes(data)
    for kwargs in (
        {"pretrained": True},
        {"weights": "IMAGENET1K_V1"},
        {"weights": models.ResNet18_Weights.IMAGENET1K_V1},
        {"weights": models.ResNet18_Weights.DEFAULT},
        {"weights": str(path)},
    ):
        _check_weights(models.resnet18(**kwargs), ref)
    assert models.ResNet18_Weights.IMAGENET1K_V1.url == (
        "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    )


def test_torch_home_defaults_to_xdg_cache(checkpoint, tmp_path, monkeypatch):
    _, data, ref = checkpoint
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    d = tmp_path / "xdg" / "torch" / "hub" / "checkpoints"
    d.mkdir(parents=True)
    (d / "resnet18-f37072fd.pth").write_bytes(data)
    _check_weights(models.resnet18(pretrained=True), ref)


@contextlib.contextmanager
def serve(files: dict[str, bytes], lie_length: bool = False):
    """An HTTP server on 127.0.0.1 serving ``files`` (path -> bytes)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + (1000 if lie_length else 0)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_checks_hash_and_is_atomic(checkpoint, tmp_path, monkeypatch, capsys):
    import hashlib

    _, data, ref = checkpoint
    d = _cache(tmp_path, monkeypatch)
    prefix = hashlib.sha256(data).hexdigest()[:8]
    good, bad = f"/resnet18-{prefix}.pth", "/resnet18-deadbeef.pth"
    with serve({good: data, bad: data, "/resnet18-f37072fd.pth": data}) as base:
        # A wrong hash is rejected and leaves nothing behind.
        monkeypatch.setenv("TAPE_RESNET18_URL", base + bad)
        with pytest.raises(RuntimeError, match="invalid hash value"):
            models.resnet18(pretrained=True)
        assert os.listdir(d) == []
        # So is the generic base URL (this file's hash is not f37072fd).
        monkeypatch.delenv("TAPE_RESNET18_URL")
        monkeypatch.setenv("TAPE_WEIGHTS_BASE_URL", base)
        with pytest.raises(RuntimeError, match="resnet18-f37072fd.pth"):
            models.resnet18(pretrained=True)
        assert os.listdir(d) == []
        monkeypatch.delenv("TAPE_WEIGHTS_BASE_URL")
        # The right hash downloads, with a progress bar, into the cache.
        monkeypatch.setenv("TAPE_RESNET18_URL", base + good)
        model = models.resnet18(pretrained=True)
        assert "Downloading" in capsys.readouterr().err
        assert os.listdir(d) == [good[1:]]
        _check_weights(model, ref)
    # Cached now: no server needed.
    _check_weights(models.resnet18(pretrained=True, progress=False), ref)


def test_truncated_download_leaves_no_file(checkpoint, tmp_path, monkeypatch):
    _, data, _ = checkpoint
    d = _cache(tmp_path, monkeypatch)
    with serve({"/resnet18-f37072fd.pth": data[:1000]}, lie_length=True) as base:
        monkeypatch.setenv("TAPE_RESNET18_URL", base + "/resnet18-f37072fd.pth")
        with pytest.raises(RuntimeError):
            models.resnet18(pretrained=True, progress=False)
    assert os.listdir(d) == []


def test_missing_weights_say_where_to_put_them(tmp_path, monkeypatch):
    d = _cache(tmp_path, monkeypatch)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("TAPE_RESNET18_URL", f"http://127.0.0.1:{port}/resnet18-f37072fd.pth")
    with pytest.raises(RuntimeError) as info:
        models.resnet18(pretrained=True)
    assert str(d / "resnet18-f37072fd.pth") in str(info.value)
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in str(info.value)
    assert os.listdir(d) == []


def test_corrupt_checkpoint_changes_nothing(checkpoint, tmp_path, monkeypatch, pair):
    _, data, _ = checkpoint
    d = _cache(tmp_path, monkeypatch)
    (d / "resnet18-f37072fd.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="truncated or corrupt"):
        models.resnet18(pretrained=True)
    model, _ = pair
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="truncated or corrupt"):
        model.load_state_dict(models.weights.load_file(str(d / "resnet18-f37072fd.pth")))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy(), err_msg=k)


# --- seed 000, with the imports changed ---------------------------------------------------------
SEED_000 = """
model = models.resnet18(pretrained=True)
data = torch.rand(1, 3, 64, 64)
labels = torch.rand(1, 1000)
prediction = model(data) # forward pass
loss = (prediction - labels).sum()
loss.backward() # backward pass
optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
optim.step() #gradient descent
"""


def test_seed_000_matches_torch(checkpoint, tmp_path, monkeypatch):
    path, data, _ = checkpoint
    d = _cache(tmp_path, monkeypatch)
    (d / "resnet18-f37072fd.pth").write_bytes(data)

    class RefModels:  # torchvision.models stand-in for the torch run
        @staticmethod
        def resnet18(pretrained=False):
            m = RefResNet()
            m.load_state_dict(torch.load(d / "resnet18-f37072fd.pth", weights_only=True))
            return m

    results = {}
    for name, lib, zoo in (("tape", tape, models), ("torch", torch, RefModels)):
        lib.manual_seed(0)
        env = {"torch": lib, "models": zoo}
        exec(SEED_000, env)
        results[name] = env
    got, want = results["tape"], results["torch"]
    close(got["data"], want["data"], rtol=0, atol=0, what="data")
    close(got["prediction"], want["prediction"], what="prediction")
    close(got["loss"], want["loss"], rtol=1e-4, what="loss")
    params = dict(want["model"].named_parameters())
    for name, p in got["model"].named_parameters():
        close(p, params[name], rtol=1e-4, atol=1e-5, what=f"stepped {name}")
    buffers = dict(want["model"].named_buffers())
    for name, b in got["model"].named_buffers():
        close(b, buffers[name], what=name)
    assert io  # keep the import list honest
