"""Run every benchmark in one process and write the markdown table the README shows.

python -m bench.run_all                 # prints the table and writes bench/RESULTS.md
python -m bench.run_all --device cuda   # the GPU's workloads, into bench/RESULTS-cuda.md
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
from pathlib import Path

from bench._harness import device_option

BENCHMARKS = (
    "bench.bench_autograd",
    "bench.bench_train",
    "bench.bench_resnet",
    "bench.bench_layers",
    "bench.bench_startup",
)
# XLA's CPU convolutions and the CPU process's start-up have no GPU counterpart to measure.
GPU_BENCHMARKS = BENCHMARKS[:3]


def _cpu() -> str:
    """The CPU's model name: ratios to torch move with it (XLA's and oneDNN's kernels differ)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "an unknown CPU"


def _machine(device: str) -> str:
    """Where the numbers came from: the device, and the versions that ran on it."""
    import jax
    import torch

    where = f"{_cpu()} ({platform.machine()}, {os.cpu_count()} CPUs)"
    if device == "cuda":
        where = f"{torch.cuda.get_device_name()}, host {where}"
    return f"{where}, jax {jax.__version__}, torch {torch.__version__},"


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser()
    device_option(ap)
    device = ap.parse_args(argv).device
    rows = []
    for name in BENCHMARKS if device == "cpu" else GPU_BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            print(f"skipping {name}: {error}")
            continue
        rows += module.main(["--device", device]) if device != "cpu" else module.main()
    table = "\n".join(
        [
            f"Measured on {_machine(device)} with Python {platform.python_version()}; "
            "median of interleaved rounds; ratio = time / torch eager time.",
            "",
            "| workload | contender | time per step | vs torch eager |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    out = "RESULTS.md" if device == "cpu" else f"RESULTS-{device}.md"
    Path(__file__).with_name(out).write_text(table + "\n")
    print("\n" + table)
    return table


if __name__ == "__main__":
    main()
