"""tape: PyTorch's autograd API on JAX and XLA. ``import tape as torch``."""

import atexit
import os

# XLA CPU defaults, measured on ResNet18 train steps here (DESIGN.md §3); set before JAX starts
# its backend, and a flag already named in XLA_FLAGS wins.
# - The concurrency-optimized scheduler runs independent convolutions side by side, each on fewer
#   threads: ~10% slower than the plain schedule.
# - YNNPACK takes dots and reductions but not convolutions: XLA's own convolution runs a 3x3 conv
#   forward+backward 1.3-1.9x faster than YNNPACK's at B=16 (a ResNet18 step ~20% faster), though
#   YNNPACK's wins at B=1 (that step ~10% slower).
# - Copy insertion by region analysis: a program that updates donated weights in place
#   (tape.compile) otherwise gets more copies (ResNet18: 169 copy instructions against 76, and
#   its step 5-10% slower).
# And one for XLA GPU: its Triton matmul autotuner compiles many candidate kernels per program,
# which made a cold ResNet18 first step on an H100 take 110 s; with cuBLAS's matmuls it took
# 42 s, and later steps ran as fast (9.7 ms against 9.9 ms at B=16).
_XLA_DEFAULTS = {
    "--xla_cpu_enable_concurrency_optimized_scheduler": "false",
    "--xla_cpu_experimental_ynn_fusion_type": "individual_dot,reduce",
    "--xla_cpu_copy_insertion_use_region_analysis": "true",
    "--xla_gpu_enable_triton_gemm": "false",
}
_xla_flags = os.environ.get("XLA_FLAGS", "")
os.environ["XLA_FLAGS"] = " ".join(
    [_xla_flags] + [f"{k}={v}" for k, v in _XLA_DEFAULTS.items() if k not in _xla_flags]
).strip()

from tape import _malloc  # noqa: E402

# Before JAX starts its backend, whose threads then share the one arena.
_malloc.keep_freed_memory()

import jax  # noqa: E402

from tape import _device, _program_prefetch, _program_store  # noqa: E402

# JAX hands each CPU program to a worker thread and returns at once, so Python records the next
# ops while XLA computes: an MLP training step 1.10-1.18x torch against 1.33-1.44x with
# programs run on the calling thread. Waking that thread after Python was busy costs 100-250 us
# a launch here, which a step made of one small program feels (a 100-op chain: 0.84-0.98x
# torch on the calling thread, 1.02-1.06x handed off). TAPE_CPU_ASYNC_DISPATCH=0 runs them on
# the calling thread.
if os.environ.get("TAPE_CPU_ASYNC_DISPATCH") == "0":
    jax.config.update("jax_cpu_enable_async_dispatch", False)
# torch has int64 and float64 tensors; JAX needs x64 on to hold them.
jax.config.update("jax_enable_x64", True)
# Like torch, tensors live on the CPU until moved with .to('cuda') / .cuda().
jax.config.update("jax_default_device", jax.devices("cpu")[0])
# Registered after JAX's exit handlers (at its import), so it runs before they tear JAX down.
atexit.register(_device.finish_dispatched_work)
# Compiled programs persist across processes, so a second run starts fast. The directory is
# $JAX_COMPILATION_CACHE_DIR when set, else $TAPE_CACHE_DIR, else ~/.cache/tape/xla.
if not jax.config.jax_compilation_cache_dir:
    _cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    jax.config.update(
        "jax_compilation_cache_dir",
        os.environ.get("TAPE_CACHE_DIR") or os.path.join(_cache_home, "tape", "xla"),
    )
    # tape's own directory, so its pruning covers JAX's entries there too.
    _program_store.owns_jax_cache = True
# Cache every program, not only those over JAX's default 1 s: eager tape compiles one small
# program per op and shape (a ResNet18 first step compiles ~100 of 5-60 ms each), and loading
# one back costs a few ms. JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS still overrides this.
if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
# Loads, on another thread, the stored programs this script's last run used (while the rest
# of tape, the model and the data are set up); at exit it stops, before JAX tears down.
_program_prefetch.start()
atexit.register(_program_prefetch.finish)

from tape import (
    _methods,  # noqa: E402
    _signature_key,  # noqa: E402
    autograd,  # noqa: E402, I001
    ops,  # noqa: E402
)
from tape import creation as _creation  # noqa: E402
from tape._device import cuda, device  # noqa: E402
from tape._dtype import (  # noqa: E402
    bfloat16,
    can_cast,
    dtype,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    set_default_dtype,
    uint8,
)
from tape._dtype import bool_ as bool  # noqa: E402, A001
from tape._layout import layout, strided  # noqa: E402
from tape._methods import log_softmax, softmax  # noqa: E402
from tape._random import (  # noqa: E402
    Generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from tape._settings import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    get_float32_matmul_precision,
    get_num_interop_threads,
    get_num_threads,
    is_deterministic_algorithms_warn_only_enabled,
    set_float32_matmul_precision,
    set_num_interop_threads,
    set_num_threads,
    use_deterministic_algorithms,
)
from tape._tensor_str import set_printoptions  # noqa: E402
from tape.autograd import (  # noqa: E402
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from tape.autograd.anomaly_mode import (  # noqa: E402
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_anomaly_enabled,
)
from tape.creation import *  # noqa: E402, F403
from tape.ops import FUNCTIONS as _FUNCTIONS  # noqa: E402
from tape.ops import METHODS_ONLY as _METHODS_ONLY  # noqa: E402
from tape.tensor import Size, Tensor  # noqa: E402

_methods.bind()
globals().update({k: v for k, v in _FUNCTIONS.items() if k not in _METHODS_ONLY})
from tape._method_functions import FUNCTIONS as _METHOD_FUNCTIONS  # noqa: E402

globals().update(_METHOD_FUNCTIONS)

float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
range = _creation.inclusive_range  # noqa: A001

# viz imports matplotlib only when drawing.
from tape import func, linalg, nn, optim, utils, viz  # noqa: E402, F401

# torch's top-level names that take ATen's arguments where nn.functional takes others.
from tape._aten_forms import (  # noqa: E402, F401
    adaptive_max_pool1d,
    alpha_dropout,
    alpha_dropout_,
    batch_norm,
    binary_cross_entropy_with_logits,
    constant_pad_nd,
    cosine_embedding_loss,
    dropout,
    dropout_,
    embedding,
    feature_alpha_dropout,
    feature_alpha_dropout_,
    feature_dropout,
    feature_dropout_,
    group_norm,
    hinge_embedding_loss,
    instance_norm,
    kl_div,
    layer_norm,
    margin_ranking_loss,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool3d,
    poisson_nll_loss,
    rrelu,
    rrelu_,
    triplet_margin_loss,
)
from tape._compile import compile  # noqa: E402, F401, A004
from tape._windows import (  # noqa: E402, F401
    bartlett_window,
    blackman_window,
    hamming_window,
    hann_window,
    kaiser_window,
)
from tape.func import vmap  # noqa: E402, F401  (torch.vmap is torch.func.vmap)

# torch's top-level names for these functionals, which take the same arguments there.
from tape.nn.functional import (  # noqa: E402, F401
    adaptive_avg_pool1d,
    avg_pool1d,
    bilinear,
    celu,
    celu_,
    channel_shuffle,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    cosine_similarity,
    hardshrink,
    norm_except_dim,
    pairwise_distance,
    pixel_shuffle,
    pixel_unshuffle,
    prelu,
    selu,
    selu_,
    threshold,
    threshold_,
)
from tape.serialization import load, save  # noqa: E402, F401

# Every op registered so far is tape's own: its name and tape's source decide its forward.
_signature_key.seal_builtin_ops(ops.registry.OPS)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_storage(obj) -> bool:
    """False: tape has no storage objects (tensors hold immutable XLA arrays)."""
    return False


def typename(obj) -> str:
    """``'torch.FloatTensor'`` for a tensor, else the object's module and qualified name."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module, qualname = obj.__class__.__module__ or "", obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


# The modules this file used: not part of torch's namespace.
del atexit, jax
