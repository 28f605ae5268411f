"""Which source tables a command works on: the selection `migrate`, `validate` and `sync` share."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Self

import psycopg
from pydantic import BaseModel, Field, field_validator

from cutover.errors import ConfigError
from cutover.source.connection import check_dsn, connect
from cutover.source.introspect import list_tables


class TableSelection(BaseModel):
    """A source schema, the tables chosen in it, and where their Iceberg copies live."""

    source_dsn: str = ""
    """``postgresql://`` DSN; empty in a deployment, whose flow fills it from the source block at run time."""
    schema_name: str = Field(default="public", alias="schema")
    tables: list[str] = Field(default_factory=list)
    """Table names or glob patterns; empty means every table of the schema (after ``exclude``)."""
    exclude: list[str] = Field(default_factory=list)
    namespace: str | None = None
    """Iceberg namespace; defaults to the source schema's name."""
    table_options: Path | None = None
    """Per-column opt-ins (JSON): they decide what Iceberg holds, so every command must know them."""

    model_config = {"populate_by_name": True}

    @field_validator("source_dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        return check_dsn(value) if value else value

    @property
    def target_namespace(self) -> str:
        return self.namespace or self.schema_name

    def with_source(self, dsn: str) -> Self:
        """The same selection reading from ``dsn`` (checked)."""
        return self.model_copy(update={"source_dsn": check_dsn(dsn)})


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def resolve_tables(selection: TableSelection) -> list[str]:
    """The table names the selection picks, in a stable order.

    Entries of ``tables`` are exact names (which must exist) or glob patterns (which may match nothing);
    ``exclude`` globs then remove tables.

    Raises:
        ConfigError: the schema, or an exact table name in it, does not exist.
    """
    with connect(selection.source_dsn) as conn:
        available = list_tables(conn, selection.schema_name)
        if not available:
            _check_schema(conn, selection.schema_name)
    if not selection.tables:
        chosen = available
    else:
        missing = [t for t in selection.tables if not _is_glob(t) and t not in available]
        if missing:
            raise ConfigError(
                f"no such table(s) in schema {selection.schema_name!r}: {', '.join(missing)} "
                f"(available: {', '.join(available) or 'none'})"
            )
        chosen = [
            t for t in available if any(fnmatch.fnmatchcase(t, p) if _is_glob(p) else t == p for p in selection.tables)
        ]
    return [t for t in chosen if not any(fnmatch.fnmatchcase(t, p) for p in selection.exclude)]


def _check_schema(conn: psycopg.Connection, schema: str) -> None:
    """Tell a schema that does not exist from an empty one (the first is a typo, the second is nothing to do)."""
    schemas = [
        name
        for (name,) in conn.execute(
            "select nspname from pg_namespace where nspname !~ '^(pg_|information_schema$)' order by nspname"
        ).fetchall()
    ]
    if schema not in schemas:
        raise ConfigError(f"no schema {schema!r} in the source database (schemas: {', '.join(schemas) or 'none'})")
