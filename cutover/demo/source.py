"""The demo's PostgreSQL: a database ``cutover_demo`` on the server the operator names, or on a private
PostgreSQL started from the ``pgserver`` wheel under the state directory.

The embedded server is stopped when the demo's process ends unless it is kept (``--keep``), so the other
commands can be tried against it afterwards; :func:`stop_embedded_source` stops a kept one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from cutover.errors import ConfigError, SourceConnectionError
from cutover.source.connection import check_dsn, redact_dsn

DEMO_DATABASE = "cutover_demo"
PGDATA = "pgdata"
"""The embedded server's data directory, under the state directory."""


@dataclass(frozen=True)
class DemoSource:
    """Where the demo's application database lives."""

    dsn: str
    """``postgresql://`` DSN of the (freshly recreated) ``cutover_demo`` database."""
    embedded: bool
    """True: a private PostgreSQL under the state directory; False: the operator's server."""
    description: str
    """For people: "PostgreSQL 16 (embedded)" or the redacted server address."""


def open_demo_source(state_dir: Path, configured_dsn: str | None, *, keep: bool) -> DemoSource:
    """An empty ``cutover_demo`` database: on ``configured_dsn``'s server when given, otherwise on the
    embedded server (started when it is not running; stopped at process exit unless ``keep``).

    Raises:
        ConfigError: a malformed DSN.
        SourceConnectionError: the server cannot be reached, or refuses to create the database.
    """
    if configured_dsn:
        admin = check_dsn(configured_dsn)
        parts = urlsplit(admin)
        description = f"PostgreSQL at {parts.hostname or 'localhost'}:{parts.port or 5432}"
        embedded = False
    else:
        admin = _start_embedded(state_dir, keep=keep)
        description = "PostgreSQL (embedded)"
        embedded = True
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            version = conn.info.server_version // 10000
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DEMO_DATABASE)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(DEMO_DATABASE)))
    except psycopg.OperationalError as exc:
        raise SourceConnectionError(f"cannot reach {redact_dsn(admin)}: {_one_line(exc)}") from exc
    except psycopg.Error as exc:
        raise ConfigError(
            f"cannot recreate the database {DEMO_DATABASE} on {redact_dsn(admin)} (the demo needs a role that may "
            f"create databases): {_one_line(exc)}"
        ) from exc
    description = description.replace("PostgreSQL", f"PostgreSQL {version}", 1) + f", database {DEMO_DATABASE}"
    return DemoSource(_with_database(admin, DEMO_DATABASE), embedded, description)


def _one_line(exc: Exception) -> str:
    """libpq's messages span lines (a hint on the second); the CLI prints one."""
    return " ".join(str(exc).split())


def _with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


def _start_embedded(state_dir: Path, *, keep: bool) -> str:
    """The admin DSN of the embedded server, started (or found running) under ``state_dir``."""
    pgserver = _pgserver()
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(state_dir.resolve() / PGDATA, cleanup_mode=None if keep else "stop")
    except Exception as exc:  # pgserver raises CalledProcessError, TimeoutExpired, OSError, AssertionError
        raise SourceConnectionError(
            f"could not start the embedded PostgreSQL in {state_dir / PGDATA} ({_one_line(exc)}); set CUTOVER_SOURCE_DSN "
            "to use a server of your own"
        ) from exc
    return str(server.get_uri())


def _pgserver() -> ModuleType:
    """pgserver, imported without the warning platformdirs gives where XDG_RUNTIME_DIR is unset (it falls
    back to a directory of its own, which is all pgserver needs)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="platformdirs")
        import pgserver
    return pgserver


def embedded_running(state_dir: Path) -> bool:
    """Whether the embedded server under ``state_dir`` is running."""
    _pgserver()
    from pgserver.utils import PostmasterInfo

    pgdata = state_dir.resolve() / PGDATA
    if not (pgdata / "PG_VERSION").exists():
        return False
    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def stop_embedded_source(state_dir: Path) -> bool:
    """Stop the embedded server under ``state_dir``; returns False when none was running.

    Raises:
        ConfigError: ``state_dir`` holds no embedded server at all.
    """
    pgserver = _pgserver()
    pgdata = state_dir.resolve() / PGDATA
    if not (pgdata / "PG_VERSION").exists():
        raise ConfigError(f"no embedded PostgreSQL under {state_dir} (nothing to stop)")
    if not embedded_running(state_dir):
        return False
    # Attaching to a running server does not restart it; the handle's cleanup stops it.
    pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()
    return True
