"""Which entities exist: a rollout step or a rollback for a mistyped entity must not quietly succeed.

An entity is an Iceberg table, ``<namespace>.<table>``. Rolling back ``sales.order`` when the table is
``sales.orders`` changes flags nothing reads, and looks like success: the operator believes the entity
rolled back while its reads stay on Iceberg. So the rollout commands check the entity first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cutover.errors import CatalogUnavailableError, ConfigError, TransientError
from cutover.flags.registry import validate_entity

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from cutover.config import CatalogConfig
    from cutover.flags import FeatureFlagService
    from cutover.rollout.store import ControlStore


class UnknownEntityError(ConfigError):
    """The entity names no Iceberg table and nothing cutover recorded: most likely a typo."""

    def __init__(self, entity: str, known: list[str]) -> None:
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        super().__init__(f"unknown entity {entity}: no such Iceberg table (entities: {shown or 'none yet'})")
        self.entity = entity


def check_entity(entity: str, *, flags: FeatureFlagService, store: ControlStore, catalog: CatalogConfig | None) -> None:
    """Refuse ``entity`` unless something knows it: its own flags, the control store, or the catalog.

    The flag store and the control store are asked first, so an entity that was ever validated, stepped,
    read through the tier or given flags is known while the catalog is down (a rollback must work then).

    Raises:
        InvalidFlagValueError: not ``<namespace>.<table>``.
        UnknownEntityError: no such Iceberg table, and nothing recorded for it.
        CatalogUnavailableError: the catalog could not be asked (``catalog`` None: none is configured); the
            caller decides whether to go on.
    """
    validate_entity(entity)
    scoped = flags.scoped_entities()
    if entity in scoped or _recorded(store, entity):
        return
    if catalog is None:
        raise CatalogUnavailableError(f"no Iceberg catalog configured (CUTOVER_CATALOG_URI) to look up {entity} in")
    from cutover.lake.catalog import open_catalog

    namespace, _, table = entity.partition(".")
    iceberg = open_catalog(catalog)
    if iceberg.table_exists((namespace, table)):
        return
    raise UnknownEntityError(entity, sorted({*_tables(iceberg), *scoped}))


def _recorded(store: ControlStore, entity: str) -> bool:
    """Whether the control store names ``entity``; False when it cannot be asked (the catalog decides)."""
    try:
        return store.knows_entity(entity)
    except TransientError:
        return False


def _tables(iceberg: Catalog) -> list[str]:
    from pyiceberg.exceptions import NoSuchNamespaceError

    found: list[str] = []
    for namespace in iceberg.list_namespaces():
        try:
            found += [".".join(t) for t in iceberg.list_tables(namespace)]
        except NoSuchNamespaceError:  # dropped meanwhile
            continue
    return found
