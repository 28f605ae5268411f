"""One exception hierarchy for the whole library.

Driver and SDK errors are translated at the boundary into these, with the cause chained, so callers
(flows, CLI, API) decide on retry or exit code by type alone:

* :class:`TransientError` subclasses are worth retrying (lost connection, commit conflict).
* Everything else is deterministic: retrying changes nothing.
"""

from __future__ import annotations


def describe_validation(exc: Exception) -> str:
    """A pydantic ``ValidationError`` as ``field: problem; ...`` on one line.

    Its own text spans several lines and links to pydantic's docs; a user wants the field and the problem.
    Other exceptions come back as their message.
    """
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return " ".join(str(exc).split())
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in errors())


class CutoverError(Exception):
    """Base class of every error cutover raises on purpose."""


class ConfigError(CutoverError):
    """The configuration or the input is wrong; the message says what to change."""


class TransientError(CutoverError):
    """A failure that may pass on retry (network, a concurrent committer, a restarted server)."""


class SourceConnectionError(TransientError):
    """The PostgreSQL source could not be reached or dropped the connection."""


class SnapshotGoneError(SourceConnectionError):
    """A reader came after the run's exported snapshot was released (its run ended or lost its control
    connection). It is retried on that same snapshot, never on a newer one: a consistent copy cannot mix
    snapshots, so when the snapshot is gone for good the table fails and a resumed run reads it again."""

    def __init__(self, snapshot_id: str, detail: str) -> None:
        super().__init__(
            f"the run's source snapshot {snapshot_id} is no longer exported ({detail}); this read is retried "
            "on that snapshot only: resume the load (--mode resume) if its run has ended"
        )
        self.snapshot_id = snapshot_id


class CommitConflictError(TransientError):
    """Another writer committed to the Iceberg table first and our retries ran out."""


class SourceSchemaError(CutoverError):
    """The source table does not exist or its shape cannot be loaded (e.g. no rows can be split)."""

    def __init__(self, table: str, message: str) -> None:
        super().__init__(f"{table}: {message}")
        self.table = table


class UnsupportedTypeError(CutoverError):
    """A column's PostgreSQL type has no faithful Iceberg mapping and no opt-in was configured."""

    def __init__(self, table: str, column: str, pg_type: str, hint: str) -> None:
        super().__init__(f"table {table}, column {column!r}: type {pg_type} is not supported: {hint}")
        self.table = table
        self.column = column
        self.pg_type = pg_type


class UnsupportedValueError(CutoverError):
    """A value cannot be represented in Iceberg without loss (±infinity, NaN, too many digits)."""

    def __init__(self, table: str, column: str, pg_type: str, key: str, problem: str) -> None:
        super().__init__(
            f"table {table}, column {column!r} ({pg_type}): {problem} at key {key}; nothing was written to Iceberg"
        )
        self.table = table
        self.column = column
        self.pg_type = pg_type
        self.key = key


class SchemaEvolutionError(CutoverError):
    """The source's shape changed in a way Iceberg cannot follow faithfully; nothing was written."""

    def __init__(self, table: str, column: str | None, problem: str) -> None:
        where = f"table {table}, column {column!r}" if column else f"table {table}"
        super().__init__(f"{where}: {problem}")
        self.table = table
        self.column = column


class CatalogUnavailableError(TransientError):
    """The Iceberg catalog could not be reached or refused the connection (its URI is in the message)."""


class WarehouseUnavailableError(TransientError):
    """The warehouse's storage could not be reached, or refused access (its URI is in the message)."""


class PrivilegeError(ConfigError):
    """The database role lacks a privilege a step needs; the message names the grant (or the setting) that fixes it."""


class PartitionSpecError(ConfigError):
    """A configured partition field does not fit the table: no such column, or a transform its type cannot
    take. Raised before anything is created or written."""

    def __init__(self, table: str, column: str, transform: str, column_type: str | None, problem: str) -> None:
        typed = f" ({column_type})" if column_type else ""
        super().__init__(f"table {table}, column {column!r}{typed}: partition transform {transform}: {problem}")
        self.table = table
        self.column = column
        self.transform = transform
        self.column_type = column_type
