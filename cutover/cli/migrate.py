"""`cutover migrate` and `cutover demo`: the full load from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

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
from cutover.config import CatalogConfig, LoadMode
from cutover.load.report import MigrationReport

if TYPE_CHECKING:
    from cutover.load.runner import MigrationRequest
    from cutover.load.tracker import LoadProgress


def print_migration_report(report: MigrationReport) -> None:
    """The people-facing summary table on stdout, then each table's error on stderr."""
    table = Table(title=f"cutover migrate — run {report.run_id[:12]} ({report.seconds:.1f} s)")
    for column in ("table", "iceberg", "status", "rows", "files", "seconds", "rows/s"):
        numeric = column in ("rows", "files", "seconds", "rows/s")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold", no_wrap=numeric)
    for row in report.table_rows():
        style = {"migrated": "green", "refused": "yellow", "failed": "red"}[str(row["status"])]
        table.add_row(
            *(
                f"{row[c]:,}" if isinstance(row[c], int) else str(row[c])
                for c in ("table", "iceberg", "status", "rows", "files", "seconds", "rows/s")
            ),
            style=style,
        )
    Console().print(table)
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
    """Run the full load with one Rich progress bar per table."""
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

        return run_migration(request, catalog, on_progress)


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="Rows in the largest table (orders).")] = 1_000_000,
    state_dir: Annotated[
        Path,
        typer.Option(envvar="CUTOVER_STATE_DIR", help="Where the embedded catalog, warehouse and PostgreSQL live."),
    ] = Path(".cutover"),
) -> None:
    """Seed a sample application schema into a throwaway PostgreSQL and migrate it into the embedded defaults."""
    from cutover.demo import run_demo

    report = run_demo(rows=rows, state_dir=state_dir, console=console, run=run_with_progress)
    print_migration_report(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_INCOMPLETE)
