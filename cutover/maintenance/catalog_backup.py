"""Catalog export and import: the metadata pointers that make a warehouse readable, kept apart from it.

An Iceberg catalog holds little: per table the location of its current metadata file, and per namespace
its properties. Everything else is in the warehouse. Exported, that survives the loss of the catalog's
database: :func:`import_catalog` registers every table again (pyiceberg ``register_table``) in an empty
catalog, at the metadata file the export named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError, TableAlreadyExistsError

from cutover.errors import ConfigError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

EXPORT_FORMAT = "cutover-catalog-export/1"


@dataclass
class ImportResult:
    namespaces_created: list[str] = field(default_factory=list)
    tables_registered: list[str] = field(default_factory=list)
    tables_present: list[str] = field(default_factory=list)
    """Already registered at the exported metadata location (an import run twice)."""


def _namespaces(catalog: Catalog, parent: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for namespace in catalog.list_namespaces(parent):
        found.append(tuple(namespace))
        found += [n for n in _namespaces(catalog, tuple(namespace)) if n != tuple(namespace)]
    return found


def export_catalog(catalog: Catalog) -> dict[str, Any]:
    """Every namespace's properties and every table's current metadata location."""
    namespaces, tables = [], []
    for namespace in _namespaces(catalog):
        properties = {k: v for k, v in catalog.load_namespace_properties(namespace).items() if k != "exists"}
        namespaces.append({"namespace": list(namespace), "properties": properties})
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            tables.append({"identifier": list(identifier), "metadata_location": table.metadata_location})
    return {
        "format": EXPORT_FORMAT,
        "catalog": catalog.name,
        "exported_at": datetime.now(UTC).isoformat(),
        "namespaces": namespaces,
        "tables": tables,
    }


def write_export(catalog: Catalog, path: Path) -> dict[str, Any]:
    export = export_catalog(catalog)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(export, indent=2) + "\n")
    return export


def read_export(path: Path) -> dict[str, Any]:
    """Raises: ConfigError: the file is missing, not JSON, or not a cutover catalog export."""
    try:
        export = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read catalog export {path}: {exc}") from exc
    if not isinstance(export, dict) or export.get("format") != EXPORT_FORMAT:
        raise ConfigError(f"{path} is not a cutover catalog export (format {EXPORT_FORMAT})")
    return export


def import_catalog(catalog: Catalog, export: dict[str, Any]) -> ImportResult:
    """Create the exported namespaces and register every table at its exported metadata location.

    Idempotent: a table already registered at that location is left as it is.

    Raises:
        ConfigError: a table of that name exists at another metadata location (not an empty catalog).
    """
    result = ImportResult()
    for entry in export.get("namespaces", []):
        namespace = tuple(entry["namespace"])
        try:
            catalog.create_namespace(namespace, entry.get("properties") or {})
            result.namespaces_created.append(".".join(namespace))
        except NamespaceAlreadyExistsError:
            pass
    for entry in export.get("tables", []):
        identifier, location = tuple(entry["identifier"]), entry["metadata_location"]
        name = ".".join(identifier)
        try:
            existing = catalog.load_table(identifier)
        except NoSuchTableError:
            existing = None
        if existing is not None:
            if existing.metadata_location != location:
                raise ConfigError(f"{name} already exists at {existing.metadata_location}, not the exported {location}")
            result.tables_present.append(name)
            continue
        try:
            catalog.register_table(identifier, location)
        except TableAlreadyExistsError as exc:  # registered concurrently
            raise ConfigError(f"{name} was registered while the import ran") from exc
        result.tables_registered.append(name)
    return result
