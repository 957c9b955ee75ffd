"""A CPU random generator that reproduces PyTorch's numbers bit for bit.

PyTorch's CPU generator is an mt19937 seeded with ``init_genrand(seed & 0xffffffff)``.
numpy's ``MT19937`` bit generator produces the same raw 32-bit stream, so this module
only keeps its state in sync and re-implements, in vectorized numpy, how ATen
(``DistributionsHelper.h``, ``TransformationHelper.h``, ``cpu/DistributionTemplates.h``,
``TensorFactories.cpp``) turns raw words into values, including the order in which words
are consumed and the cached second Box-Muller sample of the scalar normal path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import ml_dtypes
import numpy as np

__all__ = [
    "Generator",
    "default_generator",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]

_DEFAULT_SEED = 67280421310721  # torch's default CPU seed
_U64 = (1 << 64) - 1
_BF16 = np.dtype(ml_dtypes.bfloat16)
_FLOATS = (np.dtype(np.float16), _BF16, np.dtype(np.float32), np.dtype(np.float64))
# uniform_int_from_to_distribution draws 64 bits from this range up (public builds;
# fbcode builds use 2**32 and a dtype list instead).
_RANDINT_64_FROM = 1 << 28
# Mantissa digits of the floating dtypes: random_() draws integers up to 2**digits.
_DIGITS = {_FLOATS[0]: 11, _BF16: 8, _FLOATS[2]: 24, _FLOATS[3]: 53}
# randperm switches algorithm at std::numeric_limits<uint32_t>::max() / 20.
_RANDPERM_SMALL = 0xFFFFFFFF // 20
_CHUNK = 16 * 8192  # elements per Box-Muller batch
# get_state layout: 624 key words, pos, seed (2 words), has-normal flag, cached normal (2 words).
_STATE_WORDS = 624 + 1 + 2 + 1 + 2

Shape = Sequence[int] | int


class Generator:
    """Torch-compatible CPU generator (mt19937 plus ATen's transforms)."""

    def __init__(self, seed: int = _DEFAULT_SEED) -> None:
        self._bitgen = np.random.MT19937(0)
        self._seed = 0
        self._next_normal: float | None = None
        self.manual_seed(seed)

    # ------------------------------------------------------------------ state

    def manual_seed(self, seed: int) -> Generator:
        """Reseed like ``torch.Generator.manual_seed`` and return ``self``."""
        seed = int(seed)
        if not -(1 << 63) <= seed <= _U64:
            raise ValueError(f"seed must be in [-2**63, 2**64), got {seed}")
        self._seed = seed & _U64
        key = np.empty(624, np.uint32)
        x = key[0] = self._seed & 0xFFFFFFFF  # mt19937 keeps only the low 32 bits
        for i in range(1, 624):  # init_genrand; 623 steps, negligible cost
            x = (1812433253 * (x ^ (x >> 30)) + i) & 0xFFFFFFFF
            key[i] = x
        self._bitgen.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 624}}
        self._next_normal = None
        return self

    def seed(self) -> int:
        """Reseed from the OS entropy pool (64 bits, like torch) and return the seed."""
        s = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed last set (as an unsigned 64-bit integer, like torch)."""
        return self._seed

    def get_state(self) -> np.ndarray:
        """Opaque uint8 snapshot: mt19937 key and position, seed, cached normal."""
        st = self._bitgen.state["state"]
        words = np.zeros(_STATE_WORDS, np.uint32)
        words[:624] = st["key"]
        words[624] = st["pos"]
        words[625:627] = np.array([self._seed], np.uint64).view(np.uint32)
        if self._next_normal is not None:
            words[627] = 1
            words[628:630] = np.array([self._next_normal], np.float64).view(np.uint32)
        return words.view(np.uint8).copy()

    def set_state(self, state: np.ndarray | Sequence[int]) -> None:
        """Restore a snapshot made by :meth:`get_state`."""
        raw = np.ascontiguousarray(np.asarray(state), dtype=np.uint8)
        if raw.size != 4 * _STATE_WORDS:
            raise ValueError(f"RNG state must have {4 * _STATE_WORDS} bytes, got {raw.size}")
        words = raw.view(np.uint32)
        key, pos = words[:624].copy(), int(words[624])
        self._bitgen.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
        self._seed = int(words[625:627].view(np.uint64)[0])
        self._next_normal = float(words[628:630].view(np.float64)[0]) if words[627] else None

    # ------------------------------------------------------------ raw draws

    def _u32(self, n: int) -> np.ndarray:
        """``n`` consecutive ``random()`` words as uint64 (each < 2**32)."""
        return self._bitgen.random_raw(n) if n else np.zeros(0, np.uint64)

    def _u64(self, n: int) -> np.ndarray:
        """``n`` consecutive ``random64()`` values: first word is the high half."""
        w = self._u32(2 * n)
        return (w[0::2] << np.uint64(32)) | w[1::2]

    def _unit(self, n: int, op: np.dtype) -> np.ndarray:
        """``uniform_real_distribution<op>(0, 1)``: 24 (float) or 53 (double) low bits."""
        if op == np.float64:
            return (self._u64(n) & np.uint64((1 << 53) - 1)).astype(np.float64) * 2.0**-53
        return (self._u32(n) & np.uint64((1 << 24) - 1)).astype(np.float32) * np.float32(2.0**-24)

    # -------------------------------------------------------- distributions

    def rand(self, shape: Shape, dtype: np.dtype) -> np.ndarray:
        """``torch.rand``: uniform on [0, 1)."""
        return self.uniform(shape, dtype, 0.0, 1.0)

    def randn(self, shape: Shape, dtype: np.dtype) -> np.ndarray:
        """``torch.randn``: standard normal."""
        return self.normal(shape, dtype, 0.0, 1.0)

    def uniform(self, shape: Shape, dtype: np.dtype, low: float, high: float) -> np.ndarray:
        """``Tensor.uniform_(low, high)``."""
        shape, dtype = _shape(shape), _float_dtype(dtype)
        if not low <= high:
            raise RuntimeError(
                "uniform_ expects to return a [from, to) range, but found "
                f"from={float(low):g} > to={float(high):g}"
            )
        big = float(ml_dtypes.finfo(dtype).max)
        if not (-big <= low and high <= big and high - low <= big):
            raise ValueError(f"uniform_ bounds [{low}, {high}) are out of range for {dtype}")
        op = _opmath(dtype)
        lo, hi = op.type(low), op.type(high)
        x = self._unit(math.prod(shape), op)
        # ATen computes x * (to - from) + from; GCC contracts it into one FMA.
        out = _cast(_fma(x, hi - lo, lo), dtype)
        # A value that rounds up to `high` is replaced by `low`, as ATen does.
        out[out == _cast(np.float64(high), dtype)] = _cast(np.float64(low), dtype)
        return out.reshape(shape)

    def skip_uniform(self, shape: Shape, dtype: np.dtype) -> None:
        """Advance the generator past ``uniform(shape, dtype, ...)`` without making values:
        for a layer whose default initialisation its model overwrites."""
        n = math.prod(_shape(shape)) * (2 if _opmath(_float_dtype(dtype)) == np.float64 else 1)
        if n:
            self._bitgen.random_raw(n, output=False)

    def normal(self, shape: Shape, dtype: np.dtype, mean: float, std: float) -> np.ndarray:
        """``Tensor.normal_(mean, std)``."""
        shape, dtype = _shape(shape), _float_dtype(dtype)
        if not std >= 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {float(std):g}")
        n = math.prod(shape)
        if n < 16:
            return self._normal_scalar(n, dtype, mean, std).reshape(shape)
        # Contiguous tensors of >= 16 elements: Box-Muller on blocks of 16 uniforms
        # (first 8 give radii, last 8 angles); a ragged tail recomputes the last 16
        # outputs from 16 fresh uniforms. This path ignores the cached normal.
        op = _opmath(dtype)
        fill = _box_muller16_f64 if op == np.float64 else _box_muller16_f32
        m, s = op.type(mean), op.type(std)
        full = n - n % 16
        out = np.empty(n, op)
        # float/double draw all n uniforms into the output first (the ragged ones are
        # then overwritten); half types draw block by block through a 16-float buffer.
        u = self._unit(n if dtype == op else full, op)
        for i in range(0, full, _CHUNK):  # cache-sized pieces run ~1.5x faster
            out[i : min(i + _CHUNK, full)] = fill(u[i : min(i + _CHUNK, full)], m, s)
        if n % 16:
            out[n - 16 :] = fill(self._unit(16, op), m, s)
        return _cast(out, dtype).reshape(shape)

    def _normal_scalar(self, n: int, dtype: np.dtype, mean: float, std: float) -> np.ndarray:
        """``normal_distribution<double>``, one value at a time as ATen draws them: a cached
        value first, then pairs from two 53-bit uniforms (cos, then sin), the last sin of an odd
        count cached for the next call."""
        z = np.empty(n, np.float64)
        start = 0
        if n and self._next_normal is not None:
            z[0], self._next_normal, start = self._next_normal, None, 1
        pairs = (n - start + 1) // 2
        u = self._unit(2 * pairs, np.dtype(np.float64)).reshape(pairs, 2)
        # libm through `math`, exactly the functions ATen calls.
        r = np.sqrt(-2.0 * _libm(math.log1p, -u[:, 1]))
        theta = 2.0 * math.pi * u[:, 0]
        drawn = np.stack([r * _libm(math.cos, theta), r * _libm(math.sin, theta)], 1).ravel()
        z[start:] = drawn[: n - start]
        if (n - start) % 2:
            self._next_normal = float(drawn[-1])
        return _cast(_fma64(z, np.float64(std), np.float64(mean)), dtype)

    def exponential(self, shape: Shape, dtype: np.dtype, lambd: float = 1.0) -> np.ndarray:
        """``Tensor.exponential_(lambd)``: ``-1 / lambd * log1p(-u)`` in double for every dtype,
        ``u`` a 53-bit uniform (``exponential_distribution<double>``), then rounded."""
        shape, dtype = _shape(shape), _float_dtype(dtype)
        if not lambd > 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
        u = self._unit(math.prod(shape), np.dtype(np.float64))
        return _cast((-1.0 / lambd) * _libm(math.log1p, -u), dtype).reshape(shape)

    def cauchy(self, shape: Shape, dtype: np.dtype, median: float, sigma: float) -> np.ndarray:
        """``Tensor.cauchy_(median, sigma)``: ``median + sigma * tan(pi * (u - 0.5))`` in double,
        ``u`` a 53-bit uniform, then rounded."""
        shape, dtype = _shape(shape), _float_dtype(dtype)
        if not sigma > 0:
            raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
        u = self._unit(math.prod(shape), np.dtype(np.float64))
        return _cast(median + sigma * _libm(math.tan, math.pi * (u - 0.5)), dtype).reshape(shape)

    def log_normal(self, shape: Shape, dtype: np.dtype, mean: float, std: float) -> np.ndarray:
        """``Tensor.log_normal_(mean, std)``: ``exp`` of double normals drawn one at a time
        (``lognormal_distribution<double>``, the cached normal included), then rounded."""
        shape, dtype = _shape(shape), _float_dtype(dtype)
        if not std > 0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
        z = self._normal_scalar(math.prod(shape), np.dtype(np.float64), mean, std)
        return _cast(_libm(math.exp, z), dtype).reshape(shape)

    def geometric(self, shape: Shape, dtype: np.dtype, p: float) -> np.ndarray:
        """``Tensor.geometric_(p)``: trials to the first success, ``ceil(log(u) / log1p(-p))``
        in double, ``u`` a 53-bit uniform; integer dtypes too."""
        shape = _shape(shape)
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
        u = self._unit(math.prod(shape), np.dtype(np.float64))
        return _cast(np.ceil(_libm(math.log, u) / math.log1p(-p)), np.dtype(dtype)).reshape(shape)

    def poisson(self, rates: np.ndarray) -> np.ndarray:
        """``torch.poisson``: one count per rate, drawn in order as ATen's ``sample_poisson``
        draws it (53-bit uniforms): a product of uniforms below rate 10, Hoermann's
        transformed rejection from 10 up. Counts as float64."""
        flat = rates.ravel().tolist()
        if not all(r >= 0 for r in flat):  # NaN too
            raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")

        def unit() -> float:
            return float(self._unit(1, np.dtype(np.float64))[0])

        return np.array([_poisson_count(r, unit) for r in flat], np.float64).reshape(rates.shape)

    def multinomial(self, probs: np.ndarray, n: int, replacement: bool) -> np.ndarray:
        """``torch.multinomial`` on a 1-D or 2-D array of weights (checked by the caller):
        int64 category indices, ``n`` per row.

        Without replacement, or for one sample, ATen takes the ``n`` largest ``probs / q``,
        ``q`` exponential (the Gumbel trick); with replacement it searches each row's
        normalised cumulative sums for ``n`` uniforms, row by row.
        """
        if not replacement or n == 1:
            _check_probs(probs)
            q = probs / self.exponential(probs.shape, probs.dtype)
            if n == 1:
                return np.argmax(q, axis=-1, keepdims=True).astype(np.int64)
            return np.argsort(-q, axis=-1, kind="stable")[..., :n].astype(np.int64)
        rows = probs.reshape(-1, probs.shape[-1])
        acc = np.float32 if probs.dtype in (np.float16, _BF16) else probs.dtype
        out = np.empty((len(rows), n), np.int64)
        for i, row in enumerate(rows):
            row = row.astype(acc)
            if not (row >= 0).all():  # NaN fails here too, as in ATen's loop
                raise RuntimeError(
                    "invalid multinomial distribution (encountering probability entry < 0)"
                )
            if not np.isfinite(row).all():
                raise RuntimeError(
                    "invalid multinomial distribution (encountering probability entry = "
                    "infinity or NaN)"
                )
            cum = np.add.accumulate(row, dtype=acc)  # one running sum, in the row's type
            total = cum[-1]
            if not total > 0:
                raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
            cum /= total
            cum[-1] = 1
            u = self._unit(n, np.dtype(np.float64))
            out[i] = np.searchsorted(cum.astype(np.float64), u, side="left")
        return out.reshape(*probs.shape[:-1], n)

    def randint(self, low: int, high: int, shape: Shape, dtype: np.dtype) -> np.ndarray:
        """``torch.randint(low, high, shape)``: ``(word % (high - low)) + low``."""
        shape, dtype = _shape(shape), np.dtype(dtype)
        low, high = int(low), int(high)
        if not low < high:
            raise ValueError(
                f"random_ expects 'from' to be less than 'to', but got {low} >= {high}"
            )
        span, n = high - low, math.prod(shape)
        if span > _U64:
            raise ValueError(f"randint range [{low}, {high}) exceeds 2**64")
        words = self._u64(n) if span >= _RANDINT_64_FROM else self._u32(n)
        # uint64 arithmetic wraps exactly like the C++ (val % range) + base.
        v = ((words % np.uint64(span)) + np.uint64(low & _U64)).view(np.int64)
        if dtype in (np.dtype(np.float16), _BF16):
            v = v.astype(np.float32)  # c10 half types convert through float
        return v.astype(dtype).reshape(shape)

    def random(self, shape: Shape, dtype: np.dtype) -> np.ndarray:
        """``Tensor.random_()``: a word modulo ``max + 1`` for integer dtypes, ``2**digits + 1``
        for floating ones (the integers they hold exactly), its low bit for bool. int64 and
        float64 draw 64-bit words, the others 32-bit ones."""
        shape, dtype = _shape(shape), np.dtype(dtype)
        n = math.prod(shape)
        wide = dtype in (np.dtype(np.int64), np.dtype(np.float64))
        words = self._u64(n) if wide else self._u32(n)
        if dtype == np.bool_:
            return (words & np.uint64(1)).astype(bool).reshape(shape)
        digits = _DIGITS.get(dtype)
        span = (1 << digits) + 1 if digits else int(np.iinfo(dtype).max) + 1
        v = words % np.uint64(span)
        if dtype in (np.dtype(np.float16), _BF16):
            v = v.astype(np.float32)  # c10 half types convert through float
        return v.astype(dtype).reshape(shape)

    def randperm(self, n: int) -> np.ndarray:
        """``torch.randperm(n)`` (int64)."""
        n = int(n)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        if n < _RANDPERM_SMALL:
            return _swap_shuffle(self._u32(max(n - 1, 0)).astype(np.int64), n)
        return _inside_out_shuffle(self._u64(n), n)

    def bernoulli(self, p: float | np.ndarray, shape: Shape, dtype: np.dtype) -> np.ndarray:
        """``Tensor.bernoulli_(p)`` (what dropout uses): ``uniform < p``.

        A float ``p`` (or a float64 array) compares against 53-bit uniforms; other float
        arrays, like ``torch.bernoulli(tensor)`` with a float32 tensor, against 24-bit ones.
        """
        shape, dtype = _shape(shape), np.dtype(dtype)
        if np.ndim(p) == 0 and not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={float(p):g}")
        pa = np.asarray(p)
        op = np.dtype(np.float32) if pa.dtype in _FLOATS[:3] else np.dtype(np.float64)
        pa = np.broadcast_to(pa.astype(op), shape)
        if not ((pa >= 0) & (pa <= 1)).all():
            raise ValueError("bernoulli expects 0 <= p <= 1")
        hit = self._unit(math.prod(shape), op).reshape(shape) < pa
        return hit.astype(dtype)


# ------------------------------------------------------------------ helpers


_INT64_MIN = -(1 << 63)  # what C's conversion of an infinite or NaN double to int64 gives


def _poisson_count(rate: float, unit: Callable[[], float]) -> int:
    """ATen's ``sample_poisson(rate)``, statement for statement, libm through ``math``."""
    if rate == 0:
        return 0
    if rate < 10:
        enlam, count, prod = math.exp(-rate), 0, 1.0
        while True:
            prod *= unit()
            if prod <= enlam:
                return count
            count += 1
    slam, loglam = math.sqrt(rate), math.log(rate)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = unit() - 0.5
        v = unit()
        us = 0.5 - abs(u)
        z = (2 * a / us + b) * u + rate + 0.43
        k = math.floor(z) if math.isfinite(z) else _INT64_MIN
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= (
            -rate + k * loglam - math.lgamma(k + 1)
        ):
            return k


def _check_probs(probs: np.ndarray) -> None:
    """ATen's checks before the exponential draw of ``multinomial``."""
    wide = probs.astype(np.float64)
    if not (wide.size and wide.max() < math.inf and wide.min() >= 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (wide.sum(axis=-1) == 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")


def _shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(d) for d in shape)


def _float_dtype(dtype: np.dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in _FLOATS:
        raise TypeError(
            f"expected a floating dtype (float16/bfloat16/float32/float64), got {dtype}"
        )
    return dtype


def _opmath(dtype: np.dtype) -> np.dtype:
    """ATen computes half types in float and double in double."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """C++ ``static_cast``: c10::Half/BFloat16 are built from float, so doubles round twice."""
    x = np.asarray(x)
    if dtype in (np.dtype(np.float16), _BF16) and x.dtype == np.float64:
        x = x.astype(np.float32)
    return x.astype(dtype)


def _round_odd_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` rounded to odd: a later rounding to fewer bits is then exact (Boldo)."""
    s = a + b
    bp = s - a
    err = (a - (s - bp)) + (b - bp)  # TwoSum: a + b == s + err exactly
    fix = (err != 0) & ((s.view(np.int64) & 1) == 0)
    return np.where(fix, np.nextafter(s, np.copysign(np.inf, err)), s)


def _fma32(a: np.ndarray, b: np.ndarray | np.float32, c: np.ndarray | np.float32) -> np.ndarray:
    """Single-rounding float32 ``a * b + c`` (for normal, not subnormal, results).

    The float64 product is exact, so rounding ``p + c`` to float64 and then to float32
    is wrong only when the float64 sum was inexact and landed exactly on a float32
    midpoint; those rare lanes are redone with the exact TwoSum error.
    """
    if np.ndim(b) == 0 and b == 1:  # exact product: a plain float32 add rounds once
        return np.add(a, c, dtype=np.float32)
    if np.ndim(c) == 0 and c == 0:  # a float32 product rounds once; adding c (+-0) after
        return np.multiply(a, b, dtype=np.float32) + np.float32(c)  # gives fma's zero sign
    # In place where it can be: allocating float64 temporaries costs more than the arithmetic.
    s = np.multiply(a, b, dtype=np.float64)
    s += c
    out = s.astype(np.float32)
    bits = s.view(np.int64)
    bits &= 0x1FFFFFFF
    tie = np.flatnonzero(bits == 0x10000000)
    if tie.size:  # rare: the product and sum are redone for these lanes only
        at = np.unravel_index(tie, s.shape)
        pt = _lanes(a, at, s.shape) * _lanes(b, at, s.shape)
        ct = _lanes(c, at, s.shape)
        st = pt + ct
        bp = st - pt
        err = (pt - (st - bp)) + (ct - bp)  # TwoSum: p + c == s + err exactly
        down = (st.view(np.int64) & ~0x1FFFFFFF).view(np.float64).astype(np.float32)
        away = np.nextafter(down, np.copysign(np.float32(np.inf), down))
        flat = out.reshape(-1)  # a view: `out` is freshly allocated
        flat[tie] = np.where(err == 0, flat[tie], np.where((err > 0) == (st > 0), away, down))
    return out


def _lanes(v, at: tuple, shape: tuple) -> np.ndarray:
    """``v`` broadcast to ``shape``, at the positions ``at``, as float64 (no full copy)."""
    return np.broadcast_to(v, shape)[at].astype(np.float64)


def _fma64(a: np.ndarray, b: np.ndarray | np.float64, c: np.ndarray | np.float64) -> np.ndarray:
    """Single-rounding float64 ``a * b + c`` (Dekker product, Boldo-Melquiond sum)."""
    if np.ndim(b) == 0 and b == 1:  # exact product: a plain add rounds once
        return np.add(a, c, dtype=np.float64)
    a, b, c = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, c)))
    hi = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    lo = ((ah * bh - hi) + ah * bl + al * bh) + al * bl  # a * b == hi + lo exactly
    s = c + hi
    bp = s - c
    err = (c - (s - bp)) + (hi - bp)
    return s + _round_odd_sum(err, lo)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = a * 134217729.0  # 2**27 + 1: Veltkamp split into two 26-bit halves
    hi = t - (t - a)
    return hi, a - hi


def _fma(a: np.ndarray, b: np.floating, c: np.floating) -> np.ndarray:
    return _fma64(a, b, c) if a.dtype == np.float64 else _fma32(a, b, c)


def _libm(f: Callable[[float], float], x: np.ndarray) -> np.ndarray:
    """Apply a libm function elementwise; numpy's own log differs from glibc in the last bit."""
    return np.fromiter(map(f, x.ravel().tolist()), np.float64, x.size).reshape(x.shape)


def _box_muller16_f64(u: np.ndarray, mean: np.float64, std: np.float64) -> np.ndarray:
    """``NormalFill16<double>``: std::log/cos/sin from libm, then std::fma."""
    u = u.reshape(-1, 16)
    radius = np.sqrt(-2.0 * _libm(math.log, 1.0 - u[:, :8]))
    theta = (2.0 * math.pi) * u[:, 8:]
    cos = _fma64(radius * _libm(math.cos, theta), std, mean)
    sin = _fma64(radius * _libm(math.sin, theta), std, mean)
    return np.concatenate([cos, sin], axis=1).ravel()


def _box_muller16_f32(u: np.ndarray, mean: np.float32, std: np.float32) -> np.ndarray:
    """``NormalFill16<float>`` (AVX2): avx_mathfun's log256_ps/sincos256_ps, then fmadd."""
    f = np.float32
    u = u.reshape(-1, 16)
    # Contiguous halves: every later pass then runs over contiguous memory (1.5x faster).
    radius = np.sqrt(f(-2.0) * _log256_ps(np.subtract(f(1.0), u[:, :8])))
    sin, cos = _sincos256_ps(np.multiply(f(2.0 * math.pi), u[:, 8:]))
    out = np.empty(u.shape, f)
    cos *= radius
    sin *= radius
    out[:, :8] = _fma32(cos, std, mean)
    out[:, 8:] = _fma32(sin, std, mean)
    return out.ravel()


# avx_mathfun.h (Cephes polynomials) in float32. GCC builds ATen with FMA contraction,
# so every `_mm256_add_ps(_mm256_mul_ps(a, b), c)` pair becomes one fused multiply-add;
# the _fma32 calls below sit exactly where it fuses. Selections are bit masks, as in the
# intrinsics, and work in place where they can: numpy's passes are the cost here.
_LOG_P = [
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
]  # fmt: skip
_I32 = np.int32


def _all_bits(mask: np.ndarray) -> np.ndarray:
    """A bool mask as int32 lanes of all ones (True) or zeros, like a vector compare."""
    return np.negative(mask.view(np.int8).astype(_I32))


def _log256_ps(x: np.ndarray) -> np.ndarray:
    """Cephes logf for normal positive float32 inputs (ours lie in (0, 1])."""
    f = np.float32
    bits = x.view(_I32)
    e = ((bits >> 23) - 0x7F).astype(f)
    e += f(1)
    x = ((bits & ~0x7F800000) | f(0.5).view(_I32)).view(f)  # mantissa in [0.5, 1)
    small = x < f(0.707106781186547524)
    e -= small
    x_small = (x.view(_I32) & _all_bits(small)).view(f)  # x where small, else +0
    x -= f(1)
    x += x_small
    z = x * x
    y = _fma32(x, f(_LOG_P[0]), f(_LOG_P[1]))
    for p in _LOG_P[2:]:
        y = _fma32(y, x, f(p))
    y = _fma32(y * x, z, e * f(-2.12194440e-4))
    y -= z * f(0.5)  # products by 0.5, and e * 0.693359375 (9 bits), are exact:
    y += x  # fused or not, these round once
    y += e * f(0.693359375)
    return y


def _sincos256_ps(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cephes sinf/cosf pair for non-negative float32 inputs (our angles are in [0, 2pi))."""
    f = np.float32
    j = (x * f(1.27323954473516)).astype(_I32)  # truncate, then round to even
    j += 1
    j &= ~1
    y = j.astype(f)
    # Extended-precision reduction by pi/4; y <= 8 times the 8- and 11-bit constants
    # is exact, so only the last step depends on the fusion.
    x = x + y * f(-0.78515625)
    x += y * f(-2.4187564849853515625e-4)
    x = _fma32(y, f(-3.77489497744594108e-8), x)
    poly = _all_bits((j & 2) == 0)  # lanes where the sine polynomial gives the sine
    z = x * x
    c = _fma32(_fma32(z, f(2.443315711809948e-5), f(-1.388731625493765e-3)), z,
               f(4.166664568298827e-2))  # fmt: skip
    c = _fma32(c * z, z, -(z * f(0.5)))
    c += f(1)
    s = _fma32(_fma32(z, f(-1.9515295891e-4), f(8.3321608736e-3)), z,
               f(-1.6666654611e-1))  # fmt: skip
    s = _fma32(s * z, x, x)
    # Same blend as the intrinsics (the adds of +0 matter only for signed zeros).
    s_sel = (s.view(_I32) & poly).view(f)
    c_sel = (c.view(_I32) & ~poly).view(f)
    sin = c_sel + s_sel
    c -= c_sel
    s -= s_sel
    cos = c
    cos += s
    sin.view(_I32)[...] ^= (j & 4) << 29  # sign flips: bit 2 of the octant moves to bit 31
    cos.view(_I32)[...] ^= (~(j - 2) & 4) << 29
    return sin, cos


def _last_index(keys: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
    """``out[k]`` = largest ``idx[i]`` with ``keys[i] == k``, or -1."""
    out = np.full(size, -1, np.int64)
    np.maximum.at(out, keys, idx)
    return out


def _prev_same(keys: np.ndarray) -> np.ndarray:
    """``out[i]`` = largest ``m < i`` with ``keys[m] == keys[i]``, or -1."""
    order = np.argsort(keys, kind="stable")
    out = np.full(keys.size, -1, np.int64)
    same = keys[order[1:]] == keys[order[:-1]]
    out[order[1:][same]] = order[:-1][same]
    return out


def _resolve(ptr: np.ndarray) -> np.ndarray:
    """Follow ``ptr`` chains (which end in self-loops) to their ends by pointer jumping."""
    while True:
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            return ptr
        ptr = nxt


def _swap_shuffle(words: np.ndarray, n: int) -> np.ndarray:
    """Result of ``for i < n-1: swap(a[i], a[i + words[i] % (n - i)])`` on ``a = arange(n)``.

    Position i is final after step i, holding what position j_i held just before;
    that is what the last earlier step aimed at j_i left there, which is found by
    chasing "last step that wrote here" links with pointer jumping instead of a loop.
    """
    if n <= 1:
        return np.arange(n, dtype=np.int64)
    steps = np.arange(n - 1, dtype=np.int64)
    target = steps + words % (n - steps)
    # before[k]: content of position k just before step k (k = n-1: at the end).
    moved = target != steps
    last_in = _last_index(target[moved], steps[moved], n)
    before = _resolve(np.where(last_in >= 0, last_in, np.arange(n)))
    prev = _prev_same(target)
    out = np.empty(n, np.int64)
    out[:-1] = np.where(prev >= 0, before[np.maximum(prev, 0)], target)
    out[-1] = before[-1]
    return out


def _inside_out_shuffle(words: np.ndarray, n: int) -> np.ndarray:
    """Result of ``for i < n: z = words[i] % (i + 1); a[i] = a[z]; a[z] = i``.

    Position p ends holding the last i that chose z_i == p; if none chose it, it keeps
    what step p copied from z_p, found by following z links with pointer jumping.
    """
    steps = np.arange(n, dtype=np.int64)
    z = (words % (steps + 1).astype(np.uint64)).astype(np.int64)
    last = _last_index(z, steps, n)
    prev = _prev_same(z)
    ends = _resolve(np.where(prev >= 0, steps, z))
    return np.where(last >= 0, last, prev[ends])


# ----------------------------------------------------------- module level

default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator (``torch.manual_seed``) and return it."""
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    """``torch.initial_seed``."""
    return default_generator.initial_seed()


def seed() -> int:
    """``torch.seed``: reseed the default generator nondeterministically."""
    return default_generator.seed()


def get_rng_state() -> np.ndarray:
    """``torch.get_rng_state`` (an opaque uint8 array, not torch's byte layout)."""
    return default_generator.get_state()


def set_rng_state(state: np.ndarray | Sequence[int]) -> None:
    """``torch.set_rng_state`` for a state from :func:`get_rng_state`."""
    default_generator.set_state(state)
