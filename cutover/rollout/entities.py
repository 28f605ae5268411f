"""Which entities exist: a flag, a rollout step or a rollback for a mistyped entity must not quietly succeed.

An entity is an Iceberg table, ``<namespace>.<table>``. Setting a flag for ``sales.order`` when the table
is ``sales.orders`` changes nothing that is read, and looks like success: the operator believes the
entity rolled back while its reads stay on Iceberg. So commands that name an entity check it first.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from cutover.errors import ConfigError
from cutover.flags.registry import validate_entity

if TYPE_CHECKING:
    from cutover.config import CatalogConfig


class UnknownEntityError(ConfigError):
    """The entity names no Iceberg table (and has no flags of its own): most likely a typo."""

    def __init__(self, entity: str, known: list[str]) -> None:
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        super().__init__(f"unknown entity {entity}: no such Iceberg table (entities: {shown or 'none yet'})")
        self.entity = entity


def check_entity(entity: str, catalog: CatalogConfig, *, scoped: Collection[str] = ()) -> None:
    """Refuse ``entity`` unless it is an Iceberg table of ``catalog`` or already has scoped flags.

    ``scoped`` are the entities the flag store holds flags for: those are known without asking the catalog,
    so rolling one of them back works while the catalog is down.

    Raises:
        InvalidFlagValueError: not ``<namespace>.<table>``.
        UnknownEntityError: no such table and no flags of its own.
        CatalogUnavailableError: the catalog could not be asked (the caller decides whether to go on).
    """
    validate_entity(entity)
    if entity in scoped:
        return
    from pyiceberg.exceptions import NoSuchNamespaceError

    from cutover.lake.catalog import open_catalog

    namespace, _, table = entity.partition(".")
    iceberg = open_catalog(catalog)
    if iceberg.table_exists((namespace, table)):
        return
    known: list[str] = []
    for (space,) in (tuple(n) for n in iceberg.list_namespaces() if len(n) == 1):
        try:
            known += sorted(".".join(t) for t in iceberg.list_tables(space))
        except NoSuchNamespaceError:  # dropped meanwhile
            continue
    raise UnknownEntityError(entity, sorted({*known, *scoped}))
