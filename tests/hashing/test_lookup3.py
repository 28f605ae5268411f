"""The numpy/numba lookup3 port computes exactly what PostgreSQL's own hash functions compute."""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from cutover.hashing import lookup3
from cutover.hashing.rowhash import _hash_strings

SEEDS = [0, 7, -3 % (1 << 64), (1 << 62) + 11, (1 << 64) - 5]


def _signed(seed: int) -> int:
    return seed - (1 << 64) if seed >= 1 << 63 else seed


def _pg(conn: psycopg.Connection, function: str, cast: str, values: list[object], seed: int) -> list[int]:
    rows = conn.execute(
        f"select {function}(v::{cast}, %s) from unnest(%s::text[]) with ordinality as u(v, o) order by o",
        (_signed(seed), [None if v is None else str(v) for v in values]),
    ).fetchall()
    return [r[0] % (1 << 64) for r in rows]


@pytest.fixture(scope="module")
def pg() -> Iterator[psycopg.Connection]:
    from tests.conftest import ADMIN_DSN

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("seed", SEEDS)
def test_int4_and_int8_match_hashint_extended(pg: psycopg.Connection, seed: int) -> None:
    ints = [0, 1, -1, 123456789, -(2**31), 2**31 - 1]
    mine = lookup3.hash_uint32(np.array(ints, dtype=np.int32).view(np.uint32), seed)
    assert mine.tolist() == _pg(pg, "hashint4extended", "int4", ints, seed)
    bigs = [0, 1, -1, 2**40 + 5, -(2**50), 2**63 - 1, -(2**63), 4294967297]
    assert lookup3.hash_int64(np.array(bigs, dtype=np.int64), seed).tolist() == _pg(
        pg, "hashint8extended", "int8", bigs, seed
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("large", [False, True], ids=["string", "large_string"])
def test_strings_match_hashtextextended_at_every_length(pg: psycopg.Connection, seed: int, large: bool) -> None:
    words = ["", "a", "abcd", "hello world!", "hello world!x", "ümlaut € and more text", "z" * 11]
    words += ["x" * n for n in range(20, 40)] + ["q" * 1000]
    array = pa.array(words, pa.large_string() if large else pa.string())
    expected = _pg(pg, "hashtextextended", "text", words, seed)
    assert _hash_strings(array, seed).tolist() == expected
    assert _hash_strings(array.slice(3, 9), seed).tolist() == expected[3:12]  # an offset into the buffers


@pytest.mark.parametrize("seed", SEEDS)
def test_float_and_uuid_match(pg: psycopg.Connection, seed: int) -> None:
    floats = [0.0, -0.0, 1.5, -2.25, float("nan"), float("inf"), float("-inf"), 1e300, 3.14159]
    assert lookup3.hash_float64(np.array(floats), seed).tolist() == _pg(
        pg, "hashfloat8extended", "float8", floats, seed
    )
    ids = [uuid.UUID(int=random.Random(n).getrandbits(128)) for n in range(6)]
    raw = np.frombuffer(b"".join(u.bytes for u in ids), dtype=np.uint8).reshape(-1, 16)
    assert lookup3.hash_fixed(raw, seed).tolist() == _pg(pg, "uuid_hash_extended", "uuid", ids, seed)


@pytest.mark.parametrize(("precision", "scale"), [(12, 2), (18, 0), (18, 18), (10, 5), (7, 3), (4, 4), (5, 1)])
def test_numeric_matches_hash_numeric_extended(pg: psycopg.Connection, precision: int, scale: int) -> None:
    rng = random.Random(precision * 100 + scale)
    values = [Decimal(0), Decimal(1), Decimal(-1), Decimal("0.5")]
    for _ in range(60):
        digits = rng.randint(1, precision)
        values.append(Decimal(rng.randint(-(10**digits) + 1, 10**digits - 1)).scaleb(-scale))
    values = [v for v in values if abs(v) < Decimal(10) ** (precision - scale) and v == round(v, scale)]
    unscaled = np.array([int(v.scaleb(scale)) for v in values], dtype=np.int64)
    for seed in SEEDS:
        expected = _pg(pg, "hash_numeric_extended", f"numeric({precision},{scale})", values, seed)
        assert lookup3.hash_numeric(unscaled, precision, scale, seed).tolist() == expected


def test_numeric_refuses_what_does_not_fit_an_int64() -> None:
    with pytest.raises(ValueError, match="p<=18"):
        lookup3.hash_numeric(np.array([1], dtype=np.int64), 19, 2, 0)


def test_loading_the_kernels_skips_numbas_scipy_probes_and_leaves_scipy_importable() -> None:
    """numba's SciPy probes cost 0.2 s of CPU per process; the kernels load without them, and SciPy imports
    as usual afterwards (a fresh interpreter: this one may have imported SciPy already)."""
    code = (
        "import sys; from cutover.hashing import lookup3; lookup3.warm_up(); print('scipy' in sys.modules);"
        "import numba.np.arraymath as m; print(m._HAVE_BLAS); import scipy.linalg; print(scipy.linalg.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "scipy.linalg"]
