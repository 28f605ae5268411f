"""Planting a corruption in an Iceberg table, and finding the last state cutover itself wrote.

The corruption is a real commit, made the way a faulty writer would make it: pyiceberg's ``overwrite``
rewrites the one row with another value (copy-on-write), so nothing but the data says it is wrong, and
the validation has to find the key. Restoring then goes back to the newest snapshot that cutover's own
commits wrote (a load, sync or maintenance commit carries ``cutover.*`` summary properties; a foreign
writer's commit does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.expressions import EqualTo

from cutover import names
from cutover.errors import ConfigError

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

CORRUPTION_PROPERTY = "demo.planted-corruption"
"""Set on the corrupting commit's summary (deliberately not ``cutover.*``: cutover did not write it)."""


@dataclass(frozen=True)
class Corruption:
    """What was changed, and the snapshots around it."""

    table: str
    key_column: str
    key: int
    column: str
    before: str
    after: str
    clean_snapshot_id: int
    """The current snapshot before the corruption."""
    corrupt_snapshot_id: int


def plant_corruption(table: Table, key_column: str, key: int, column: str) -> Corruption:
    """Add one unit to ``column`` of the row whose ``key_column`` is ``key``, in a commit of its own.

    Raises:
        ConfigError: the table has no snapshot, or no such row (or more than one), or the column is not numeric.
    """
    clean = table.current_snapshot()
    if clean is None:
        raise ConfigError(f"{table.name()} has no snapshot to corrupt")
    row = table.scan(row_filter=_key_is(key_column, key)).to_arrow()
    if row.num_rows != 1:
        raise ConfigError(f"{'.'.join(table.name())} has {row.num_rows} rows with {key_column}={key}, not 1")
    index = row.schema.get_field_index(column)
    field = row.schema.field(index)
    before = row[column][0].as_py()
    if isinstance(before, Decimal):
        after: object = before + Decimal("1.00")
    elif isinstance(before, int | float):
        after = before + 1
    else:
        raise ConfigError(f"column {column!r} is not numeric: cannot plant a corruption there")
    changed = row.set_column(index, field, pa.array([after], type=field.type))
    table.overwrite(
        changed,
        overwrite_filter=_key_is(key_column, key),
        snapshot_properties={CORRUPTION_PROPERTY: key_column + "=" + str(key)},
    )
    corrupt = table.current_snapshot()
    assert corrupt is not None
    return Corruption(
        ".".join(table.name()), key_column, key, column, str(before), str(after), clean.snapshot_id,
        corrupt.snapshot_id,
    )  # fmt: skip


def _key_is(column: str, key: int) -> BooleanExpression:
    return EqualTo(column, key)  # type: ignore[call-arg, arg-type]  # pyiceberg binds the name at runtime


def last_snapshot_by_cutover(table: Table) -> Snapshot:
    """The newest snapshot of the current history that cutover committed (its summary carries a
    ``cutover.*`` property): the state to restore after a foreign writer damaged the table.

    Raises:
        ConfigError: no snapshot of the history was written by cutover.
    """
    from pyiceberg.table.snapshots import ancestors_of

    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        summary = snapshot.summary
        if summary is not None and any(k.startswith(names.PROPERTY_PREFIX) for k in summary.additional_properties):
            return snapshot
    raise ConfigError(f"no snapshot of {'.'.join(table.name())} was written by cutover")
