"""``import tape`` sets its XLA defaults (CPU, and GPU where one is used) in ``XLA_FLAGS``; a flag the user names wins.

Each case is a fresh process: XLA reads the flags once, when JAX starts its backend (and aborts
on a flag it does not know, which the computation in the child would show).
"""

import os
import subprocess
import sys

import pytest

SCHEDULER = "--xla_cpu_enable_concurrency_optimized_scheduler"
YNN = "--xla_cpu_experimental_ynn_fusion_type"
COPIES = "--xla_cpu_copy_insertion_use_region_analysis"
TRITON_GEMM = "--xla_gpu_enable_triton_gemm"
CHILD = "import os, tape; print(float(tape.ones(3).sum())); print(os.environ['XLA_FLAGS'])"


def _flags_in_child(xla_flags: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "3.0"
    return out[1].split()


def test_defaults_are_added():
    assert _flags_in_child(None) == [
        f"{SCHEDULER}=false",
        f"{YNN}=individual_dot,reduce",
        f"{COPIES}=true",
        f"{TRITON_GEMM}=false",
    ]


@pytest.mark.parametrize(
    "mine",
    [
        f"{YNN}=individual_dot,reduce,individual_convolution",
        f"{SCHEDULER}=true",
        f"{COPIES}=false",
        f"{TRITON_GEMM}=true",
    ],
)
def test_a_flag_the_user_names_wins(mine):
    flags = _flags_in_child(f"--xla_cpu_use_thunk_runtime=true {mine}")
    assert flags[:2] == ["--xla_cpu_use_thunk_runtime=true", mine]
    named = mine.split("=")[0]
    assert [f for f in flags if f.startswith(named)] == [mine]
    assert len(flags) == 5  # the other defaults are still added


@pytest.mark.parametrize(("env", "expected"), [(None, "True"), ("1", "True"), ("0", "False")])
def test_cpu_programs_run_on_the_calling_thread_when_asked(env, expected):
    child_env = {k: v for k, v in os.environ.items() if k != "TAPE_CPU_ASYNC_DISPATCH"}
    if env is not None:
        child_env["TAPE_CPU_ASYNC_DISPATCH"] = env
    code = "import jax, tape; print(jax.config.read('jax_cpu_enable_async_dispatch'))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=child_env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected
