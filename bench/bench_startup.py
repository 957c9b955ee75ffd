"""Time to the first ResNet18 train step in a fresh process, with a cold and a warm JAX cache.

One sample is one new ``python`` process, timed from its start to the end of its first step
(its exit, which tears down JAX, is not counted): the interpreter,
``import tape`` and ``import models``, ``models.resnet18()`` and one train step of
bench/bench_resnet.py (B=16, 3x64x64, SGD with momentum, ``loss.item()``). "cold" runs with an
empty persistent compilation cache (a fresh temporary ``TAPE_CACHE_DIR``), "warm" runs again with
the cache the cold runs filled (both JAX's compilation cache and tape's program store,
tape/_program_store.py). Children run with Python's default of writing bytecode, so warm runs
read tape's compiled modules as they would after a pip install. torch eager, when installed,
is the baseline.

    python bench/bench_startup.py [--repeats 3] [--batch 16] [--size 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The child builds the step with bench_resnet's own code, runs it once, and prints the clock.
CHILD = (
    "import sys, time; sys.path.insert(0, {root!r}); from bench.bench_resnet import {make}; "
    "{make}({batch}, {size})(); print(time.time())"
)


def first_step_s(make: str, batch: int, size: int, cache_dir: str) -> float:
    """Wall seconds from starting a fresh process to the end of its first train step."""
    env = dict(os.environ, TAPE_CACHE_DIR=cache_dir)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # it would take precedence over TAPE_CACHE_DIR
    # Python's default: the first run writes tape's bytecode and later ones read it, as after
    # a pip install. Some sandboxes turn it off, and compiling tape's source then costs ~0.2 s.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    code = CHILD.format(root=ROOT, make=make, batch=batch, size=size)
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return float(done.stdout.split()[-1]) - start


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args([] if argv is None and __name__ != "__main__" else argv)

    samples: dict[str, list[float]] = {"tape, cold cache": [], "tape, warm cache": []}
    try:
        import torch  # noqa: F401

        samples = {"torch eager": [], **samples}
    except ModuleNotFoundError:
        pass
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="tape-startup-") as cache:
            for name in samples:
                make = "torch_step" if name == "torch eager" else "tape_step"
                samples[name].append(first_step_s(make, args.batch, args.size, cache))
    title = f"ResNet18 fresh process to first train step B={args.batch} 3x{args.size}x{args.size}"
    print(f"\n{title}")
    medians = {name: statistics.median(s) for name, s in samples.items()}
    base = medians.get("torch eager")
    rows = []
    for name, t in medians.items():
        ratio = f"{t / base:.2f}" if base else "-"
        runs = ", ".join(f"{s:.2f}" for s in samples[name])
        print(f"  {name:<22} {t:8.2f} s   (runs: {runs})")
        rows.append(f"| {title} | {name} | {t:,.2f} s | {ratio} |")
    return rows


if __name__ == "__main__":
    main()
