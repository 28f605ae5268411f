"""Opening the Iceberg catalog named by configuration."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError

from cutover.config import CatalogConfig
from cutover.errors import CatalogUnavailableError, ConfigError

SQL_CONNECT_TIMEOUT_SECONDS = 10
"""libpq's connect timeout for a PostgreSQL-backed SQL catalog whose URI sets none (libpq waits minutes)."""


def open_catalog(config: CatalogConfig) -> Catalog:
    """A pyiceberg catalog for ``config``; SQL catalogs by ``sqlite:``/``postgresql`` URI, REST by ``http(s):``.

    Opening connects (a SQL catalog makes sure its tables exist; a REST catalog fetches its config), so an
    unreachable catalog fails here, in one line, rather than in the middle of a job.

    Raises:
        ConfigError: the URI scheme names no catalog kind cutover knows.
        CatalogUnavailableError: the catalog could not be reached, or refused the credentials.
    """
    try:
        return _open_cached(config.model_dump_json())
    except _unreachable_errors() as exc:
        from cutover.source.connection import redact_dsn

        raise CatalogUnavailableError(
            f"cannot reach the Iceberg catalog at {redact_dsn(config.uri)}: {_reason(exc)}"
        ) from exc


def check_catalog(config: CatalogConfig) -> None:
    """Open the catalog and reach its warehouse: what a command does before it reads or writes anything.

    Raises:
        CatalogUnavailableError: see :func:`open_catalog`.
        WarehouseUnavailableError: the warehouse storage did not answer (see :mod:`cutover.lake.warehouse`).
    """
    from cutover.lake.warehouse import check_warehouse

    check_warehouse(open_catalog(config), config.warehouse)


def _reason(exc: BaseException) -> str:
    """The driver's own words: the DBAPI error under SQLAlchemy's, urllib3's reason under requests' retry text."""
    inner = getattr(exc, "orig", None)  # sqlalchemy.exc.DBAPIError
    if inner is None and exc.args:
        inner = getattr(exc.args[0], "reason", None)  # requests' ConnectionError(MaxRetryError(reason=...))
    return " ".join(str(inner or exc).split())


def _unreachable_errors() -> tuple[type[BaseException], ...]:
    """What pyiceberg's catalogs raise when their database or server cannot be reached (or refuses us)."""
    from pyiceberg.exceptions import RESTError
    from requests import RequestException
    from sqlalchemy.exc import DBAPIError

    return DBAPIError, RequestException, RESTError


@lru_cache(maxsize=8)
def _open_cached(config_json: str) -> Catalog:
    config = CatalogConfig.model_validate_json(config_json)
    scheme = urlsplit(config.uri).scheme
    properties = {"uri": _with_connect_timeout(config.uri), "warehouse": config.warehouse, **config.properties}
    if scheme in ("http", "https"):
        from pyiceberg.catalog.rest import RestCatalog

        return RestCatalog(config.name, **properties)
    if scheme.startswith(("sqlite", "postgresql")):
        from pyiceberg.catalog.sql import SqlCatalog

        if scheme.startswith("sqlite"):
            Path(config.uri.split(":///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
        if config.warehouse.startswith("file://"):
            Path(urlsplit(config.warehouse).path).mkdir(parents=True, exist_ok=True)
        return SqlCatalog(config.name, **properties)
    raise ConfigError(
        f"catalog URI {config.uri!r}: expected sqlite:///..., postgresql+psycopg://... or http(s)://... (REST)"
    )


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    """Create ``namespace`` when missing (idempotent, safe against a concurrent creator)."""
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(namespace)


def _with_connect_timeout(uri: str) -> str:
    """A ``postgresql`` catalog URI with libpq's ``connect_timeout`` unless it sets one."""
    parts = urlsplit(uri)
    if not parts.scheme.startswith("postgresql") or "connect_timeout" in parts.query:
        return uri
    query = f"{parts.query}&" if parts.query else ""
    return parts._replace(query=f"{query}connect_timeout={SQL_CONNECT_TIMEOUT_SECONDS}").geturl()
