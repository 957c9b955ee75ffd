"""tape._random must reproduce torch's CPU random numbers bit for bit."""

import importlib.util
import math
import pathlib
import sys
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import torch

try:
    from tape import _random as R
except Exception:  # tape/__init__.py may not exist yet: load the file directly
    _path = pathlib.Path(__file__).resolve().parents[1] / "tape" / "_random.py"
    _spec = importlib.util.spec_from_file_location("tape_random_under_test", _path)
    R = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = R
    _spec.loader.exec_module(R)

BF16 = np.dtype(ml_dtypes.bfloat16)
TORCH = {
    np.dtype(np.float16): torch.float16,
    BF16: torch.bfloat16,
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
    np.dtype(np.int64): torch.int64,
    np.dtype(np.int32): torch.int32,
    np.dtype(np.int16): torch.int16,
    np.dtype(np.uint8): torch.uint8,
    np.dtype(np.bool_): torch.bool,
}
FLOATS = [np.dtype(np.float16), BF16, np.dtype(np.float32), np.dtype(np.float64)]
SHAPES = [(0,), (1,), (2,), (7,), (15,), (16,), (17,), (31,), (33,), (100,), (3, 7), (1000,)]
SEEDS = [0, 1, 42, 2024, 2**32 - 1, 2**32 + 5, 67280421310721]


def to_np(t: torch.Tensor) -> np.ndarray:
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(BF16)
    return t.numpy()


def same(ours: np.ndarray, theirs: torch.Tensor) -> None:
    theirs = to_np(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    # Compare bit patterns so that -0.0 vs 0.0 and NaNs count too.
    np.testing.assert_array_equal(ours.view(np.uint8), theirs.view(np.uint8))


def pair(seed: int) -> "R.Generator":
    torch.manual_seed(seed)
    return R.Generator(seed)


@pytest.mark.parametrize(
    "seed", [0, 1, 2**31 - 1, 2**32, 2**63 - 1, 2**64 - 1, -1, -(2**63), 67280421310721]
)
def test_seeds(seed):
    g = pair(seed)
    assert g.initial_seed() == torch.initial_seed()
    same(g.rand((50,), np.float32), torch.rand(50))
    same(g.rand((5,), np.float64), torch.rand(5, dtype=torch.float64))


def test_default_seed():
    same(R.Generator().rand((20,), np.float32), torch.rand(20, generator=torch.Generator()))
    assert R.Generator().initial_seed() == torch.Generator().initial_seed()


@pytest.mark.parametrize("bad", [2**64, -(2**63) - 1])
def test_seed_range(bad):
    with pytest.raises(ValueError):
        R.Generator(bad)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("seed", SEEDS[:4])
def test_rand(seed, shape, dtype):
    g = pair(seed)
    same(g.rand(shape, dtype), torch.rand(shape, dtype=TORCH[dtype]))
    same(g.rand(shape, dtype), torch.rand(shape, dtype=TORCH[dtype]))


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_randn(seed, shape, dtype):
    g = pair(seed)
    for _ in range(3):  # repeated calls exercise the carried state and cached normal
        same(g.randn(shape, dtype), torch.randn(shape, dtype=TORCH[dtype]))


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("n", [7, 16, 1000])
@pytest.mark.parametrize(
    "low,high",
    [(0.0, 1.0), (-1.3, 2.7), (-100.0, -99.5), (3.0, 3.0), (1.0, 1.0 + 2**-23), (-1e4, 5e4)],
)
def test_uniform(low, high, n, dtype):
    for seed in SEEDS[:3]:
        g = pair(seed)
        t = torch.empty(n, dtype=TORCH[dtype]).uniform_(low, high)
        same(g.uniform((n,), dtype, low, high), t)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("n", [1, 5, 15, 16, 17, 40, 1000])
@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (0.3, 1.7), (-5.0, 0.01), (1e3, 0.0), (2.0, 1e4)])
def test_normal(mean, std, n, dtype):
    for seed in SEEDS[:3]:
        g = pair(seed)
        for _ in range(2):
            same(
                g.normal((n,), dtype, mean, std),
                torch.empty(n, dtype=TORCH[dtype]).normal_(mean, std),
            )


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=str)
def test_randn_large(dtype):
    g = pair(123)
    same(g.randn((200_003,), np.dtype(dtype)), torch.randn(200_003, dtype=TORCH[np.dtype(dtype)]))
    same(g.rand((100_000,), np.dtype(dtype)), torch.rand(100_000, dtype=TORCH[np.dtype(dtype)]))


def test_rand_half_rounds_up_to_zero():
    # 24-bit uniforms round to 1.0 in half about once per 4096 draws; ATen maps those to 0.
    g = pair(0)
    same(g.rand((300_000,), np.dtype(np.float16)), torch.rand(300_000, dtype=torch.float16))


RANGES = [(0, 2), (0, 10), (-5, 5), (3, 4), (0, 2**28 - 1), (0, 2**28), (5, 5 + 2**28), (0, 2**31),
          (-(2**31), 2**31), (0, 2**32), (7, 2**32 + 9), (-(2**40), 2**40), (-(2**63), 2**63 - 1),
          (2**62, 2**63 - 1)]  # fmt: skip
# Bounds torch accepts per dtype: the integer range, or |bound| <= 2**digits for floats.
LIMITS = {
    "int64": (-(2**63), 2**63), "int32": (-(2**31), 2**31), "int16": (-(2**15), 2**15),
    "uint8": (0, 256), "bool": (0, 2), "float16": (-(2**11), 2**11), "bfloat16": (-(2**8), 2**8),
    "float32": (-(2**24), 2**24), "float64": (-(2**53), 2**53),
}  # fmt: skip
RANDINT_CASES = [
    (lo, hi, name) for name, (a, b) in LIMITS.items() for lo, hi in RANGES if a <= lo and hi <= b
]


@pytest.mark.parametrize("low,high,dtype", RANDINT_CASES, ids=str)
def test_randint(low, high, dtype):
    dtype = BF16 if dtype == "bfloat16" else np.dtype(dtype)
    for seed in SEEDS[:3]:
        g = pair(seed)
        for shape in [(0,), (1,), (17,), (3, 7), (500,)]:
            same(
                g.randint(low, high, shape, dtype),
                torch.randint(low, high, shape, dtype=TORCH[dtype]),
            )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 16, 17, 100, 1000, 12_345, 100_000])
def test_randperm(n):
    for seed in SEEDS[:4]:
        g = pair(seed)
        same(g.randperm(n), torch.randperm(n))
        same(g.randperm(n), torch.randperm(n))


def _swap_reference(words, n):
    a = list(range(n))
    for i in range(n - 1):
        z = i + int(words[i]) % (n - i)
        a[i], a[z] = a[z], a[i]
    return np.array(a, np.int64)


def _inside_out_reference(words, n):
    a = [0] * n
    for i in range(n):
        z = int(words[i]) % (i + 1)
        a[i] = a[z]
        a[z] = i
    return np.array(a, np.int64)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10, 50, 333, 4096])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shuffle_kernels(n, seed):
    # The n >= 2**32 // 20 path of randperm is too big to compare with torch in a test;
    # check both vectorized kernels against the literal ATen loops instead.
    rng = np.random.default_rng(seed)
    for words in [
        rng.integers(0, 2**64, n, dtype=np.uint64),
        rng.integers(0, 3, n, dtype=np.uint64),
    ]:
        np.testing.assert_array_equal(
            R._inside_out_shuffle(words, n), _inside_out_reference(words, n)
        )
        w = (words[: n - 1] & np.uint64(0xFFFFFFFF)).astype(np.int64)
        np.testing.assert_array_equal(R._swap_shuffle(w, n), _swap_reference(w, n))


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "bool", "int64"])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_bernoulli(p, dtype):
    dtype = BF16 if dtype == "bfloat16" else np.dtype(dtype)
    for seed in SEEDS[:3]:
        g = pair(seed)
        for shape in [(1,), (17,), (4, 33)]:
            same(g.bernoulli(p, shape, dtype), torch.empty(shape, dtype=TORCH[dtype]).bernoulli_(p))


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_mask(p):
    g = pair(7)
    out = torch.nn.functional.dropout(torch.ones(1000), p, training=True)
    same(g.bernoulli(1 - p, (1000,), np.float32), (out != 0).float())


@pytest.mark.parametrize("pdtype", [np.float32, np.float64])
def test_bernoulli_tensor_p(pdtype):
    probs = np.linspace(0, 1, 77).astype(pdtype)
    g = pair(3)
    same(
        g.bernoulli(probs, probs.shape, np.dtype(pdtype)), torch.bernoulli(torch.from_numpy(probs))
    )


OPS = {
    "rand": (lambda g, n: g.rand((n,), np.float32), lambda n: torch.rand(n)),
    "rand64": (lambda g, n: g.rand((n,), np.float64), lambda n: torch.rand(n, dtype=torch.float64)),
    "randn": (lambda g, n: g.randn((n,), np.float32), lambda n: torch.randn(n)),
    "randn64": (
        lambda g, n: g.randn((n,), np.float64),
        lambda n: torch.randn(n, dtype=torch.float64),
    ),
    "randn16": (
        lambda g, n: g.randn((n,), np.float16),
        lambda n: torch.randn(n, dtype=torch.float16),
    ),
    "normal": (
        lambda g, n: g.normal((n,), np.float32, 0.5, 2.0),
        lambda n: torch.empty(n).normal_(0.5, 2.0),
    ),
    "randint": (
        lambda g, n: g.randint(-3, 1000, (n,), np.int64),
        lambda n: torch.randint(-3, 1000, (n,)),
    ),
    "randint64": (
        lambda g, n: g.randint(0, 2**40, (n,), np.int64),
        lambda n: torch.randint(0, 2**40, (n,)),
    ),
    "randperm": (lambda g, n: g.randperm(n), lambda n: torch.randperm(n)),
    "bernoulli": (
        lambda g, n: g.bernoulli(0.3, (n,), np.float32),
        lambda n: torch.empty(n).bernoulli_(0.3),
    ),
    "exponential": (
        lambda g, n: g.exponential((n,), np.float32, 1.5),
        lambda n: torch.empty(n).exponential_(1.5),
    ),
    "cauchy": (
        lambda g, n: g.cauchy((n,), np.float32, 0.5, 2.0),
        lambda n: torch.empty(n).cauchy_(0.5, 2.0),
    ),
    "log_normal": (  # the scalar normal path: shares the cached normal with randn's
        lambda g, n: g.log_normal((n,), np.float64, 0.5, 0.8),
        lambda n: torch.empty(n, dtype=torch.float64).log_normal_(0.5, 0.8),
    ),
    "geometric": (
        lambda g, n: g.geometric((n,), np.int64, 0.2),
        lambda n: torch.empty(n, dtype=torch.int64).geometric_(0.2),
    ),
    "poisson": (  # rates on both sides of 10, where the algorithm changes
        lambda g, n: g.poisson(np.linspace(0.0, 40.0, n)),
        lambda n: torch.poisson(torch.from_numpy(np.linspace(0.0, 40.0, n))),
    ),
    "multinomial": (
        lambda g, n: g.multinomial(np.arange(1.0, n + 2), max(1, n // 2), n % 2 == 0),
        lambda n: torch.multinomial(
            torch.arange(1.0, n + 2, dtype=torch.float64), max(1, n // 2), n % 2 == 0
        ),
    ),
}


@pytest.mark.parametrize("trial", range(12))
def test_interleaved(trial):
    rng = np.random.default_rng(trial)
    g = pair(int(rng.integers(0, 2**32)))
    for _ in range(25):
        name = list(OPS)[rng.integers(len(OPS))]
        n = int(rng.choice([0, 1, 2, 3, 5, 15, 16, 17, 40, 129]))
        ours, theirs = OPS[name]
        same(ours(g, n), theirs(n))


def test_state_roundtrip_matches_torch():
    g = pair(11)
    same(g.randn((3,), np.float32), torch.randn(3))  # leaves a cached normal behind
    ours, theirs = g.get_state(), torch.get_rng_state()
    a = g.randn((5,), np.float32)
    same(a, torch.randn(5))
    same(g.rand((4,), np.float64), torch.rand(4, dtype=torch.float64))
    g.set_state(ours)
    torch.set_rng_state(theirs)
    same(g.randn((5,), np.float32), torch.randn(5))
    g.set_state(ours)
    np.testing.assert_array_equal(g.randn((5,), np.float32), a)
    assert g.initial_seed() == 11


def test_manual_seed_clears_cached_normal():
    g = pair(5)
    same(g.randn((1,), np.float64), torch.randn(1, dtype=torch.float64))
    g.manual_seed(5)
    torch.manual_seed(5)
    same(g.randn((1,), np.float64), torch.randn(1, dtype=torch.float64))


def test_module_functions():
    assert R.manual_seed(99) is R.default_generator
    assert R.initial_seed() == 99
    torch.manual_seed(99)
    state = R.get_rng_state()
    same(R.default_generator.rand((6,), np.float32), torch.rand(6))
    R.set_rng_state(state)
    torch.manual_seed(99)
    same(R.default_generator.rand((6,), np.float32), torch.rand(6))
    s = R.seed()
    assert 0 <= s < 2**64 and R.initial_seed() == s
    torch.manual_seed(s)
    same(R.default_generator.randn((20,), np.float32), torch.randn(20))


def test_generators_are_independent():
    a, b = R.Generator(1), R.Generator(1)
    a.rand((10,), np.float32)
    np.testing.assert_array_equal(b.rand((10,), np.float32), R.Generator(1).rand((10,), np.float32))


def test_errors():
    g = R.Generator(0)
    with pytest.raises(TypeError):
        g.rand((3,), np.int32)
    with pytest.raises(RuntimeError):  # torch's types: these reach users through uniform_ etc.
        g.uniform((3,), np.float32, 2.0, 1.0)
    with pytest.raises(ValueError):
        g.uniform((3,), np.float16, 0.0, 1e5)
    with pytest.raises(ValueError):
        g.uniform((3,), np.float16, -4e4, 4e4)
    with pytest.raises(RuntimeError):
        g.normal((3,), np.float32, 0.0, -1.0)
    with pytest.raises(ValueError):
        g.randint(5, 5, (3,), np.int64)
    with pytest.raises(RuntimeError):
        g.bernoulli(1.5, (3,), np.float32)
    with pytest.raises(RuntimeError):
        g.exponential((3,), np.float32, 0.0)
    with pytest.raises(ValueError):
        g.set_state(np.zeros(10, np.uint8))


def test_fma_helpers_are_exact():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(2000) * 10.0 ** rng.integers(-4, 4, 2000)
    b = rng.standard_normal(2000)
    c = np.where(np.arange(2000) % 2 == 0, -a * b, rng.standard_normal(2000))  # cancellation
    r64 = R._fma64(a, b, c)
    a32, b32, c32 = a.astype(np.float32), b.astype(np.float32), c.astype(np.float32)
    r32 = R._fma32(a32, b32, c32)
    for i in range(2000):
        exact = Fraction(a[i]) * Fraction(b[i]) + Fraction(c[i])
        assert r64[i] == float(exact)
        exact32 = Fraction(float(a32[i])) * Fraction(float(b32[i])) + Fraction(float(c32[i]))
        assert r32[i] == np.float32(_round_to_float32(exact32))


def _round_to_float32(x: Fraction) -> float:
    """Correctly round a rational to float32 (float32(float(x)) could round twice)."""
    if x == 0:
        return 0.0
    e = math.floor(math.log2(abs(x)))
    while Fraction(2) ** e > abs(x):
        e -= 1
    while Fraction(2) ** (e + 1) <= abs(x):
        e += 1
    ulp = Fraction(2) ** (e - 23)
    q = x / ulp
    return float(round(q) * ulp)  # round() on Fraction is round-half-even


def test_fma32_float64_midpoint_ties():
    # a * b + c = 2**30 + 192 - 2**-40: float64 rounds it to the float32 midpoint
    # 2**30 + 192, and a naive second rounding (to even) would give 2**30 + 256.
    f = np.float32
    a = np.array([8 * (1 + 2**-23), -8 * (1 + 2**-23), 8 * (1 + 2**-23)], f)
    b = np.array([8 * (1 - 2**-23), 8 * (1 - 2**-23), 8.0], f)
    c = np.array([2**30 + 128, -(2**30 + 128), 2**30 + 128], f)
    expected = [2**30 + 128, -(2**30 + 128), 2**30 + 256]  # the last is an exact tie
    np.testing.assert_array_equal(R._fma32(a, b, c), np.array(expected, f))


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("lambd", [1.0, 2.5, 0.3])
@pytest.mark.parametrize("n", [1, 17, 1000])
def test_exponential(n, lambd, dtype):
    for seed in SEEDS[:3]:
        torch.manual_seed(seed)
        want = torch.empty(n, dtype=TORCH[dtype]).exponential_(lambd)
        same(R.Generator(seed).exponential((n,), dtype, lambd), want)


# Tensor fills torch draws one double at a time: two argument cases each, and the dtypes they
# fill (geometric counts trials, so integer tensors too).
FILLS = {
    "cauchy": ([(0.0, 1.0), (-2.0, 0.25)], FLOATS),
    "log_normal": ([(1.0, 2.0), (-0.5, 0.3)], FLOATS),
    "geometric": ([(0.3,), (0.01,)], [*FLOATS, np.dtype(np.int64), np.dtype(np.int32)]),
}


@pytest.mark.parametrize("n", [1, 17, 1000])
@pytest.mark.parametrize(
    ("name", "dtype"), [(name, d) for name, (_, dtypes) in FILLS.items() for d in dtypes], ids=str
)
def test_distribution_fills(name, dtype, n):
    for seed, args in zip(SEEDS[:2], FILLS[name][0], strict=True):
        g = pair(seed)
        for _ in range(2):  # a second call: log_normal's cached normal carries over
            want = getattr(torch.empty(n, dtype=TORCH[dtype]), f"{name}_")(*args)
            same(getattr(g, name)((n,), dtype, *args), want)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize(
    "rates",
    [[0.0, 1e-3, 0.5, 2.0, 9.999], [10.0, 10.5, 37.0, 1e3, 6e4], [0.0, 12.0, 3.0, 250.0, 7.5]],
    ids=["below 10", "from 10", "mixed"],
)
def test_poisson(rates, dtype):
    rates = np.array(rates * 40).astype(dtype)
    for seed in SEEDS[:3]:
        g = pair(seed)
        want = torch.poisson(torch.from_numpy(rates.astype(np.float64)).to(TORCH[dtype]))
        same(g.poisson(rates).astype(np.float32).astype(dtype), want)


def _weights(shape, n, replacement, rng):
    """Random weights with zeros, but at least ``n`` nonzero per row without replacement: with
    fewer, the zero-weight picks follow the order of ATen's topk among ties (see README)."""
    w = rng.random(shape) * (rng.random(shape) > 0.3)
    w[..., : 1 if replacement else n] += 0.05
    return w


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("shape", [(1,), (6,), (3, 7), (2, 300)], ids=str)
@pytest.mark.parametrize("n", [1, 2, 6, 40])
@pytest.mark.parametrize("replacement", [False, True])
def test_multinomial(replacement, n, shape, dtype):
    if not replacement and n > shape[-1]:
        pytest.skip("more samples than categories")
    if not replacement and n > 1 and dtype.itemsize == 2:
        pytest.skip("ties among 8- or 11-bit ratios come in the order of ATen's topk (README)")
    rng = np.random.default_rng(n)
    w = _weights(shape, n, replacement, rng).astype(np.float32).astype(dtype)
    for seed in SEEDS[:3]:
        torch.manual_seed(seed)
        want = torch.multinomial(
            torch.from_numpy(w.astype(np.float32)).to(TORCH[dtype]), n, replacement
        )
        g = R.Generator(seed)
        got = g.multinomial(w, n, replacement)
        assert got.dtype == np.int64 and got.tolist() == want.tolist()
        same(g.rand((5,), np.float32), torch.rand(5))  # the generator advanced alike


def test_multinomial_through_tape():
    import tape

    for lib in (torch, tape):
        lib.manual_seed(3)
    w = np.random.default_rng(0).random((4, 9)).astype(np.float32)
    for args in ((3,), (5, True), (1,)):
        want = torch.multinomial(torch.from_numpy(w), *args)
        got = tape.multinomial(tape.tensor(w), *args)
        assert got.dtype == tape.int64 and got.shape == want.shape
        assert got.tolist() == want.tolist()
        assert (
            tape.tensor(w[0]).multinomial(*args).tolist()
            == torch.from_numpy(w[0]).multinomial(*args).tolist()
        )
    x = tape.tensor(w, requires_grad=True)
    y = tape.multinomial(x, 2)
    assert y.grad_fn is None and not y.requires_grad
    for lib in (torch, tape):
        lib.manual_seed(5)
    e = (
        torch.empty(2, 3, dtype=torch.float64).exponential_(),
        tape.empty(2, 3, dtype=tape.float64).exponential_(),
    )
    assert e[0].tolist() == e[1].tolist()
