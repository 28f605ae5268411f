"""Opening the Iceberg catalog named by configuration."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError

from cutover.config import CatalogConfig
from cutover.errors import ConfigError


def open_catalog(config: CatalogConfig) -> Catalog:
    """A pyiceberg catalog for ``config``; SQL catalogs by ``sqlite:``/``postgresql`` URI, REST by ``http(s):``.

    Raises:
        ConfigError: the URI scheme names no catalog kind cutover knows.
    """
    return _open_cached(config.model_dump_json())


@lru_cache(maxsize=8)
def _open_cached(config_json: str) -> Catalog:
    config = CatalogConfig.model_validate_json(config_json)
    scheme = urlsplit(config.uri).scheme
    properties = {"uri": config.uri, "warehouse": config.warehouse, **config.properties}
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
