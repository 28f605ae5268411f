"""`cutover migrate`: the full load from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cutover.cli._common import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    CatalogUri,
    DaskAddress,
    Exclude,
    Namespace,
    ReportJson,
    Schema,
    SourceDsn,
    TableOptionsPath,
    Tables,
    Warehouse,
    app,
    catalog_from,
    console,
)
from cutover.cli.tables import Column, number, print_table, run_scope, summary_table
from cutover.load.modes import LoadMode
from cutover.load.report import MigrationReport

if TYPE_CHECKING:
    from cutover.config import CatalogConfig
    from cutover.load.runner import MigrationRequest
    from cutover.load.tracker import LoadProgress


def print_migration_report(report: MigrationReport) -> None:
    """The people-facing summary table on stdout, then each table's error on stderr."""
    scope, short = run_scope((t.source_schema, t.iceberg_identifier) for t in report.tables)
    title = f"cutover migrate {scope} — run {report.run_id[:12]} ({report.seconds:.1f} s)".replace("  ", " ")
    table = summary_table(
        title,
        [Column("table", "name" if short else "text"), Column("status", "word"), Column("rows"), Column("files"),
         Column("seconds"), Column("rows/s")],
    )  # fmt: skip
    for t in report.tables:
        name = t.source_table if short else f"{t.source_schema}.{t.source_table} → {t.iceberg_identifier}"
        numbers = [number(t.rows), number(t.files), number(t.seconds, 2), number(round(t.rows_per_second))]
        style = {"migrated": "green", "refused": "yellow", "failed": "red"}[t.status]
        table.add_row(name, t.status, *numbers, style=style)
    print_table(table)
    for t in report.tables:
        if t.error:
            console.print(f"[bold]{t.source_schema}.{t.source_table}[/bold] {t.status}: {t.error}")


@app.command()
def migrate(
    source_dsn: SourceDsn = None,
    schema: Schema = "public",
    table: Tables = None,
    exclude: Exclude = None,
    catalog_uri: CatalogUri = None,
    warehouse: Warehouse = None,
    namespace: Namespace = None,
    batch_rows: Annotated[
        int | None,
        typer.Option(envvar="CUTOVER_BATCH_ROWS", min=1, help="Rows per batch; default: ~256 MiB of heap per batch."),
    ] = None,
    parallel: Annotated[int, typer.Option(envvar="CUTOVER_PARALLEL", min=1, max=64, help="Batches read at once.")] = 2,
    mode: Annotated[LoadMode, typer.Option(envvar="CUTOVER_MODE", help="create | resume | replace.")] = "create",
    table_options: TableOptionsPath = None,
    report_json: ReportJson = None,
    dask_address: DaskAddress = None,
) -> None:
    """Full load of PostgreSQL tables into Iceberg: exact, parallel, resumable."""
    from cutover.load.runner import MigrationRequest

    request = MigrationRequest(
        source_dsn=source_dsn or "",
        schema=schema,
        tables=table or [],
        exclude=exclude or [],
        namespace=namespace,
        batch_rows=batch_rows,
        parallel=parallel,
        mode=mode,
        table_options=table_options,
    )
    catalog = catalog_from(catalog_uri, warehouse)
    if dask_address:
        from cutover.cli._cluster import report_of, run_flow_on_cluster
        from cutover.load.report import TableReport

        data = run_flow_on_cluster("migrate", dask_address, request=request, catalog=catalog)
        report = report_of(data, MigrationReport, TableReport)
    else:
        report = run_with_progress(request, catalog)
    if report_json is not None:
        report.write_json(report_json)
    print_migration_report(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_INCOMPLETE)


def run_with_progress(request: MigrationRequest, catalog: CatalogConfig) -> MigrationReport:
    """Run the full load with one Rich progress bar per table (``iceberg-partitioning`` read from the flag
    store ``CUTOVER_FLAGS_*`` names)."""
    from cutover.flags import FlagSettings, open_flag_service
    from cutover.load.runner import run_migration

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bars: dict[str, TaskID] = {}

        def on_progress(step: LoadProgress) -> None:
            if step.table not in bars:
                bars[step.table] = progress.add_task(step.table, total=step.batches_total, rows=0)
            progress.update(bars[step.table], completed=step.batches_done, rows=step.rows)

        flags = open_flag_service(FlagSettings())
        try:
            return run_migration(request, catalog, on_progress, flags=flags)
        finally:
            flags.close()
