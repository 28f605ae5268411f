"""The source database as a Prefect block: prefect-sqlalchemy's `SqlAlchemyConnector`, password a secret.

Deployments name the block (``source_block``), never a DSN, so no password lands in a deployment's or a
flow run's parameters; the flow reads the block at run time and hands the DSN to the library in-process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg.conninfo

from cutover.errors import ConfigError
from cutover.source.connection import check_dsn, redact_dsn

if TYPE_CHECKING:
    from prefect_sqlalchemy import SqlAlchemyConnector

DRIVER = "postgresql+psycopg"
"""The SQLAlchemy driver string the connector is saved with (psycopg 3, sync; see pitfalls)."""
_COMPONENTS = ("user", "password", "host", "port", "dbname")


def connector_of_dsn(dsn: str) -> SqlAlchemyConnector:
    """A connector holding ``dsn`` as components; libpq options beyond them (sslmode, …) as the query."""
    from prefect_sqlalchemy import ConnectionComponents, SqlAlchemyConnector

    try:
        parts = psycopg.conninfo.conninfo_to_dict(check_dsn(dsn))
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"cannot parse the source DSN {redact_dsn(dsn)!r}: {exc}") from None
    port = parts.get("port")
    host = parts.get("host")
    query = {k: str(v) for k, v in parts.items() if k not in _COMPONENTS and v is not None}
    if isinstance(host, str) and host.startswith(
        "/"
    ):  # a Unix-socket directory: in a URL's authority it would read as a path
        query["host"], host = host, None
    return SqlAlchemyConnector(
        connection_info=ConnectionComponents(
            driver=DRIVER,
            username=parts.get("user"),
            password=parts.get("password"),
            host=host,
            port=int(port) if port else None,
            database=parts.get("dbname"),
            query=query or None,
        )
    )


def dsn_of_connector(connector: SqlAlchemyConnector) -> str:
    """The ``postgresql://`` DSN (password included) that psycopg and ADBC take."""
    from prefect_sqlalchemy import ConnectionComponents
    from sqlalchemy.engine import make_url

    info = connector.connection_info
    url = info.create_url() if isinstance(info, ConnectionComponents) else make_url(str(info))
    if url.get_backend_name() != "postgresql":
        raise ConfigError(f"the source block holds a {url.get_backend_name()} URL; cutover reads PostgreSQL")
    return check_dsn(url.set(drivername="postgresql").render_as_string(hide_password=False))


def load_source_dsn(block_name: str) -> str:
    """The DSN of the named block.

    Raises:
        ConfigError: no such block (with the command that creates it), or not a PostgreSQL connector.
    """
    from prefect_sqlalchemy import SqlAlchemyConnector

    try:
        connector = SqlAlchemyConnector.load(block_name)
    except ValueError as exc:
        raise ConfigError(
            f"no Prefect block {block_name!r} holds the source connection ({exc}); create it with "
            "`cutover prefect setup --source-dsn postgresql://…` or pass request.source_dsn"
        ) from None
    return dsn_of_connector(connector)


def save_source_block(block_name: str, dsn: str) -> None:
    """Create or update the named block with ``dsn``."""
    connector_of_dsn(dsn).save(block_name, overwrite=True)
