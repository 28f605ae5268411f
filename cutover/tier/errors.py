"""Errors of the data tier, inside the one :mod:`cutover.errors` hierarchy.

The application decides by type: a :class:`~cutover.errors.ConfigError` subclass is a bad read (unknown
column, time travel not allowed) and never worth retrying; :class:`IcebergReadError` is what the router
falls back on, so an application only sees it when PostgreSQL cannot serve the read either (``as_of``).
"""

from __future__ import annotations

from cutover.errors import ConfigError, CutoverError, TransientError


class TierError(CutoverError):
    """Base of every data-tier error; carries the entity the read was for."""

    def __init__(self, message: str, *, entity: str | None = None) -> None:
        super().__init__(message)
        self.entity = entity


class InvalidReadError(TierError, ConfigError):
    """The read names an unknown entity or column, or a filter/ordering that cannot be expressed."""


class TimeTravelDisabledError(TierError, ConfigError):
    """An ``as_of`` read while ``iceberg-time-travel`` is off for the entity (or the master switch is off)."""


class SnapshotNotFoundError(TierError, ConfigError):
    """``as_of`` names a time before the table's first snapshot, or a snapshot id it does not have."""


class IcebergReadError(TierError, TransientError):
    """The Iceberg read failed (catalog, metadata, data files); the router falls back to PostgreSQL."""


class PostgresReadError(TierError):
    """PostgreSQL refused the query (a connection failure is :class:`~cutover.errors.SourceConnectionError`)."""
