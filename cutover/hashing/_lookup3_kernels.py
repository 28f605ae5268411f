"""The compiled loops of :mod:`cutover.hashing.lookup3` (import that module, not this one).

lookup3 as in PostgreSQL's ``src/common/hashfn.c``, on int64 values holding 32-bit words masked after
every step (C's ``uint32`` wrap-around, with no mixed signed/unsigned typing for numba to guess about).
Compiled once and cached on disk (``NUMBA_CACHE_DIR`` where the package directory is read-only).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

_M32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9 + 3923095
_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True}


@numba.njit(inline="always", **_OPTIONS)
def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


@numba.njit(inline="always", **_OPTIONS)
def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = ((a - c) & _M32) ^ _rot(c, 4)
    c = (c + b) & _M32
    b = ((b - a) & _M32) ^ _rot(a, 6)
    a = (a + c) & _M32
    c = ((c - b) & _M32) ^ _rot(b, 8)
    b = (b + a) & _M32
    a = ((a - c) & _M32) ^ _rot(c, 16)
    c = (c + b) & _M32
    b = ((b - a) & _M32) ^ _rot(a, 19)
    a = (a + c) & _M32
    c = ((c - b) & _M32) ^ _rot(b, 4)
    b = (b + a) & _M32
    return a, b, c


@numba.njit(inline="always", **_OPTIONS)
def _final(a: int, b: int, c: int) -> tuple[int, int, int]:
    c = ((c ^ b) - _rot(b, 14)) & _M32
    a = ((a ^ c) - _rot(c, 11)) & _M32
    b = ((b ^ a) - _rot(a, 25)) & _M32
    c = ((c ^ b) - _rot(b, 16)) & _M32
    a = ((a ^ c) - _rot(c, 4)) & _M32
    b = ((b ^ a) - _rot(a, 14)) & _M32
    c = ((c ^ b) - _rot(b, 24)) & _M32
    return a, b, c


@numba.njit(inline="always", **_OPTIONS)
def _word(data: Any, p: int) -> int:
    return int(data[p]) | (int(data[p + 1]) << 8) | (int(data[p + 2]) << 16) | (int(data[p + 3]) << 24)


@numba.njit(inline="always", **_OPTIONS)
def _start(length: int, seed_hi: int, seed_lo: int) -> tuple[int, int, int]:
    """The state before the first byte: it depends only on the length and the seed, so the loops below
    compute it once per length rather than once per value (for short values, half the work)."""
    a = b = c = (_GOLDEN + length) & _M32
    if seed_hi != 0 or seed_lo != 0:
        a = (a + seed_hi) & _M32
        b = (b + seed_lo) & _M32
        a, b, c = _mix(a, b, c)
    return a, b, c


@numba.njit(**_OPTIONS)
def _starts(lengths: int, seed_hi: int, seed_lo: int) -> Any:
    """:func:`_start` of every length below ``lengths``, one row each."""
    table = np.empty((lengths, 3), dtype=np.int64)
    for length in range(lengths):
        table[length, 0], table[length, 1], table[length, 2] = _start(length, seed_hi, seed_lo)
    return table


def _hash_body(data: Any, p: int, length: int, a: int, b: int, c: int) -> int:
    """``hash_bytes_extended(data + p, length, seed)`` from the state :func:`_start` gave, as a signed int64."""
    n = length
    while n >= 12:
        a = (a + _word(data, p)) & _M32
        b = (b + _word(data, p + 4)) & _M32
        c = (c + _word(data, p + 8)) & _M32
        a, b, c = _mix(a, b, c)
        p += 12
        n -= 12
    for j in range(n):  # the last 0..11 bytes; the lowest byte of c is reserved for the length
        byte = int(data[p + j])
        if j < 4:
            a += byte << (8 * j)
        elif j < 8:
            b += byte << (8 * (j - 4))
        else:
            c += byte << (8 * (j - 7))
    a, b, c = _final(a & _M32, b & _M32, c & _M32)
    return (b << 32) | c


# Called (and inlined by LLVM) from the variable-length loop; inlined into the fixed-width loop by numba
# itself, which then keeps the state in registers: 1.8x faster there, but slower for strings (measured).
# Only the first is ever compiled on its own, so the two never meet in the on-disk cache (both are named
# after ``_hash_body``; it would hold the same code for the same signature anyway).
_hash_from = numba.njit(**_OPTIONS)(_hash_body)
_hash_inlined = numba.njit(inline="always", **_OPTIONS)(_hash_body)


@numba.njit(**_OPTIONS)
def hash_ranges(data: Any, starts: Any, lengths: Any, seed_hi: int, seed_lo: int, out: Any) -> None:
    for i in range(len(starts)):  # (a table of start states by length measured slower than this)
        a, b, c = _start(lengths[i], seed_hi, seed_lo)
        out[i] = _hash_from(data, starts[i], lengths[i], a, b, c)


@numba.njit(**_OPTIONS)
def hash_fixed(data: Any, width: int, seed_hi: int, seed_lo: int, out: Any) -> None:
    a, b, c = _start(width, seed_hi, seed_lo)
    for i in range(len(out)):
        out[i] = _hash_inlined(data, i * width, width, a, b, c)


@numba.njit(**_OPTIONS)
def hash_numerics(
    unscaled: Any, int_digits: int, scale: int, seed_hi: int, seed_lo: int, null_digits: int, out: Any
) -> None:
    """``hash_numeric_extended``: base-10000 digits, leading/trailing zero digits stripped, XOR weight."""
    frac_digits = (scale + 3) // 4
    width = int_digits + frac_digits
    digits = np.zeros(2 * width, dtype=np.uint8)
    table = _starts(2 * width + 1, seed_hi, seed_lo)
    ten_pow_scale = np.int64(10) ** scale
    for i in range(len(unscaled)):
        magnitude = abs(unscaled[i])
        integer = magnitude // ten_pow_scale
        fraction = magnitude - integer * ten_pow_scale
        first, last = -1, -1
        for d in range(width):
            if d < int_digits:
                value = (integer // np.int64(10000) ** (int_digits - 1 - d)) % 10000
            else:
                k = d - int_digits
                exponent = scale - 4 * (k + 1)
                if exponent >= 0:
                    value = (fraction // np.int64(10) ** exponent) % 10000
                else:
                    value = (fraction % np.int64(10) ** (scale - 4 * k)) * np.int64(10) ** (-exponent)
            digits[2 * d] = value & 0xFF
            digits[2 * d + 1] = value >> 8
            if value != 0:
                if first < 0:
                    first = d
                last = d
        if first < 0:
            out[i] = null_digits  # zero: seed - 1
            continue
        length = 2 * (last - first + 1)
        h = _hash_from(digits, 2 * first, length, table[length, 0], table[length, 1], table[length, 2])
        out[i] = h ^ np.int64(int_digits - 1 - first)
