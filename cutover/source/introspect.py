"""Reading a table's shape from the PostgreSQL catalog: columns, base types, primary key, size.

Domains resolve to their base type (their NOT NULL carried over), arrays to their element type, and a
partitioned parent is one logical table whose size is the sum of its leaf partitions.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import psycopg

from cutover.errors import PrivilegeError, SourceSchemaError


@dataclass(frozen=True)
class SourceColumn:
    """One column, with domains resolved to the type that actually stores the values."""

    name: str
    base_type: str
    """``pg_type.typname`` of the base type after resolving domains; arrays start with ``_``."""
    display_type: str
    """How PostgreSQL spells the declared type, e.g. ``numeric(12,2)`` or ``posint``: for messages."""
    typmod: int
    not_null: bool
    category: str
    """``pg_type.typcategory`` of the base type: A array, E enum, C composite, R range, ..."""
    element_type: str | None = None
    """For arrays: the element's base type name (domains resolved)."""
    element_category: str | None = None
    n_distinct: float | None = None
    """Planner statistic: >0 distinct values, <0 minus the distinct fraction of rows, None when unknown."""

    @property
    def is_array(self) -> bool:
        return self.element_type is not None


@dataclass(frozen=True)
class SourceTable:
    """A table to load: its columns in order, its primary key, and a size estimate for planning."""

    schema: str
    name: str
    oid: int
    columns: tuple[SourceColumn, ...]
    primary_key: tuple[str, ...]
    partitioned: bool
    leaf_oids: tuple[int, ...]
    estimated_rows: int
    estimated_bytes: int

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def low_cardinality_columns(self, max_distinct: int = 50_000, max_fraction: float = 0.05) -> list[str]:
        """Columns whose statistics promise few distinct values: worth dictionary encoding in Parquet."""
        chosen = []
        for col in self.columns:
            n = col.n_distinct
            if n is None or col.is_array:
                continue
            if (n > 0 and n <= max_distinct) or (
                n < 0 and -n <= max_fraction and -n * self.estimated_rows <= max_distinct
            ):
                chosen.append(col.name)
        return chosen

    def column(self, name: str) -> SourceColumn:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class _PgType:
    oid: int
    name: str
    kind: str
    base_oid: int
    typmod: int
    not_null: bool
    category: str
    element_oid: int


_TYPE_QUERY = """
select oid::int, typname, typtype, typbasetype::int, typtypmod, typnotnull, typcategory, typelem::int
from pg_type where oid = %s
"""


class _TypeResolver:
    """Resolves domain chains with one small query per distinct type."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._cache: dict[int, _PgType] = {}

    def get(self, oid: int) -> _PgType:
        if oid not in self._cache:
            row = self._conn.execute(_TYPE_QUERY, (oid,)).fetchone()
            assert row is not None, f"pg_type has no row for oid {oid}"
            self._cache[oid] = _PgType(*row)
        return self._cache[oid]

    def resolve(self, oid: int, typmod: int) -> tuple[_PgType, int, bool]:
        """Follow domains to the base type; returns (base type, effective typmod, domain NOT NULL)."""
        not_null = False
        pg_type = self.get(oid)
        while pg_type.kind == "d":
            not_null = not_null or pg_type.not_null
            if typmod == -1:
                typmod = pg_type.typmod
            pg_type = self.get(pg_type.base_oid)
        return pg_type, typmod, not_null


def list_tables(
    conn: psycopg.Connection, schema: str, include: list[str] | None = None, exclude: list[str] | None = None
) -> list[str]:
    """Names of the loadable tables of ``schema`` (partitions are part of their parent), filtered by globs."""
    rows = conn.execute(
        """
        select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind in ('r', 'p') and not c.relispartition
        order by c.relname
        """,
        (schema,),
    ).fetchall()
    names = [name for (name,) in rows]
    if include:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, pattern) for pattern in include)]
    if exclude:
        names = [n for n in names if not any(fnmatch.fnmatchcase(n, pattern) for pattern in exclude)]
    return names


def introspect_table(conn: psycopg.Connection, schema: str, name: str) -> SourceTable:
    """Read one table's shape.

    Raises:
        SourceSchemaError: the table does not exist, is not a table, or has no columns.
        PrivilegeError: the role may not read it (or one of its partitions); the message names the grant.
    """
    oid, relkind = _relation(conn, schema, name)
    partitioned = relkind == "p"
    columns = _columns(conn, schema, name, oid, partitioned)
    leaves = _leaf_oids(conn, oid) if partitioned else (oid,)
    _check_readable(conn, schema, name, (oid, *leaves) if partitioned else (oid,))
    estimated_rows, estimated_bytes = _estimate_size(conn, leaves)
    if estimated_rows < 0:
        estimated_rows = _count_rows(conn, schema, name)
    return SourceTable(
        schema=schema,
        name=name,
        oid=oid,
        columns=columns,
        primary_key=_primary_key(conn, oid),
        partitioned=partitioned,
        leaf_oids=leaves,
        estimated_rows=estimated_rows,
        estimated_bytes=estimated_bytes,
    )


def _check_readable(conn: psycopg.Connection, schema: str, name: str, oids: tuple[int, ...]) -> None:
    """Refuse, naming the grant, a table (or partition) the role may not SELECT: SELECT is all cutover needs."""
    rows = conn.execute(
        """
        select quote_ident(n.nspname) || '.' || quote_ident(c.relname), current_user
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.oid = any(%s::oid[]) and not has_table_privilege(c.oid, 'SELECT')
        order by c.oid
        """,
        (list(oids),),
    ).fetchall()
    if rows:
        relations, role = ", ".join(r for r, _ in rows), rows[0][1]
        raise PrivilegeError(
            f"role {role} may not read {relations}: have the owner run `GRANT SELECT ON {relations} TO {role}`, "
            f"or leave {schema}.{name} out (--exclude {name})"
        )


def _relation(conn: psycopg.Connection, schema: str, name: str) -> tuple[int, str]:
    """The table's oid and relkind (``r`` or ``p``); anything else is refused."""
    qualified = f"{schema}.{name}"
    row = conn.execute(
        """
        select c.oid::int, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relname = %s
        """,
        (schema, name),
    ).fetchone()
    if row is None:
        raise SourceSchemaError(qualified, "no such table in the source database")
    oid, relkind = row
    if relkind not in ("r", "p"):
        raise SourceSchemaError(qualified, f"is not a table (relkind {relkind!r}); only tables can be loaded")
    return oid, relkind


def _columns(conn: psycopg.Connection, schema: str, name: str, oid: int, partitioned: bool) -> tuple[SourceColumn, ...]:
    """Every live column in order, domains resolved to their base type, with the planner's n_distinct."""
    attributes = conn.execute(
        """
        select a.attname, a.atttypid::int, a.atttypmod,
               a.attnotnull and not exists (  -- PostgreSQL 18: a NOT NULL added NOT VALID holds no promise yet
                   select from pg_constraint c
                   where c.conrelid = a.attrelid and c.contype = 'n' and a.attnum = any(c.conkey)
                     and not c.convalidated),
               format_type(a.atttypid, a.atttypmod)
        from pg_attribute a where a.attrelid = %s and a.attnum > 0 and not a.attisdropped order by a.attnum
        """,
        (oid,),
    ).fetchall()
    if not attributes:
        raise SourceSchemaError(f"{schema}.{name}", "has no columns")
    distinct: dict[str, float] = dict(
        conn.execute(
            "select attname, n_distinct from pg_stats where schemaname = %s and tablename = %s and inherited = %s",
            (schema, name, partitioned),
        ).fetchall()
    )
    resolver = _TypeResolver(conn)
    columns = []
    for col_name, type_oid, typmod, not_null, display in attributes:
        base, typmod, domain_not_null = resolver.resolve(type_oid, typmod)
        element_type = element_category = None
        if base.category == "A" and base.element_oid:
            element, typmod, _ = resolver.resolve(base.element_oid, typmod)
            element_type, element_category = element.name, element.category
        columns.append(
            SourceColumn(
                name=col_name,
                base_type=base.name,
                display_type=display,
                typmod=typmod,
                not_null=bool(not_null or domain_not_null),
                category=base.category,
                element_type=element_type,
                element_category=element_category,
                n_distinct=distinct.get(col_name),
            )
        )
    return tuple(columns)


def _primary_key(conn: psycopg.Connection, oid: int) -> tuple[str, ...]:
    """The primary key's columns in key order (empty without one)."""
    rows = conn.execute(
        """
        select a.attname from pg_index i
        cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = %s and i.indisprimary order by k.ord
        """,
        (oid,),
    ).fetchall()
    return tuple(attname for (attname,) in rows)


def _leaf_oids(conn: psycopg.Connection, oid: int) -> tuple[int, ...]:
    """The leaf partitions of a partitioned table (the relations that hold its rows)."""
    rows = conn.execute(
        "select relid::oid::int from pg_partition_tree(%s::oid::regclass) where isleaf", (oid,)
    ).fetchall()
    return tuple(leaf for (leaf,) in rows)


def _estimate_size(conn: psycopg.Connection, leaves: tuple[int, ...]) -> tuple[int, int]:
    """Planner statistics for the leaves; -1 rows when any leaf was never analyzed or vacuumed."""
    if not leaves:
        return 0, 0
    row = conn.execute(
        """
        select coalesce(sum(greatest(reltuples, 0)), 0)::bigint, bool_or(reltuples < 0),
               coalesce(sum(pg_relation_size(oid)), 0)::bigint
        from pg_class where oid = any(%s)
        """,
        (list(leaves),),
    ).fetchone()
    assert row is not None
    rows, unknown, size = row
    return (-1 if unknown else int(rows)), int(size)


def _count_rows(conn: psycopg.Connection, schema: str, name: str) -> int:
    from psycopg import sql

    query = sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name))
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])
