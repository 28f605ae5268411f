"""Row hashes computed identically inside PostgreSQL and over Iceberg's Arrow batches.

Validation compares tables by sums of these hashes per key bucket; the sync identifies rows by key the
same way on both sides. The parts: :mod:`~cutover.hashing.rowhash` (one 64-bit hash per row, the XOR of
PostgreSQL's extended hash function of each column's canonical value), :mod:`~cutover.hashing.lookup3`
(those functions recomputed over numpy arrays, compiled by numba), :mod:`~cutover.hashing.canonical`
(the canonical text of a value in PostgreSQL and DuckDB) and :mod:`~cutover.hashing.keys` (key identity).
"""

from __future__ import annotations

from cutover.hashing.canonical import (
    PG_SESSION_SETTINGS,
    ArrowPrep,
    duck_column_text,
    duck_connection,
    pg_column_value,
    pg_output_text,
)
from cutover.hashing.keys import INTEGER_KEY_TYPES, KeyIdentity, isin_sorted
from cutover.hashing.rowhash import HASH_MODULUS, RowHasher, bucket_sums

__all__ = [
    "HASH_MODULUS",
    "INTEGER_KEY_TYPES",
    "PG_SESSION_SETTINGS",
    "ArrowPrep",
    "KeyIdentity",
    "RowHasher",
    "bucket_sums",
    "duck_column_text",
    "duck_connection",
    "isin_sorted",
    "pg_column_value",
    "pg_output_text",
]
