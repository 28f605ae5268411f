"""What a read asks for: typed filters, a projection, an ordering and a limit.

Filters are deliberately few (``eq``, ``in``, ``range``): each one translates exactly into parameterized
SQL and into a pyiceberg row filter (which prunes files by column statistics), so both backends answer
the same question. Anything richer belongs in a query written for one backend.

Ordering is a list of column names, ``-name`` for descending; NULLs sort last in both directions on both
backends (PostgreSQL's own default puts them first when descending, so the SQL says ``NULLS LAST``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cutover.tier.errors import InvalidReadError


@dataclass(frozen=True, slots=True)
class Eq:
    """``column = value`` (``value`` None means ``IS NULL``)."""

    column: str
    value: Any


@dataclass(frozen=True, slots=True)
class In:
    """``column IN (values)``; an empty tuple matches nothing."""

    column: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Range:
    """``low <= column < high`` by default; either bound may be None (open)."""

    column: str
    low: Any = None
    high: Any = None
    low_inclusive: bool = True
    high_inclusive: bool = False


Filter = Eq | In | Range


def parse_filter(spec: Mapping[str, Any] | Filter) -> Filter:
    """A filter from its JSON form ``{"column", "op": "eq"|"in"|"range", "value"|"values"|"low"/"high"}``.

    Raises:
        InvalidReadError: an unknown op or a missing operand.
    """
    if isinstance(spec, Eq | In | Range):
        return spec
    column, op = spec.get("column"), spec.get("op", "eq")
    if not isinstance(column, str) or not column:
        raise InvalidReadError(f"a filter needs a column name: {dict(spec)!r}")
    if op == "eq":
        if "value" not in spec:
            raise InvalidReadError(f"filter on {column!r}: op 'eq' needs a 'value'")
        return Eq(column, spec["value"])
    if op == "in":
        values = spec.get("values")
        if not isinstance(values, list | tuple):
            raise InvalidReadError(f"filter on {column!r}: op 'in' needs a list 'values'")
        return In(column, tuple(values))
    if op == "range":
        if spec.get("low") is None and spec.get("high") is None:
            raise InvalidReadError(f"filter on {column!r}: op 'range' needs 'low' and/or 'high'")
        return Range(
            column,
            spec.get("low"),
            spec.get("high"),
            bool(spec.get("low_inclusive", True)),
            bool(spec.get("high_inclusive", False)),
        )
    raise InvalidReadError(f"filter on {column!r}: unknown op {op!r} (expected eq, in or range)")


@dataclass(frozen=True, slots=True)
class SortKey:
    column: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> SortKey:
        return cls(text[1:], True) if text.startswith("-") else cls(text, False)


@dataclass(frozen=True)
class ReadQuery:
    """One read, backend-neutral. Built by :meth:`DataTier.read`; validated against the entity's columns."""

    entity: str
    filters: tuple[Filter, ...] = ()
    columns: tuple[str, ...] | None = None
    """None: every column, in table order."""
    order_by: tuple[SortKey, ...] = ()
    limit: int | None = None
    as_of: datetime | int | None = None
    """A timestamp (aware) or a snapshot id; Iceberg only."""
    comparable: bool = field(default=True, compare=False)
    """False when a limit without a total order lets the backends legitimately pick different rows."""

    @classmethod
    def build(
        cls,
        entity: str,
        *,
        filters: Sequence[Mapping[str, Any] | Filter] | Mapping[str, Any] = (),
        columns: Sequence[str] | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        as_of: datetime | int | None = None,
    ) -> ReadQuery:
        """Normalize the caller's arguments; a mapping of filters is shorthand for equality on each column.

        Raises:
            InvalidReadError: a negative limit, a naive ``as_of`` timestamp, or a malformed filter.
        """
        parsed: tuple[Filter, ...]
        if isinstance(filters, Mapping):
            parsed = tuple(Eq(str(k), v) for k, v in filters.items())
        else:
            parsed = tuple(parse_filter(f) for f in filters)
        if limit is not None and limit < 0:
            raise InvalidReadError(f"limit must be >= 0, got {limit}", entity=entity)
        if isinstance(as_of, datetime) and as_of.tzinfo is None:
            raise InvalidReadError("as_of must be timezone-aware (e.g. datetime.now(UTC))", entity=entity)
        if isinstance(columns, str):
            raise InvalidReadError("columns must be a list of names, not one string", entity=entity)
        return cls(
            entity=entity,
            filters=parsed,
            columns=tuple(columns) if columns is not None else None,
            order_by=tuple(SortKey.parse(o) for o in order_by),
            limit=limit,
            as_of=as_of,
        )

    def referenced_columns(self) -> set[str]:
        named = {f.column for f in self.filters} | {k.column for k in self.order_by}
        return named | set(self.columns or ())
