"""Interleaved timing: every contender runs once per round, rounds alternate, medians reported.

Rounds run back to back, as a training loop's steps do. Before each timed run the contender
runs untimed for at least ``WARM_S``: the previous contender's worker threads (libgomp in
torch, Eigen in XLA) may still spin-wait for a few milliseconds on the two cores, and its data
has left the caches; neither is charged to the next contender. There is no pause (sleep)
between runs: on this machine a 0.3 s sleep slows the next 50-80 ms of any work, even a
pure-Python loop (blocks of 20 calls of a 2.4 ms loop: 2.9 ms after a sleep, 2.4 ms back to
back), which blurred short steps' ratios (the MLP's torch step measured 2.0-2.4 ms after
pauses and 1.6-1.8 ms without).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

WARM_S = 0.025


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


def _warm(fn: Callable[[], object], sync: Callable[[], object] | None) -> None:
    """Run ``fn`` untimed, at least once and for at least ``WARM_S``."""
    end = time.perf_counter() + WARM_S
    while True:
        fn()
        if sync is not None:
            sync()
        if time.perf_counter() >= end:
            return


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
    prefetch = sys.modules.get("tape._program_prefetch")
    if prefetch is not None:
        # A fresh process loads its last run's programs on a thread (154 of them for `run_all`,
        # for about 2 s after `import tape`): timed alongside, the first workload pays for them.
        prefetch.wait()
    for name, fn in workloads.items():
        for _ in range(warmup):
            fn()
        if name in syncs:
            syncs[name]()
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, fn in workloads.items():
            _warm(fn, syncs.get(name))
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


def device_option(parser: argparse.ArgumentParser) -> None:
    """``--device {cpu,cuda}``, defaulting to ``$TAPE_BENCH_DEVICE`` or cpu."""
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default=os.environ.get("TAPE_BENCH_DEVICE", "cpu"),
        help="where tape, torch and JAX run (default $TAPE_BENCH_DEVICE or cpu)",
    )


def jax_device(device: str):
    """The JAX device a contender's plain-JAX arrays are put on: tape keeps JAX's default
    device on the CPU, so a GPU run must place them explicitly."""
    import jax

    return jax.devices("gpu" if device == "cuda" else "cpu")[0]


def waited(step: Callable[[], object]) -> Callable[[], object]:
    """``step``, then a wait for the value it returns (a tape or torch tensor, or JAX arrays),
    so each call is charged for its device work; on the CPU torch's wait is a no-op."""
    import jax

    def run():
        out = step()
        if hasattr(out, "_storage"):  # a tape tensor: its array's own wait, not JAX's
            # tree-walking block_until_ready (0.8 against 0.2 us), as torch's side costs little
            array = out._storage.array
            if hasattr(array, "block_until_ready"):  # a numpy array is ready
                array.block_until_ready()
        elif hasattr(out, "is_cuda"):  # a torch tensor
            if out.is_cuda:
                import torch

                torch.cuda.synchronize()
        else:
            jax.block_until_ready(out)
        return out

    return run


def device_waits(device: str, names) -> dict[str, Callable[[], object]]:
    """Each contender's wait for its queued GPU work (none on the CPU), for ``compare``."""
    if device == "cpu":
        return {}
    import jax
    import torch

    gpu = jax_device(device)

    def jax_sync():
        jax.block_until_ready(jax.device_put(0.0, gpu) + 0)

    return {name: torch.cuda.synchronize if "torch" in name else jax_sync for name in names}
