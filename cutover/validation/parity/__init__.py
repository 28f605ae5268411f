"""Parity of one table, PostgreSQL vs Iceberg, down to the differing keys.

Source side (:mod:`.source`): inside PostgreSQL, one parallel hash-aggregate scan; only (bucket, count,
hash sum, column aggregates) rows come back. Iceberg side (:mod:`.iceberg`), at the same time in a
thread: a pyiceberg scan whose batches are hashed in-process (:mod:`cutover.hashing`); per row only 8
bytes of row hash plus the key (an int64, or an 8-byte key hash) stay in memory, so drilling down never
rescans the whole table. Column aggregates of both sides: :mod:`.stats`.

Buckets, and how differing ones are drilled into (:mod:`.drill`):

* a leading integer key: equal-width ranges of it; ranges that differ are split again (index range
  scans on the source) until few enough rows remain, then the rows of just those ranges are compared;
* any other primary key: the low bits of the key hash, so a changed row lands in the same bucket on both
  sides; rows of differing buckets are then compared by key hash;
* no primary key: the low bits of the first column's hash; only the multiset of row hashes in differing
  buckets can be compared, so a changed row shows up as one missing plus one extra row.

Key texts of extra rows and both sides' values of changed rows are fetched for the listed (capped) keys
only, by a filtered rescan. :class:`TableParity` (:mod:`.table`) runs the pieces in order.
"""

from __future__ import annotations

from cutover.validation.parity.model import ParityOptions, ParityResult
from cutover.validation.parity.table import TableParity

__all__ = ["ParityOptions", "ParityResult", "TableParity"]
