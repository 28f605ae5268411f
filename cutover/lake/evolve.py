"""Schema evolution of an Iceberg copy when its PostgreSQL source changed shape (design §5), and the
partition-spec evolution ``iceberg-partitioning`` asks for, applied together in the sync's commit.

Allowed, applied in the sync's own commit: a new source column (added as optional: rows older than it
have no value), a widening Iceberg can express (int → long, float → double, decimal(p,s) → decimal(p',s)
with p' > p; varchar(n) → longer is invisible, both are strings), a NOT NULL dropped. Refused, with
nothing written: a narrowed or changed type, a dropped column (unless the table is configured to keep
it, then it stays and new rows hold NULL there), a changed primary key. A rename looks like a drop plus
an add, and is refused like a drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pyiceberg.schema import Schema
from pyiceberg.types import DecimalType, DoubleType, FloatType, IcebergType, IntegerType, LongType, NestedField

from cutover.errors import SchemaEvolutionError
from cutover.lake.partitioning import evolve_spec

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.table import Table, Transaction

DroppedColumns = Literal["refuse", "keep"]


@dataclass
class SchemaChange:
    """What the sync changes in the Iceberg schema; empty when the shapes agree."""

    added: list[NestedField] = field(default_factory=list)
    widened: dict[str, IcebergType] = field(default_factory=dict)
    relaxed: list[str] = field(default_factory=list)
    """Columns that become optional (NOT NULL dropped in the source, or a kept dropped column)."""
    kept: list[str] = field(default_factory=list)
    """Iceberg columns the source no longer has, kept by configuration (new rows: NULL)."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.widened or self.relaxed)

    def describe(self) -> list[str]:
        parts = [f"added {f.name} ({f.field_type})" for f in self.added]
        parts += [f"widened {name} to {t}" for name, t in self.widened.items()]
        parts += [f"{name} now optional" for name in self.relaxed]
        parts += [f"kept {name} (dropped in the source)" for name in self.kept]
        return parts


def _widening(old: IcebergType, new: IcebergType) -> bool:
    if isinstance(old, IntegerType) and isinstance(new, LongType):
        return True
    if isinstance(old, FloatType) and isinstance(new, DoubleType):
        return True
    return (
        isinstance(old, DecimalType)
        and isinstance(new, DecimalType)
        and new.scale == old.scale
        and new.precision > old.precision
    )


def plan_evolution(table: str, target: Schema, current: Schema, dropped: DroppedColumns = "refuse") -> SchemaChange:
    """Compare the schema the source maps to (``target``) with the Iceberg table's (``current``).

    Raises:
        SchemaEvolutionError: a change Iceberg cannot follow without losing or inventing data.
    """
    change = SchemaChange()
    target_key = [target.find_field(i).name for i in target.identifier_field_ids]
    current_key = [current.find_field(i).name for i in current.identifier_field_ids]
    if target_key != current_key:
        raise SchemaEvolutionError(
            table, None, f"the primary key changed from ({', '.join(current_key)}) to ({', '.join(target_key)})"
        )
    existing = {f.name: f for f in current.fields}
    for wanted in target.fields:
        have = existing.get(wanted.name)
        if have is None:
            change.added.append(wanted)
            continue
        if have.field_type != wanted.field_type:
            if not (have.field_type.is_primitive and _widening(have.field_type, wanted.field_type)):
                raise SchemaEvolutionError(
                    table,
                    wanted.name,
                    f"type changed from {have.field_type} to {wanted.field_type}, which Iceberg cannot follow "
                    "without loss (only int → long, float → double and a wider decimal precision can)",
                )
            change.widened[wanted.name] = wanted.field_type
        if have.required and not wanted.required:
            change.relaxed.append(wanted.name)
    target_names = {f.name for f in target.fields}
    gone = [name for name in existing if name not in target_names]
    if gone and dropped == "refuse":
        raise SchemaEvolutionError(
            table,
            gone[0],
            f"column(s) {', '.join(gone)} no longer exist in the source; nothing was written. Keep them in "
            'Iceberg (new rows hold NULL) with {"sync": {"dropped_columns": "keep"}} in the table options',
        )
    change.kept = gone
    change.relaxed += [name for name in gone if existing[name].required]
    return change


def apply_evolution(update: object, change: SchemaChange) -> None:
    """Apply ``change`` to a pyiceberg ``UpdateSchema`` (inside the sync's transaction)."""
    from pyiceberg.table.update.schema import UpdateSchema

    assert isinstance(update, UpdateSchema)
    for added in change.added:
        update.add_column(added.name, added.field_type, doc=added.doc, required=False)
    for name, new_type in change.widened.items():
        update.update_column(name, field_type=new_type)
    for name in change.relaxed:
        update.make_column_optional(name)


def evolved(table: Table, change: SchemaChange, spec: PartitionSpec | None) -> tuple[Schema, PartitionSpec]:
    """The schema and partition spec after ``change`` and the evolution to ``spec`` (None: the spec stays),
    with the field ids the commit will assign: computed on a transaction that is never committed, so
    files can be written for them before the commit."""
    if change.empty and spec is None:
        return table.schema(), table.spec()
    transaction = table.transaction()
    apply_changes(transaction, change, spec)
    return transaction.table_metadata.schema(), transaction.table_metadata.spec()


def apply_changes(transaction: Transaction, change: SchemaChange, spec: PartitionSpec | None) -> None:
    """Apply the schema change, then the evolution to partition spec ``spec``, to ``transaction``."""
    if not change.empty:
        with transaction.update_schema() as update:
            apply_evolution(update, change)
    if spec is not None:
        metadata = transaction.table_metadata
        with transaction.update_spec() as update_spec:
            evolve_spec(update_spec, metadata.spec(), spec, metadata.schema())


def describe_spec(spec: PartitionSpec | None) -> list[str]:
    """The report line of a partition-spec evolution (none when the spec stays)."""
    if spec is None:
        return []
    fields = ", ".join(f.name for f in spec.fields)
    return [f"partition spec now ({fields}); files written before keep theirs"]
