"""What the tier knows about one entity: where it lives on each side and how each column is read.

The PostgreSQL side selects every column the way the full load did (:mod:`cutover.lake.types`): types
Iceberg stores as their canonical text (enums, inet, citext, ranges, ...) are selected ``::text``, and
``money`` as ``numeric``, so both backends hand back the same Python values. Learned once per entity by
introspection and cached; a schema change needs :meth:`DataTier.forget`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import psycopg
from psycopg import sql

from cutover.config import TableOptions
from cutover.lake.types import map_table
from cutover.source.introspect import introspect_table
from cutover.tier.errors import InvalidReadError
from cutover.tier.query import ReadQuery, SortKey

ColumnKind = str
"""The conversion of :mod:`cutover.lake.types` (``none``, ``decimal``, ``json``, ``interval``, ``datetime``,
``string``) plus ``timestamptz`` for columns normalized to UTC."""


@dataclass(frozen=True)
class EntityInfo:
    """One entity: ``namespace.table`` in Iceberg, ``schema.table`` in PostgreSQL, and its columns."""

    entity: str
    pg_schema: str
    pg_table: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    select: dict[str, sql.Composable]
    """The SELECT expression per column (a cast where the full load used the text form)."""
    kinds: dict[str, ColumnKind]

    @property
    def namespace(self) -> str:
        return self.entity.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.entity.split(".", 1)[1]

    def check(self, query: ReadQuery) -> ReadQuery:
        """Refuse unknown columns; make a limited read deterministic by appending the primary key to the order.

        Raises:
            InvalidReadError: a column the entity does not have.
        """
        unknown = sorted(query.referenced_columns() - set(self.columns))
        if unknown:
            raise InvalidReadError(
                f"{self.entity} has no column(s) {', '.join(map(repr, unknown))}; columns: {', '.join(self.columns)}",
                entity=self.entity,
            )
        if query.limit is None:
            return query
        ordered = {k.column for k in query.order_by}
        extra = tuple(SortKey(k) for k in self.primary_key if k not in ordered)
        # Without a total order, two backends may both be right and still return different rows.
        comparable = bool(self.primary_key) or query.limit == 0
        return dataclasses.replace(query, order_by=query.order_by + extra, comparable=comparable)


def introspect_entity(
    conn: psycopg.Connection, entity: str, pg_schema: str, options: TableOptions | None = None
) -> EntityInfo:
    """Learn ``entity``'s columns from PostgreSQL (the table named like the entity's table, in ``pg_schema``).

    Raises:
        SourceSchemaError: no such table.
        UnsupportedTypeError: a column the full load would refuse too.
    """
    _, _, table_name = entity.partition(".")
    table = introspect_table(conn, pg_schema, table_name)
    mappings = map_table(table, options or TableOptions())
    select: dict[str, sql.Composable] = {}
    kinds: dict[str, ColumnKind] = {}
    for mapping in mappings:
        name = mapping.column.name
        ident = sql.Identifier(name)
        conversion = mapping.scalar.conversion
        expression: sql.Composable = ident
        if conversion == "string":
            cast = "text[]" if mapping.is_array else "text"
            expression = sql.SQL("{}::{}").format(ident, sql.SQL(cast))
        elif mapping.scalar.pg_type == "money":
            expression = sql.SQL("{}::{}").format(ident, sql.SQL("numeric[]" if mapping.is_array else "numeric"))
        elif mapping.scalar.pg_type == "oid":
            expression = sql.SQL("{}::{}").format(ident, sql.SQL("bigint[]" if mapping.is_array else "bigint"))
        select[name] = expression
        kinds[name] = "timestamptz" if mapping.scalar.pg_type == "timestamptz" else conversion
    return EntityInfo(
        entity=entity,
        pg_schema=pg_schema,
        pg_table=table_name,
        columns=tuple(m.column.name for m in mappings),
        primary_key=table.primary_key,
        select=select,
        kinds=kinds,
    )
