"""The training demo (the README's first command) runs for real: it reaches its stated accuracy,
saves its plot and checkpoint, and resumes from the checkpoint."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

import tape

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "train_digits.py"
STATED_ACCURACY = 0.95  # the README and the script's docstring promise >= 95% on digits


def run_demo(out: pathlib.Path, *args: str, cache: pathlib.Path) -> str:
    env = dict(os.environ)
    env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.2"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=out,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def epoch_lines(log: str) -> list[tuple[int, float, float]]:
    return [
        (int(e), float(loss), float(acc) / 100)
        for e, loss, acc in re.findall(r"epoch +(\d+)/\d+ +loss ([\d.]+) +test acc ([\d.]+)%", log)
    ]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The default settings (small CNN, 10 epochs), as the README runs them."""
    out = tmp_path_factory.mktemp("demo")
    cache = tmp_path_factory.mktemp("jax_cache")
    return out, cache, run_demo(out, cache=cache)


def test_default_run_reaches_stated_accuracy(default_run):
    out, _, log = default_run
    lines = epoch_lines(log)
    assert [e for e, _, _ in lines] == list(range(1, 11))
    assert lines[-1][2] >= STATED_ACCURACY, log
    assert lines[-1][1] < lines[0][1]  # the loss went down
    assert "it/s" in log or "s/it" in log  # the tqdm bar was shown (stderr)
    assert re.search(r"final test accuracy (\d+\.\d+)%", log)


def test_plot_and_checkpoint_saved(default_run):
    out, _, log = default_run
    png = out / "digits_cnn.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = tape.load(out / "digits_cnn.pth")
    assert ckpt["epoch"] == 10 and ckpt["model_name"] == "cnn"
    assert len(ckpt["history"]["loss"]) == len(ckpt["history"]["acc"]) == 10
    assert "features.0.weight" in ckpt["model"]
    assert ckpt["optimizer"]["state"] and ckpt["scheduler"]["last_epoch"] == 10
    assert not [p for p in os.listdir(out) if p.startswith(".tmp")]  # atomic save left nothing


def test_resume_continues_from_checkpoint(default_run, tmp_path):
    out, cache, _ = default_run
    before = tape.load(out / "digits_cnn.pth")
    log = run_demo(out, "--epochs", "11", "--resume", "--no-progress", cache=cache)
    assert "resumed from" in log and "at epoch 10" in log
    assert [e for e, _, _ in epoch_lines(log)] == [11]
    after = tape.load(out / "digits_cnn.pth")
    assert after["epoch"] == 11
    assert after["history"]["acc"][:10] == before["history"]["acc"]
    assert after["history"]["acc"][-1] >= STATED_ACCURACY


def test_compiled_steps_train_the_same(default_run, tmp_path):
    """--compile runs each step as one captured XLA program: the same losses and accuracies
    as eager steps (to float tolerance), with no fallback warning."""
    _, cache, _ = default_run
    (tmp_path / "e").mkdir()
    (tmp_path / "c").mkdir()
    eager = run_demo(tmp_path / "e", "--epochs", "2", "--no-progress", cache=cache)
    compiled = run_demo(tmp_path / "c", "--epochs", "2", "--no-progress", "--compile", cache=cache)
    assert "tape.compile" not in compiled  # no "runs eagerly because ..." warning
    for (e1, l1, a1), (e2, l2, a2) in zip(epoch_lines(eager), epoch_lines(compiled), strict=True):
        assert e1 == e2 and abs(l1 - l2) < 1e-3 and abs(a1 - a2) <= 1 / 360


def test_resume_without_checkpoint_fails_clearly(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--resume"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "no checkpoint" in proc.stderr


def test_flags_are_documented():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120
    )
    flags = ("--epochs", "--batch-size", "--model", "--device", "--seed", "--resume", "--out")
    for flag in (*flags, "--compile"):
        assert flag in proc.stdout


def test_resnet18_option_builds():
    """--model resnet18 is models.resnet18(num_classes=10) behind a 2x upsampling, 3-channel
    front (training it is left to the notebooks' ResNet runs: compiling it costs ~20 s)."""
    models = pytest.importorskip("models")
    if not hasattr(models, "resnet18"):
        pytest.skip("models.resnet18 does not exist yet")
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import train_digits
    finally:
        sys.path.pop(0)
    model = train_digits.build_model("resnet18")
    assert model.resnet.fc.out_features == 10
    assert sum(p.numel() for p in model.parameters()) == 11181642
    assert train_digits.parse_args(["--model", "resnet18"]).epochs == 5
