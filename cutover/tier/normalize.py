"""One Python representation per type, whichever backend served the read; and the typed comparison.

The convention (what an application gets from :meth:`DataTier.read`):

============================  ==============================================================
PostgreSQL type               Python value
============================  ==============================================================
numeric(p,s), money           :class:`decimal.Decimal`
timestamptz                   aware :class:`datetime.datetime` in UTC (``tzinfo is datetime.UTC``)
timestamp, date, time         naive ``datetime`` / ``date`` / ``time``
json, jsonb                   ``str``: PostgreSQL's text (canonical for jsonb); ``json.loads`` it
interval                      ``{"months": int, "days": int, "microseconds": int}`` — the three parts
                              PostgreSQL keeps apart (a timedelta would invent a month length)
uuid                          :class:`uuid.UUID`
enum, inet, citext, range...  ``str``: PostgreSQL's canonical text form
bytea                         ``bytes``
arrays                        ``list`` of the element convention
============================  ==============================================================
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg.adapt import Loader

_ISO_INTERVAL = re.compile(
    r"^P(?:(?P<years>-?\d+)Y)?(?:(?P<months>-?\d+)M)?(?:(?P<weeks>-?\d+)W)?(?:(?P<days>-?\d+)D)?"
    r"(?:T(?:(?P<hours>-?\d+)H)?(?:(?P<minutes>-?\d+)M)?(?:(?P<seconds>-?\d+(?:\.\d+)?)S)?)?$"
)


def parse_iso_interval(text: str) -> dict[str, int]:
    """PostgreSQL's ``IntervalStyle = iso_8601`` output → the months/days/microseconds struct.

    Each part carries its own sign (``P-1DT-1S``), exactly as PostgreSQL stores the three fields.

    Raises:
        ValueError: not an ISO 8601 interval as PostgreSQL prints it.
    """
    match = _ISO_INTERVAL.match(text)
    if match is None or text in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 interval: {text!r}")
    part = {k: v for k, v in match.groupdict().items() if v is not None}
    seconds = Decimal(part.get("seconds", "0"))
    micros = int(part.get("hours", 0)) * 3_600_000_000 + int(part.get("minutes", 0)) * 60_000_000
    micros += int(seconds * 1_000_000)
    return {
        "months": int(part.get("years", 0)) * 12 + int(part.get("months", 0)),
        "days": int(part.get("weeks", 0)) * 7 + int(part.get("days", 0)),
        "microseconds": micros,
    }


class IsoIntervalLoader(Loader):
    """psycopg text loader for ``interval`` under ``IntervalStyle = iso_8601`` (set on every pooled session)."""

    def load(self, data: Any) -> dict[str, int]:
        return parse_iso_interval(bytes(data).decode())


_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1)


def arrow_rows(data: pa.Table, kinds: Mapping[str, str]) -> list[dict[str, Any]]:
    """Arrow rows as dicts in the convention, column by column (pyarrow's ``to_pylist`` builds every
    timestamptz through ``ZoneInfo`` and every uuid through its extension type: ~10 µs a value)."""
    names = data.column_names  # a new list on every access: once, not once per row (it cost ~25 µs a row)
    columns = [_python_values(data.column(name)) for name in names]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    lists = {c: k for c, k in kinds.items() if c in data.column_names and pa.types.is_list(data.schema.field(c).type)}
    return normalize_iceberg_rows(rows, lists)


def _python_values(column: pa.ChunkedArray) -> list[Any]:
    kind = column.type
    if isinstance(kind, pa.BaseExtensionType) and kind.storage_type == pa.binary(16):
        storage = pa.chunked_array([c.storage for c in column.chunks], kind.storage_type).combine_chunks()
        return uuids(storage)
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        epoch = _EPOCH_UTC if kind.tz is not None else _EPOCH
        micros = pc.cast(column, pa.int64()).to_pylist()
        return [None if m is None else epoch + timedelta(microseconds=m) for m in micros]
    values: list[Any] = column.to_pylist()
    return values


_UUID_SLOTS = ("int", "is_safe", "__weakref__")
_FAST_UUIDS = getattr(uuid.UUID, "__slots__", None) == _UUID_SLOTS


def uuids(storage: pa.FixedSizeBinaryArray) -> list[uuid.UUID | None]:
    """16-byte values as :class:`uuid.UUID` objects, equal in every way to ``UUID(bytes=b)``.

    ``UUID.__init__`` parses and checks its arguments (~1 µs a value, the largest share of building a
    1,000-row result); here the 128-bit integers come from the buffer in one numpy pass and each object
    gets its two slots set directly, as ``UUID.__init__`` itself ends (CPython 3.14 adds the same as
    ``UUID._from_int``). Where the class is laid out differently, ``UUID(bytes=...)`` is used.
    """
    if not _FAST_UUIDS:
        return [None if b is None else uuid.UUID(bytes=b) for b in storage.to_pylist()]
    words = np.frombuffer(storage.buffers()[1], dtype=">u8", count=2 * len(storage), offset=storage.offset * 16)
    high, low = words[0::2].tolist(), words[1::2].tolist()
    new, set_slot, unknown, cls = object.__new__, object.__setattr__, uuid.SafeUUID.unknown, uuid.UUID
    out: list[uuid.UUID | None] = []
    for h, lo in zip(high, low, strict=True):
        value = new(cls)
        set_slot(value, "int", (h << 64) | lo)
        set_slot(value, "is_safe", unknown)
        out.append(value)
    if storage.null_count:
        for index in np.flatnonzero(~storage.is_valid().to_numpy(zero_copy_only=False)):
            out[index] = None
    return out


def normalize_iceberg_rows(rows: list[dict[str, Any]], kinds: Mapping[str, str]) -> list[dict[str, Any]]:
    """Bring Arrow's Python values to the convention: ``datetime.UTC`` tzinfo, ``UUID`` for 16-byte uuids.

    pyarrow hands timestamptz values back with ``ZoneInfo("UTC")``; equal, but not the same object psycopg
    uses, and the convention promises one.
    """
    tz_columns = [c for c, kind in kinds.items() if kind == "timestamptz"]
    if not rows or not tz_columns:
        return rows
    present = [c for c in tz_columns if c in rows[0]]
    for row in rows:
        for column in present:
            value = row[column]
            if isinstance(value, datetime):
                row[column] = value.replace(tzinfo=UTC)
            elif isinstance(value, list):
                row[column] = [v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for v in value]
    return rows


def _canonical(value: Any) -> Any:
    """A hashable, typed stand-in: the type is part of it, so ``1`` and ``Decimal(1)`` differ."""
    if value is None:
        return None
    if isinstance(value, float):
        return ("float", "nan") if math.isnan(value) else ("float", value)
    if isinstance(value, Decimal):
        return ("decimal", value.normalize() if value.is_finite() else str(value))
    if isinstance(value, datetime):
        # Aware and naive never compare equal; an aware value is compared as an instant.
        return ("datetime-tz" if value.tzinfo else "datetime", value)
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _canonical(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(_canonical(v) for v in value))
    if isinstance(value, bytes | bytearray | memoryview):
        return ("bytes", bytes(value))
    if isinstance(value, uuid.UUID):
        return ("uuid", value)
    return (type(value).__name__, value)


def row_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((column, _canonical(value)) for column, value in row.items()))


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing two results as multisets of rows (order-insensitive)."""

    rows_left: int
    rows_right: int
    only_left: int
    """Rows (with multiplicity) the left result has and the right one lacks."""
    only_right: int

    @property
    def equal(self) -> bool:
        return self.only_left == 0 and self.only_right == 0

    def describe(self, left: str = "postgres", right: str = "iceberg") -> str:
        """Counts only: values may be personal data and never reach logs."""
        if self.equal:
            return f"{self.rows_left} rows agree"
        return (
            f"{left} {self.rows_left} rows, {right} {self.rows_right} rows; "
            f"{self.only_left} only in {left}, {self.only_right} only in {right}"
        )


def compare_rows(left: Iterable[Mapping[str, Any]], right: Iterable[Mapping[str, Any]]) -> Comparison:
    """Compare two results ignoring row order, value by value with types (``1 != 1.0 != Decimal(1)``).

    Decimals compare by value (``1.50 == 1.5``: the scale is the column's, not the datum's), aware
    datetimes as instants, NaN equals NaN.
    """
    a, b = Counter(map(row_key, left)), Counter(map(row_key, right))
    return Comparison(sum(a.values()), sum(b.values()), sum((a - b).values()), sum((b - a).values()))
