"""``import tape`` keeps freed host memory for reuse (tape._malloc): a large block freed and
allocated again is not faulted back in page by page. The environment's own malloc settings win.

Each case is a fresh process: the settings are process-wide, and glibc reads its environment
once.
"""

import os
import platform
import subprocess
import sys

import pytest

from tape import _malloc

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)

BLOCK = 64 << 20  # over glibc's largest mmap threshold (32 MiB), like XLA's scratch buffers
CHILD = f"""
import ctypes, resource, tape
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def cycle():
    p = libc.malloc({BLOCK})
    ctypes.memset(p, 1, {BLOCK})
    libc.free(p)

cycle()
# This thread's faults only: tape's loading thread may fault pages of its own meanwhile.
before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
cycle()
print(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
"""


def _faults_of_a_second_cycle(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if not _malloc.user_tuned({k: v})}
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=clean | env, capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def test_a_freed_block_is_reused_without_page_faults():
    pages = BLOCK // os.sysconf("SC_PAGE_SIZE")
    tuned = _faults_of_a_second_cycle()
    default = _faults_of_a_second_cycle(TAPE_MALLOC="default")
    assert tuned < pages // 100, (tuned, pages)
    assert default > tuned, (default, tuned)


@pytest.mark.parametrize(
    "env, mine",
    [
        ({}, False),
        ({"TAPE_MALLOC": "default"}, True),
        ({"MALLOC_ARENA_MAX": "2"}, False),  # not a glibc name: glibc's end in "_"
        ({"MALLOC_ARENA_MAX_": "2"}, True),
        ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}, True),
        ({"GLIBC_TUNABLES": "glibc.rtld.nns=2"}, False),
    ],
)
def test_the_environment_chooses_first(env, mine):
    assert _malloc.user_tuned(env) is mine
