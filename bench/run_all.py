"""Run every benchmark in one process and write the markdown table the README shows.

python -m bench.run_all            # prints the table and writes bench/RESULTS.md
"""

from __future__ import annotations

import importlib
import os
import platform
from pathlib import Path

BENCHMARKS = (
    "bench.bench_autograd",
    "bench.bench_train",
    "bench.bench_resnet",
    "bench.bench_layers",
    "bench.bench_startup",
)


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


def main() -> str:
    rows = []
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            print(f"skipping {name}: {error}")
            continue
        rows += module.main()
    table = "\n".join(
        [
            f"Measured on {_cpu()} ({platform.machine()}, {os.cpu_count()} CPUs) with Python "
            f"{platform.python_version()}; "
            "median of interleaved rounds; ratio = time / torch eager time.",
            "",
            "| workload | contender | time per step | vs torch eager |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    Path(__file__).with_name("RESULTS.md").write_text(table + "\n")
    print("\n" + table)
    return table


if __name__ == "__main__":
    main()
