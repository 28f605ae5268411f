"""The steps of a full load of one table: prepare → load batches → commit → (abort on refusal).

Each step is a plain function over plain values, so the CLI's thread-pool runner and the Prefect flow
compose the same steps; neither holds logic of its own.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from cutover import telemetry
from cutover.config import LoadMode, TableOptions
from cutover.errors import ConfigError
from cutover.lake.catalog import ensure_namespace
from cutover.lake.checkpoint import plan_properties, read_checkpoint
from cutover.lake.commit import CommitResult, commit_batches, table_rows
from cutover.lake.convert import BatchConverter, select_columns
from cutover.lake.layout import key_sort_order, layout_properties
from cutover.lake.partitioning import data_writer, partition_spec
from cutover.lake.types import ColumnMapping, iceberg_schema, map_table
from cutover.lake.writer import declared_sort_order_id
from cutover.source.extract import batch_query, stream_batch
from cutover.source.introspect import SourceTable, introspect_table
from cutover.source.planning import Batch, plan_batches
from cutover.source.snapshot import SourceSnapshot
from cutover.source.watermark import Watermark

logger = logging.getLogger(__name__)


@dataclass
class TableLoad:
    """Everything the batch workers and the committer of one table need; built by :func:`prepare_table`."""

    source: SourceTable
    mappings: list[ColumnMapping]
    schema: Schema
    identifier: tuple[str, str]
    load_id: str
    plan: list[Batch]
    pending: list[Batch]
    created: bool
    complete: bool = False
    committed_rows: dict[int, int] = field(default_factory=dict)
    rows_before: int = 0
    """Rows earlier runs of this load committed (a resumed table); 0 for a new load."""

    @property
    def iceberg_name(self) -> str:
        return ".".join(self.identifier)

    @property
    def commit_per_batch(self) -> bool:
        """Key ranges commit one by one; ctid ranges are valid in one snapshot only, so commit as one."""
        return bool(self.source.primary_key)


@dataclass(frozen=True)
class BatchOutput:
    """What a batch worker hands the committer."""

    index: int
    data_files: list[DataFile]
    rows: int
    seconds: float


def prepare_table(
    conn: psycopg.Connection,
    catalog: Catalog,
    *,
    schema: str,
    table: str,
    namespace: str,
    mode: LoadMode,
    batch_rows: int | None,
    parallel: int,
    options: TableOptions,
    partitioning: bool,
) -> TableLoad:
    """Introspect, map types (refusing before anything is created), then create/resume/replace the table.

    A new table declares the primary key as its sort order and small row groups
    (:mod:`cutover.lake.layout`); with ``partitioning`` (the ``iceberg-partitioning`` flag for the table)
    it is created with the partition spec of its options. A resumed load keeps the table's spec (the
    sync evolves a finished table).

    Raises:
        UnsupportedTypeError: a column has no faithful mapping; Iceberg is untouched.
        PartitionSpecError: the configured partition spec does not fit the table (checked whether the flag
            is on or not, so switching it on later cannot fail); Iceberg is untouched.
        ConfigError: the mode does not fit what exists (e.g. ``create`` over an existing table).
    """
    source = introspect_table(conn, schema, table)
    mappings = map_table(source, options)
    iceberg = iceberg_schema(source, mappings)
    spec = partition_spec(source.qualified_name, iceberg, options.partition)
    identifier = (namespace, table)
    existing = _load_or_none(catalog, identifier, forget_lost=mode != "create")

    if existing is not None and mode == "create":
        raise ConfigError(
            f"Iceberg table {'.'.join(identifier)} already exists; use --mode resume to continue its load "
            "or --mode replace to load it again from scratch"
        )
    if existing is not None and mode == "replace":
        catalog.purge_table(identifier)
        existing = None
    if existing is not None:
        return _resume(source, mappings, iceberg, identifier, existing)

    load_id = uuid.uuid4().hex
    plan = plan_batches(conn, source, batch_rows=batch_rows, parallel=parallel)
    ensure_namespace(catalog, namespace)
    created = catalog.create_table(
        identifier,
        schema=iceberg,
        partition_spec=spec if partitioning else UNPARTITIONED_PARTITION_SPEC,
        sort_order=key_sort_order(iceberg),
        properties={
            **layout_properties(options.row_group_rows),
            **plan_properties(load_id, source.qualified_name, plan),
        },
    )
    if created.schema() != iceberg:  # the field ids of files written later must match the table's
        catalog.purge_table(identifier)
        raise AssertionError(f"catalog reassigned field ids of {identifier}: {created.schema()} != {iceberg}")
    return TableLoad(source, mappings, iceberg, identifier, load_id, plan, list(plan), created=True)


def _load_or_none(catalog: Catalog, identifier: tuple[str, str], *, forget_lost: bool = False) -> Table | None:
    """The table, or None when absent. A catalog entry whose metadata file is gone (the warehouse files
    were lost) is dropped when ``forget_lost`` (resume and replace load it afresh), else refused.

    Raises:
        ConfigError: the entry's metadata file is missing and ``forget_lost`` is off.
    """
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        return None
    except FileNotFoundError as exc:
        if not forget_lost:
            raise ConfigError(
                f"the metadata of Iceberg table {'.'.join(identifier)} is missing ({exc}); "
                "load it again with --mode resume or --mode replace"
            ) from exc
        logger.warning("%s: metadata file missing (%s); dropping the catalog entry to load afresh", identifier, exc)
        catalog.drop_table(identifier)
        return None


def _resume(
    source: SourceTable, mappings: list[ColumnMapping], iceberg: Schema, identifier: tuple[str, str], table: Table
) -> TableLoad:
    name = ".".join(identifier)
    checkpoint = read_checkpoint(table)
    if checkpoint is None:
        raise ConfigError(f"Iceberg table {name} was not created by a cutover load; use --mode replace")
    if table.schema() != iceberg:
        raise ConfigError(
            f"the source schema of {source.qualified_name} changed since the load of {name} began; "
            "use --mode replace (or let the nightly sync evolve a completed table)"
        )
    pending = checkpoint.pending
    if not source.primary_key and checkpoint.done:
        pending = []  # committed as one unit: done means all done
    return TableLoad(
        source,
        mappings,
        iceberg,
        identifier,
        checkpoint.load_id,
        checkpoint.plan,
        pending,
        created=False,
        complete=checkpoint.complete or not pending,
        rows_before=table_rows(table),
    )


def load_batch(dsn: str, load: TableLoad, table: Table, batch: Batch, snapshot_id: str | None) -> BatchOutput:
    """Extract one batch, convert and check every value, and write it as Parquet data files.

    Idempotent: files carry a fresh unique name per attempt and are referenced only once committed.

    Raises:
        SourceConnectionError: the source connection failed (transient).
        UnsupportedValueError: a value cannot be stored exactly (deterministic; refuse the table).
    """
    started = time.perf_counter()
    columns = select_columns(load.mappings)
    query = batch_query(load.source.schema, load.source.name, columns, batch, load.source.primary_key)
    writer = data_writer(
        table.io,
        table.location(),
        load.schema,
        table.spec(),
        table.properties,
        prefix=f"{load.load_id[:12]}-b{batch.index:05d}",
        dictionary_columns=load.source.low_cardinality_columns(),
        sort_order_id=declared_sort_order_id(table),
    )
    converter = BatchConverter(load.source.qualified_name, load.mappings, writer.target_schema, load.source.primary_key)
    rows = 0
    with telemetry.tracer().start_as_current_span("cutover.load.batch", attributes={"table": load.iceberg_name}):
        try:
            for record_batch in stream_batch(dsn, query.as_string(), snapshot_id):
                converted = converter.convert(record_batch)
                rows += converted.num_rows
                writer.write(converted)
            data_files = writer.close()
        except BaseException:
            writer.abort()
            raise
    seconds = time.perf_counter() - started
    telemetry.instruments().batch_duration.record(seconds, {"table": load.iceberg_name})
    return BatchOutput(batch.index, data_files, rows, seconds)


def commit_outputs(load: TableLoad, table: Table, outputs: list[BatchOutput], snapshot: SourceSnapshot) -> CommitResult:
    """Commit finished batches with the checkpoint; see :func:`cutover.lake.commit.commit_batches`.

    Changes nothing in ``load``: the scheduler records what the result says was committed.
    """
    result = commit_batches(
        table,
        {o.index: o.data_files for o in outputs},
        source_lsn=snapshot.lsn,
        source_snapshot_time=snapshot.taken_at.isoformat(),
        total_batches=len(load.plan),
        watermark=Watermark.of_snapshot(snapshot),
    )
    rows = sum(output.rows for output in outputs if output.index in result.batches)
    telemetry.instruments().rows_migrated.add(rows, {"table": load.iceberg_name})
    return result


def abort_table(catalog: Catalog, load: TableLoad) -> None:
    """Remove what a refused load wrote: the table is dropped with its files, when this load owns it."""
    table = _load_or_none(catalog, load.identifier)
    if table is None:
        return
    checkpoint = read_checkpoint(table)
    if checkpoint is not None and checkpoint.load_id == load.load_id:
        catalog.purge_table(load.identifier)
