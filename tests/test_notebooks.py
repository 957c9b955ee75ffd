"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, offline.

The ResNet-18 notebooks call ``models.resnet18(pretrained=True)``. The test writes a checkpoint
made by ``models.resnet18()`` (tape.save of its state dict) to a temporary TORCH_HOME, at the
path torchvision's cache uses, so no download is attempted.
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHECKPOINT = "resnet18-f37072fd.pth"


def _uses_resnet(path: pathlib.Path) -> bool:
    return "resnet18(pretrained=True)" in path.read_text()


@pytest.fixture(scope="module")
def jax_cache(tmp_path_factory):
    """One persistent XLA cache for all kernels: the second ResNet notebook reuses the first's
    compiled programs."""
    return tmp_path_factory.mktemp("jax_cache")


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory):
    """A TORCH_HOME holding a generated resnet18 checkpoint, or None if models is not usable."""
    try:
        import models
        import tape
    except Exception as e:  # noqa: BLE001
        return f"models is not importable: {type(e).__name__}: {e}"
    if not hasattr(models, "resnet18"):
        return "models.resnet18 does not exist yet"
    home = tmp_path_factory.mktemp("torch_home")
    ckpt = home / "hub" / "checkpoints" / CHECKPOINT
    ckpt.parent.mkdir(parents=True)
    tape.manual_seed(0)
    tape.save(models.resnet18().state_dict(), ckpt)
    return home


def test_there_is_a_notebook_per_seed_and_a_training_one():
    names = [p.name for p in NOTEBOOKS]
    for prefix in ("00_", "01_", "02_", "03_", "04_"):
        assert any(n.startswith(prefix) for n in names), names


def test_notebooks_match_their_build_script():
    """The committed notebooks are what notebooks/build.py writes (no stale outputs)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_notebooks_build", ROOT / "notebooks/build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert sorted(build.NOTEBOOKS) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        committed = nbformat.read(path, as_version=4)
        assert committed == build.build(path.name), f"rerun: python notebooks/build.py ({path})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, torch_home, jax_cache, monkeypatch):
    if _uses_resnet(path) and not isinstance(torch_home, pathlib.Path):
        pytest.skip(f"needs models.resnet18 for the pretrained checkpoint: {torch_home}")
    if isinstance(torch_home, pathlib.Path):
        monkeypatch.setenv("TORCH_HOME", str(torch_home))
    # Point any weight URL at nothing reachable: a missing checkpoint must fail, not download.
    monkeypatch.setenv("TAPE_WEIGHTS_BASE_URL", "file:///nonexistent")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(jax_cache))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()

    outputs = "\n".join(
        o.get("text", "") + o.get("evalue", "") + "".join(map(str, o.get("data", {}).values()))
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )
    errors = [
        o["ename"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    tagged = sum("raises-exception" in c.metadata.get("tags", []) for c in nb.cells)
    assert errors == ["RuntimeError"] * tagged

    if "draw_graph" in path.read_text():
        assert "<svg" in outputs and "Backward0" in outputs
    if path.name.startswith("00_") or path.name.startswith("02_"):
        assert "tensor([True, True])" in outputs
    if path.name.startswith("02_"):
        assert "11689512" in outputs
        assert "(tensor([36., 81.]), tensor([-12.,  -8.]))" in outputs
        assert "Trying to backward through the graph a second time" in outputs
    if path.name.startswith("03_"):
        assert "First call\ntensor([[4., 2., 2., 2., 2.]," in outputs
        assert "<BinaryCrossEntropyWithLogitsBackward0 object at 0x" in outputs
    if path.name.startswith("01_"):
        assert "tensor(True)" in outputs
    if path.name.startswith("04_"):
        accuracy = [line for line in outputs.splitlines() if line.startswith("test accuracy:")]
        assert accuracy and float(accuracy[0].split()[-1].rstrip("%")) >= 95.0
        mimes = {m for c in nb.cells for o in c.get("outputs", []) for m in o.get("data", {})}
        assert {"image/png", "image/svg+xml"} <= mimes


def test_kernel_is_this_interpreter():
    """nbclient's python3 kernel must be this venv's Python, or the notebooks miss tape."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    exe = spec.argv[0]
    assert exe in ("python", "python3", "{python}", sys.executable) or os.path.samefile(
        exe, sys.executable
    )
