"""Opening PostgreSQL connections, with driver errors translated into cutover's own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from cutover.errors import ConfigError, SourceConnectionError


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced, safe for logs and reports."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def check_dsn(dsn: str | None) -> str:
    """Normalize and validate a ``postgresql://`` DSN given by a user, failing with a clear message."""
    if not dsn:
        raise ConfigError("no source DSN: pass --source-dsn or set CUTOVER_SOURCE_DSN")
    if dsn.startswith("postgres://"):
        dsn = "postgresql://" + dsn.removeprefix("postgres://")
    if not dsn.startswith("postgresql://"):
        raise ConfigError(f"source DSN must be a postgresql:// URL, got {redact_dsn(dsn)!r}")
    return dsn


CONNECT_TIMEOUT_SECONDS = 10
"""libpq's connect timeout when the DSN sets none: without it a host that drops packets holds a command
for minutes (the OS's TCP retries) before the one-line error."""


def _timeout(dsn: str) -> dict[str, Any]:
    try:
        given = "connect_timeout" in psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"source DSN {redact_dsn(dsn)!r} is malformed: {exc}") from None
    return {} if given else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}


@contextmanager
def connect(dsn: str, *, autocommit: bool = True) -> Iterator[psycopg.Connection]:
    """A psycopg connection for control queries; connection failures become SourceConnectionError."""
    dsn = check_dsn(dsn)  # an empty DSN would silently mean libpq's defaults
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit, application_name="cutover", **_timeout(dsn))
    except psycopg.OperationalError as exc:
        raise SourceConnectionError(f"cannot connect to {redact_dsn(dsn)}: {exc}".strip()) from exc
    try:
        yield conn
    except psycopg.OperationalError as exc:
        raise SourceConnectionError(f"lost the connection to {redact_dsn(dsn)}: {exc}".strip()) from exc
    finally:
        conn.close()


def check_source(dsn: str | None) -> None:
    """Connect once and close: for commands whose first use of the source would be deep in a pool or a thread.

    Raises:
        ConfigError: no DSN or not a ``postgresql://`` URL.
        SourceConnectionError: the source refused or did not answer within :data:`CONNECT_TIMEOUT_SECONDS`.
    """
    with connect(check_dsn(dsn)):
        pass
