"""tape.save / tape.load: round trips, torch interop both ways, atomic writes, hostile files."""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import tape


def _nested(lib):
    return collections.OrderedDict(
        w=lib.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 7),
        d=lib.tensor(np.linspace(-1, 1, 5)),  # float64
        i=lib.tensor([1, -2, 3]),
        b=lib.tensor([True, False]),
        h=lib.tensor([1.5, -2.25], dtype=lib.float16),
        bf=lib.tensor([1.5, -2.25], dtype=lib.bfloat16),
        u8=lib.tensor([0, 255], dtype=lib.uint8),
        scalar=lib.tensor(3.5),
        empty=lib.zeros(0, 3),
        g=lib.ones(2, requires_grad=True),
        meta={"epoch": 3, "lr": 0.1, "name": "run", "flags": [True, None], "t": (1, 2.5)},
        nested=[{"x": lib.ones(2)}, (lib.zeros(1), "s")],
    )


def _same(a, b):
    """Structural equality of a tape object with a tape or torch object."""
    if isinstance(b, (tape.Tensor, torch.Tensor)):
        assert isinstance(a, (tape.Tensor, torch.Tensor)), (a, b)
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        assert a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(
            np.asarray(a.detach().float().numpy()), np.asarray(b.detach().float().numpy())
        )
    elif isinstance(b, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in b:
            _same(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b and type(a) is type(b)


def test_round_trip(tmp_path):
    obj = _nested(tape)
    path = tmp_path / "ckpt.pth"
    tape.save(obj, path)
    _same(tape.load(path), obj)
    buf = io.BytesIO()
    tape.save(obj, buf)
    buf.seek(0)
    _same(tape.load(buf), obj)


def test_torch_reads_tape_file(tmp_path):
    path = tmp_path / "t.pth"
    tape.save(_nested(tape), str(path))
    _same(torch.load(path, weights_only=True), _nested(torch))


def test_tape_reads_torch_file(tmp_path):
    path = tmp_path / "t.pth"
    obj = _nested(torch)
    obj["view"] = torch.arange(10.0)[2:9:3]  # a strided view into a larger storage
    obj["param"] = torch.nn.Parameter(torch.ones(2))
    obj["sd"] = torch.nn.Linear(2, 3).state_dict()  # OrderedDict with _metadata
    torch.save(obj, path)
    got = tape.load(path)
    ref = _nested(torch)
    ref["view"] = torch.tensor([2.0, 5.0, 8.0])
    ref["param"] = torch.ones(2, requires_grad=True)
    ref["sd"] = obj["sd"]
    _same(got, ref)
    assert got["sd"]._metadata == obj["sd"]._metadata


def test_shared_storage_saved_once(tmp_path):
    a = tape.randn(1000)
    path = tmp_path / "s.pth"
    tape.save({"a": a, "b": a.detach(), "c": a}, path)
    with zipfile.ZipFile(path) as zf:
        assert len([n for n in zf.namelist() if "/data/" in n]) == 1
    out = tape.load(path)
    assert out["a"] is out["c"]
    np.testing.assert_array_equal(out["b"].numpy(), a.numpy())


def test_optimizer_state_dict_round_trip(tmp_path):
    w = tape.randn(4, 3, requires_grad=True)
    opt = tape.optim.Adam([w], lr=0.1, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    path = tmp_path / "opt.pth"
    tape.save(opt.state_dict(), path)
    sd = tape.load(path)
    w2 = tape.tensor(w.detach().numpy(), requires_grad=True)
    opt2 = tape.optim.Adam([w2], lr=0.5)
    opt2.load_state_dict(sd)
    for o, p in ((opt, w), (opt2, w2)):
        o.zero_grad()
        (p * p).sum().backward()
        o.step()
    np.testing.assert_array_equal(w.detach().numpy(), w2.detach().numpy())
    # and torch reads it as an optimizer state dict
    tsd = torch.load(path, weights_only=True)
    assert tsd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(tsd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}


def test_failed_write_keeps_old_file(tmp_path):
    path = tmp_path / "ckpt.pth"
    tape.save({"a": tape.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="cannot save an object of type"):
        tape.save({"a": tape.zeros(3), "f": lambda: 0}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pth"]  # no temporary left behind


def _zip_with_pickle(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/byteorder", "little")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    _zip_with_pickle(path, pickle.dumps({"w": _Evil(marker)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        tape.load(path)
    assert not marker.exists()
    # torch agrees that it is unsafe
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert not marker.exists()


def test_hostile_build_and_geometry_are_refused(tmp_path):
    path = tmp_path / "a.pth"
    # BUILD on something other than an OrderedDict
    payload = b"\x80\x02ccollections\nCounter\n)R}X\x01\x00\x00\x00xK\x01sb."
    _zip_with_pickle(path, payload)
    with pytest.raises(pickle.UnpicklingError, match="BUILD"):
        tape.load(path)
    # a tensor view that reads past its storage
    tape.save({"t": tape.ones(4)}, path)
    with zipfile.ZipFile(path) as zf:
        data = {n: zf.read(n) for n in zf.namelist()}
    pkl = next(n for n in data if n.endswith("data.pkl"))
    data[pkl] = data[pkl].replace(b"K\x04\x85", b"K\x40\x85", 1)  # size (4,) -> (64,)
    bad = tmp_path / "b.pth"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, d in data.items():
            zf.writestr(n, d)
    with pytest.raises(pickle.UnpicklingError, match="past its storage"):
        tape.load(bad)


def test_corrupt_files_raise_clear_errors(tmp_path):
    good = tmp_path / "good.pth"
    tape.save({"w": tape.randn(64, 64)}, good)
    data = good.read_bytes()
    cases = {
        "truncated": data[: len(data) // 2],
        "garbage": b"not a checkpoint at all" * 10,
        "empty": b"",
        "legacy": pickle.dumps({"a": 1}),
    }
    for name, blob in cases.items():
        p = tmp_path / f"{name}.pth"
        p.write_bytes(blob)
        with pytest.raises(RuntimeError, match="not a checkpoint tape.load can read"):
            tape.load(p)
    # a flipped byte inside a stored record fails the zip CRC check
    flipped = bytearray(data)
    off = data.index(b"little") + 200
    flipped[off] ^= 0xFF
    p = tmp_path / "flipped.pth"
    p.write_bytes(bytes(flipped))
    with pytest.raises(RuntimeError, match="truncated or corrupt"):
        tape.load(p)
    with pytest.raises(FileNotFoundError):
        tape.load(tmp_path / "missing.pth")
