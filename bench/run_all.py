"""Run every benchmark in one process and write the markdown table the README shows.

python -m bench.run_all            # prints the table and writes bench/RESULTS.md
"""

from __future__ import annotations

import importlib
import platform
from pathlib import Path

BENCHMARKS = (
    "bench.bench_autograd",
    "bench.bench_train",
    "bench.bench_resnet",
    "bench.bench_layers",
    "bench.bench_startup",
)


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
            f"Measured on {platform.machine()} with {platform.python_version()}; "
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
