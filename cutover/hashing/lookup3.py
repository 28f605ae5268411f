"""PostgreSQL's own hash functions, recomputed over numpy arrays.

PostgreSQL hashes values with Bob Jenkins' lookup3 (``src/common/hashfn.c``). Its SQL-callable extended
hash functions (``hashint8extended``, ``hashtextextended``, ``uuid_hash_extended``, ...) are the cheapest
per-value digest it can compute: a row hash built from them costs about a third of ``t::text`` alone.
Recomputing the same functions here over Arrow buffers lets the Iceberg side produce the very same 64-bit
values with no text form at all.

Written by hand: no library exposes lookup3 over arrays. The loops are compiled by numba (imported on
first use, compiled once and cached on disk), because lookup3 over variable-length strings is a per-row
loop that vectorized numpy runs 10x slower. Every function is pinned by tests against the PostgreSQL
function it mirrors (``tests/hashing/test_lookup3.py``).

Arithmetic is on int64 values holding 32-bit words, masked after every step: that is exactly C's
``uint32`` wrap-around, with no mixed signed/unsigned typing for numba to guess about.
"""

from __future__ import annotations

import importlib.abc
import sys
from functools import cache
from types import FrameType
from typing import Any

import numpy as np
import numpy.typing as npt

UInt64Array = npt.NDArray[np.uint64]
_M32 = 0xFFFFFFFF


@cache
def _kernels() -> Any:
    """The compiled loops (numba is imported on first use: ~0.4 s, less the SciPy probes :class:`_NoBlasProbe`
    skips)."""
    skip = _NoBlasProbe()
    sys.meta_path.insert(0, skip)
    try:
        import numba.np.arraymath  # noqa: F401 - the BLAS probe runs here (else at the first compile or cache load)

        from cutover.hashing import _lookup3_kernels
    finally:
        sys.meta_path.remove(skip)
    return _lookup3_kernels


class _NoBlasProbe(importlib.abc.MetaPathFinder):
    """Answers numba's probes for SciPy with "not installed" while numba loads.

    numba imports ``scipy`` to check its version and, in ``numba.np.arraymath``, ``scipy.linalg.cython_blas``
    to learn whether compiled code may call ``np.dot`` and friends: 0.2-0.25 s of CPU in every process that
    hashes (``scipy.linalg`` brings ``numpy.f2py``), for loops that call no linear algebra. This finder
    refuses SciPy to those two probes alone (imports whose caller is one of them); every other import, in
    any thread, goes on to the next finder. Written by hand: numba has no switch for either probe.
    """

    PROBES = (("_ensure_critical_deps", "numba/__init__.py"), ("ensure_blas", "numba/np/linalg.py"))

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if (name == "scipy" or name.startswith("scipy.")) and self._called_from_probe():
            raise ImportError("cutover: numba's SciPy probe skipped (the hash kernels use no SciPy)")
        return None

    def _called_from_probe(self) -> bool:
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            filename = code.co_filename.replace("\\", "/")
            if any(code.co_name == name and filename.endswith(suffix) for name, suffix in self.PROBES):
                return True
            frame = frame.f_back
        return False


def warm_up() -> None:
    """Import numba and load the compiled loops now (from its on-disk cache), through every public path.

    The first use in a process costs about a second of CPU (numba's import, its CPU target, the cached
    machine code). A validation starts this on a thread before it talks to PostgreSQL, so the cost
    overlaps the waits for the source instead of competing with the parity's own scan. The arguments
    have the types real calls have, so the same cached specializations load.
    """
    data = np.zeros(8, dtype=np.uint8)
    hash_bytes(data, np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64), 0)
    hash_int64(np.zeros(1, dtype=np.int64), 0)
    frozen = np.zeros((1, 2), dtype=np.int64)  # Arrow's buffers reach numba read-only: their own specialization
    frozen.flags.writeable = False
    hash_fixed(frozen, 0)
    hash_numeric(np.zeros(1, dtype=np.int64), 12, 2, 0)


def _seed_parts(seed: int) -> tuple[int, int]:
    seed &= 0xFFFFFFFFFFFFFFFF
    return seed >> 32, seed & _M32


# --- the public functions ----------------------------------------------------------------------------
def hash_bytes(
    data: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64], seed: int
) -> UInt64Array:
    """``hash_bytes_extended`` of the byte strings ``data[starts[i] : starts[i] + lengths[i]]``.

    What ``hashtextextended`` computes for a deterministic collation.
    """
    out = np.empty(len(starts), dtype=np.int64)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    _kernels().hash_ranges(data, starts.astype(np.int64, copy=False), lengths.astype(np.int64, copy=False),
                         *_seed_parts(seed), out)  # fmt: skip
    return out.view(np.uint64)


def hash_fixed(data: npt.NDArray[Any], seed: int) -> UInt64Array:
    """``hash_bytes_extended`` of every row of a 2-D array of fixed-width values (their bytes, in order)."""
    rows = np.ascontiguousarray(data)
    width = rows.itemsize * (rows.shape[1] if rows.ndim == 2 else 1)
    out = np.empty(rows.shape[0], dtype=np.int64)
    _kernels().hash_fixed(rows.reshape(-1).view(np.uint8), width, *_seed_parts(seed), out)
    return out.view(np.uint64)


def hash_uint32(values: npt.NDArray[np.uint32], seed: int) -> UInt64Array:
    """``hash_bytes_uint32_extended``: what ``hashint4extended`` and ``hashint2extended`` compute."""
    return hash_fixed(values.astype("<u4", copy=False), seed)


def fold_int64(values: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
    """``hashint8``'s fold of an int64 into 32 bits (compatible with ``hashint4`` for small values)."""
    low = values.astype(np.uint32)
    high = (values >> 32).astype(np.uint32)
    np.invert(high, out=high, where=values < 0)
    return np.bitwise_xor(low, high)


def hash_int64(values: npt.NDArray[np.int64], seed: int) -> UInt64Array:
    """``hashint8extended`` (also ``timestamp_hash_extended``, ``time_hash_extended``)."""
    return hash_uint32(fold_int64(values), seed)


def hash_float64(values: npt.NDArray[np.float64], seed: int) -> UInt64Array:
    """``hashfloat8extended`` (and ``hashfloat4extended`` of the value widened to float8).

    ±0 hash to the seed itself and every NaN to PostgreSQL's one NaN, as PostgreSQL does.
    """
    canonical = np.where(np.isnan(values), np.float64("nan"), values).astype("<f8")
    out = hash_fixed(canonical, seed)
    out[values == 0] = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    return out


def hash_numeric(unscaled: npt.NDArray[np.int64], precision: int, scale: int, seed: int) -> UInt64Array:
    """``hash_numeric_extended`` of numeric(precision, scale) values given as unscaled integers.

    PostgreSQL hashes the base-10000 digits with leading and trailing zero digits stripped, XORed with
    the weight of the first digit, so 1.5 and 1.50 hash alike (they are equal numerics). Requires
    precision ≤ 18 (the unscaled value fits an int64). The sign is not part of PostgreSQL's hash; callers
    that care pass a different seed for negative values.
    """
    if precision > 18 or scale < 0 or scale > precision:
        raise ValueError(f"hash_numeric handles numeric(p<=18, 0<=s<=p), not ({precision},{scale})")
    out = np.empty(len(unscaled), dtype=np.int64)
    zero = ((seed - 1) & 0xFFFFFFFFFFFFFFFF) - (1 << 64 if (seed - 1) & (1 << 63) else 0)
    int_digits = -(-(precision - scale) // 4)
    _kernels().hash_numerics(np.ascontiguousarray(unscaled, dtype=np.int64), int_digits, scale,
                           *_seed_parts(seed), zero, out)  # fmt: skip
    return out.view(np.uint64)
