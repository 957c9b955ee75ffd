"""Interleaved timing: every contender runs once per round, rounds alternate, medians reported."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

# Idle time before each round, so the last contender's spinning worker threads (OpenMP in
# torch, Eigen in XLA) go to sleep instead of taking the next contender's cores.
SETTLE_S = 0.3


def time_per_call(
    fn: Callable[[], object], number: int, sync: Callable[[], object] | None = None
) -> float:
    """Seconds per call; ``sync`` (e.g. ``torch.cuda.synchronize``) runs before the clock starts
    and before it stops, so queued GPU work is neither charged to nor hidden from ``fn``."""
    if sync is not None:
        sync()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    if sync is not None:
        sync()
    return (time.perf_counter() - start) / number


def compare(
    workloads: dict[str, Callable[[], object]],
    number: int,
    rounds: int = 7,
    warmup: int = 3,
    syncs: dict[str, Callable[[], object]] | None = None,
) -> dict[str, float]:
    """Median seconds per call of each workload, measured in interleaved rounds. ``syncs`` maps
    a workload's name to the call that waits for its device's queued work (GPU runs)."""
    syncs = syncs or {}
    for name, fn in workloads.items():
        time.sleep(SETTLE_S)
        for _ in range(warmup):
            fn()
        if name in syncs:
            syncs[name]()
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, fn in workloads.items():
            time.sleep(SETTLE_S)
            samples[name].append(time_per_call(fn, number, syncs.get(name)))
    return {name: statistics.median(s) for name, s in samples.items()}


def report(title: str, medians: dict[str, float], baseline: str = "torch eager") -> list[str]:
    """Print and return markdown rows: time per step and the ratio to the baseline."""
    base = medians[baseline]
    rows = []
    print(f"\n{title}")
    for name, t in medians.items():
        row = f"| {title} | {name} | {t * 1e6:,.1f} µs | {t / base:.2f} |"
        print(f"  {name:<22} {t * 1e6:>12,.1f} µs   {t / base:5.2f}x {baseline}")
        rows.append(row)
    return rows
