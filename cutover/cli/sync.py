"""`cutover sync`: the incremental sync from the command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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

if TYPE_CHECKING:
    from cutover.config import CatalogConfig
    from cutover.source.snapshot import SourceSnapshot
    from cutover.sync import SyncReport, SyncRequest, TableSyncReport
    from cutover.validation import ValidationReport


def print_sync_report(report: SyncReport) -> None:
    """The people-facing summary table on stdout with a note per table on why deletes were found by key sets
    and what schema changed, then each table's error on stderr."""
    scope, short = run_scope((t.source_schema, t.iceberg_identifier) for t in report.tables)
    title = f"cutover sync {scope} — run {report.run_id[:12]} ({report.seconds:.1f} s)".replace("  ", " ")
    table = summary_table(
        title,
        [Column("table", "name"), Column("status", "word"), Column("follows", "name"), Column("upserted"),
         Column("deleted"), Column("deletes by", "word"), Column("seconds")],
    )  # fmt: skip
    notes = []
    for t in report.tables:
        style = {"synced": "green", "unchanged": "default", "refused": "yellow", "failed": "red"}[t.status]
        method, _, why = t.deletes_found_by.partition(" (")
        name = t.source_table if short else f"{t.source_schema}.{t.source_table}"
        follows = t.mode.removeprefix("cursor:")
        numbers = (number(t.rows_upserted), number(t.rows_deleted))
        table.add_row(
            name, t.status, follows, *numbers, method.removeprefix("delete "), number(t.seconds, 2), style=style
        )
        if method == "key sets" and why:
            notes.append(f"{name}: deletes found by key sets: {why.removesuffix(')')}")
        if t.schema_changes:
            notes.append(f"{name}: schema: {'; '.join(t.schema_changes)}")
    print_table(table, notes)
    for t in report.tables:
        if t.error:
            console.print(f"[bold]{t.source_schema}.{t.source_table}[/bold] {t.status}: {t.error}")


def _release(request: SyncRequest) -> None:
    from cutover.sync import release_delete_logs

    for table, dropped in release_delete_logs(request).items():
        console.print(f"{table}: {'dropped ' + ', '.join(dropped) if dropped else 'no delete log'}")


def _validation_in_snapshot(
    request: SyncRequest, catalog: CatalogConfig, expectations_dir: Path, into: list[ValidationReport]
) -> Callable[[SourceSnapshot, SyncReport], None]:
    """The hook `run_sync` calls on its own snapshot: validate the tables that are current, into ``into``."""
    from cutover.validation import ValidationRequest, validate_tables

    def validate_in(snapshot: SourceSnapshot, synced: SyncReport) -> None:
        current = [t.source_table for t in synced.tables if t.status in ("synced", "unchanged")]
        if current:
            checked = ValidationRequest.of_selection(request, current).model_copy(
                update={"expectations_dir": expectations_dir}
            )
            into.append(validate_tables(checked, catalog, snapshot))

    return validate_in


@contextmanager
def _progress() -> Iterator[Callable[[TableSyncReport, int, int], None]]:
    """A spinner with a line per finished table; yields the callback `run_sync` reports to."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("syncing", total=None)

        def done(result: TableSyncReport, finished: int, total: int) -> None:
            bar.console.print(f"{result.iceberg_identifier}: {result.status} "
                              f"({result.rows_upserted:,} upserted, {result.rows_deleted:,} deleted)")  # fmt: skip
            bar.update(task, description=f"synced {result.iceberg_identifier} ({finished}/{total})")

        yield done


def _sync_on_cluster(request: SyncRequest, catalog: CatalogConfig, address: str, report_json: Path | None) -> None:
    """The `sync` flow on the cluster (validating on its snapshot when asked); prints and exits."""
    from cutover.cli._cluster import report_of, run_flow_on_cluster
    from cutover.sync import SyncReport, TableSyncReport
    from cutover.validation import TableValidation, ValidationReport

    data = run_flow_on_cluster("sync", address, request=request, catalog=catalog)
    report = report_of(data, SyncReport, TableSyncReport)
    if report_json is not None:
        report.write_json(report_json)
    print_sync_report(report)
    ok = report.ok
    if isinstance(data.get("validation"), dict):
        from cutover.cli.validate import print_validation_report

        validation = report_of(data["validation"], ValidationReport, TableValidation)
        print_validation_report(validation)
        ok = ok and validation.ok
    raise typer.Exit(EXIT_OK if ok else EXIT_INCOMPLETE)


@app.command()
def sync(
    source_dsn: SourceDsn = None,
    schema: Schema = "public",
    table: Tables = None,
    exclude: Exclude = None,
    catalog_uri: CatalogUri = None,
    warehouse: Warehouse = None,
    namespace: Namespace = None,
    cursor: Annotated[
        str | None,
        typer.Option(
            envvar="CUTOVER_SYNC_CURSOR",
            help="Cursor column followed where a table has it (e.g. updated_at); other tables by xmin.",
        ),
    ] = None,
    parallel: Annotated[int, typer.Option(envvar="CUTOVER_PARALLEL", min=1, max=64, help="Tables at once.")] = 2,
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Validate the synced tables on the sync's snapshot.")
    ] = False,
    expectations_dir: Annotated[
        Path, typer.Option(envvar="CUTOVER_EXPECTATIONS_DIR", help="Suites run by --validate.")
    ] = Path("expectations"),
    table_options: TableOptionsPath = None,
    report_json: ReportJson = None,
    release_delete_logs: Annotated[
        bool,
        typer.Option(
            "--release-delete-logs",
            help="Drop the selected tables' delete logs (triggers and log tables) and exit: once the migration is over.",
        ),
    ] = False,
    dask_address: DaskAddress = None,
) -> None:
    """Incremental sync: changed rows, hard deletes and new columns since the last watermark, merged by key."""
    from cutover.flags import FlagSettings, open_flag_service
    from cutover.sync import SyncRequest, run_sync

    request = SyncRequest(
        source_dsn=source_dsn or "",
        schema=schema,
        tables=table or [],
        exclude=exclude or [],
        namespace=namespace,
        cursor=cursor,
        parallel=parallel,
        table_options=table_options,
    )
    if release_delete_logs:
        _release(request)
        return
    catalog = catalog_from(catalog_uri, warehouse)
    if dask_address:
        _sync_on_cluster(request.model_copy(update={"validate_after": validate}), catalog, dask_address, report_json)
    validations: list[ValidationReport] = []
    in_snapshot = _validation_in_snapshot(request, catalog, expectations_dir, validations) if validate else None
    flags = open_flag_service(FlagSettings())  # iceberg-partitioning: the sync evolves a table's spec
    try:
        with _progress() as done:
            report = run_sync(request, catalog, done, in_snapshot, flags=flags)
    finally:
        flags.close()
    if report_json is not None:
        report.write_json(report_json)
    print_sync_report(report)
    ok = report.ok
    if validations:
        from cutover.cli.validate import print_validation_report, record_outcomes

        record_outcomes(validations[0], request.source_dsn)
        print_validation_report(validations[0])
        ok = ok and validations[0].ok
    raise typer.Exit(EXIT_OK if ok else EXIT_INCOMPLETE)
