"""`cutover maintain`, `cutover restore` and `cutover catalog export|import`: table care and recovery."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cutover.cli._common import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    CatalogUri,
    DaskAddress,
    ReportJson,
    Warehouse,
    app,
    catalog_from,
    console,
    writable_report,
)
from cutover.cli.tables import Column, number, print_table, summary_table
from cutover.errors import ConfigError

if TYPE_CHECKING:
    from cutover.maintenance import MaintenanceReport, TableMaintenanceReport

catalog_app = typer.Typer(no_args_is_help=True, help="Export and import the catalog's metadata pointers.")
app.add_typer(catalog_app, name="catalog")

IcebergNamespace = Annotated[
    str | None, typer.Option("--namespace", envvar="CUTOVER_NAMESPACE", help="Iceberg namespace; default: all.")
]


def print_maintenance_report(report: MaintenanceReport) -> None:
    """The summary table on stdout; errors, abandoned compactions and (dry run) orphans on stderr."""
    namespaces = {t.iceberg_identifier.rpartition(".")[0] for t in report.tables}
    scope = next(iter(namespaces)) if len(namespaces) == 1 else ""
    dry = " — dry run" if report.dry_run else ""
    title = f"cutover maintain {scope} — run {report.run_id[:12]} ({report.seconds:.1f} s){dry}".replace("  ", " ")
    table = summary_table(
        title,
        [Column("table", "name"), Column("status", "word"), Column("data files"), Column("MB"),
         Column("deletes applied"), Column("snapshots expired"), Column("files deleted")],
    )  # fmt: skip
    for t in report.tables:
        style = {"maintained": "green", "planned": "cyan", "unchanged": "default", "failed": "red"}[t.status]
        name = t.iceberg_identifier.rpartition(".")[2] if scope else t.iceberg_identifier
        files = f"{number(t.data_files_before)}→{number(t.data_files_after)}"
        size = f"{_mb(t.data_bytes_before)}→{_mb(t.data_bytes_after)}"
        counts = map(number, (t.delete_files_applied, t.snapshots_expired, t.files_deleted))
        table.add_row(name, t.status, files, size, *counts, style=style)
    print_table(table)
    for t in report.tables:
        if t.error or t.compaction_abandoned:
            console.print(f"[bold]{t.iceberg_identifier}[/bold] {t.status}: {t.error or t.compaction_abandoned}")
        if report.dry_run:
            for orphan in t.orphans:
                console.print(f"{t.iceberg_identifier}: orphan {orphan['path']} ({orphan['size']:,} bytes)")


def _mb(size: int) -> str:
    mb = size / 1e6
    return f"{mb:,.0f}" if mb >= 10 else f"{mb:.1f}"


@app.command()
def maintain(
    namespace: IcebergNamespace = None,
    table: Annotated[
        list[str] | None, typer.Option("--table", help="Iceberg table name or glob (repeatable); default: all.")
    ] = None,
    catalog_uri: CatalogUri = None,
    warehouse: Warehouse = None,
    target_file_mb: Annotated[
        float, typer.Option(min=0.001, envvar="CUTOVER_TARGET_FILE_MB", help="Compacted file size (MB).")
    ] = 512.0,
    older_than_days: Annotated[
        float, typer.Option(min=0, envvar="CUTOVER_EXPIRE_OLDER_THAN_DAYS", help="Expire snapshots older than this.")
    ] = 7.0,
    retain_last: Annotated[
        int, typer.Option(min=1, envvar="CUTOVER_RETAIN_LAST", help="Newest snapshots always kept.")
    ] = 10,
    orphan_grace_days: Annotated[
        float, typer.Option(min=0, envvar="CUTOVER_ORPHAN_GRACE_DAYS", help="Unreferenced files younger stay.")
    ] = 3.0,
    max_manifests: Annotated[int, typer.Option(min=1, help="Rewrite manifests beyond this many.")] = 16,
    parallel: Annotated[int, typer.Option(min=1, max=16, help="Tables at once.")] = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and list (orphans with sizes); change nothing.")
    ] = False,
    report_json: ReportJson = None,
    dask_address: DaskAddress = None,
) -> None:
    """Compact, rewrite manifests, expire snapshots (deleting the files only they referenced), remove orphans."""
    from cutover.maintenance import MaintenanceRequest, run_maintenance

    request = MaintenanceRequest(
        namespace=namespace,
        tables=table or [],
        target_file_bytes=int(target_file_mb * 1024 * 1024),
        older_than_days=older_than_days,
        retain_last=retain_last,
        orphan_grace_days=orphan_grace_days,
        max_manifests=max_manifests,
        parallel=parallel,
        dry_run=dry_run,
    )

    def done(result: TableMaintenanceReport, finished: int, total: int) -> None:
        console.print(f"{result.iceberg_identifier}: {result.status} ({finished}/{total})")

    catalog = catalog_from(catalog_uri, warehouse)
    if dask_address:
        from cutover.cli._cluster import report_of, run_flow_on_cluster
        from cutover.maintenance import MaintenanceReport, TableMaintenanceReport

        data = run_flow_on_cluster("maintain", dask_address, request=request, catalog=catalog)
        report = report_of(data, MaintenanceReport, TableMaintenanceReport, dry_run=bool(data.get("dry_run")))
    else:
        report = run_maintenance(request, catalog, done)
    if report_json is not None:
        report.write_json(report_json)
    print_maintenance_report(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_INCOMPLETE)


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--as-of {text!r} is not an ISO timestamp (e.g. 2026-12-01T02:00:00+00:00)") from None


@app.command()
def restore(
    table: Annotated[str, typer.Option("--table", help="Iceberg table (name in --namespace, or namespace.name).")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit trail).")],
    snapshot: Annotated[int | None, typer.Option("--snapshot", help="Snapshot id to restore.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Restore the snapshot current at this time.")] = None,
    namespace: IcebergNamespace = None,
    catalog_uri: CatalogUri = None,
    warehouse: Warehouse = None,
    actor: Annotated[
        str | None, typer.Option(envvar="CUTOVER_ACTOR", help="Who restores (default: the OS user).")
    ] = None,
) -> None:
    """Make an earlier snapshot the table's current state again, as a new commit; audited."""
    from pyiceberg.exceptions import NoSuchTableError

    from cutover.config import Settings
    from cutover.lake.catalog import open_catalog
    from cutover.maintenance import restore_table
    from cutover.rollout.store import ControlStore

    when = _parse_time(as_of)
    if not reason.strip():
        raise ConfigError("a restore needs a reason (it goes to the audit trail)")
    identifier = _identifier(table, namespace)
    store = ControlStore(Settings().control())
    try:
        iceberg = open_catalog(catalog_from(catalog_uri, warehouse)).load_table(identifier)
    except NoSuchTableError:
        raise ConfigError(f"no Iceberg table {'.'.join(identifier)}") from None
    result = restore_table(iceberg, snapshot_id=snapshot, as_of=when, reason=reason, actor=actor, audit=store)
    typer.echo(
        f"{result.table}: restored snapshot {result.restored_snapshot_id} as snapshot {result.new_snapshot_id} "
        f"(was {result.previous_snapshot_id}; audit #{result.audit_id})"
    )


def _identifier(table: str, namespace: str | None) -> tuple[str, str]:
    if namespace:
        return namespace, table
    space, dot, name = table.rpartition(".")
    if not dot or not space or not name:
        raise ConfigError(f"--table {table!r}: give namespace.table, or --namespace")
    return space, name


@catalog_app.command("export")
def catalog_export(
    output: Annotated[Path, typer.Option("--output", callback=writable_report, help="JSON file to write.")],
    catalog_uri: CatalogUri = None,
    warehouse: Warehouse = None,
) -> None:
    """Write every table's current metadata location and every namespace's properties to a file."""
    from cutover.lake.catalog import open_catalog
    from cutover.maintenance import write_export

    export = write_export(open_catalog(catalog_from(catalog_uri, warehouse)), output)
    typer.echo(f"exported {len(export['tables'])} table(s) in {len(export['namespaces'])} namespace(s) to {output}")


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="A file written by `cutover catalog export`.")],
    catalog_uri: CatalogUri = None,
    warehouse: Warehouse = None,
) -> None:
    """Register the exported tables (at their exported metadata files) in this catalog."""
    from cutover.lake.catalog import open_catalog
    from cutover.maintenance import import_catalog, read_export

    export = read_export(file)
    result = import_catalog(open_catalog(catalog_from(catalog_uri, warehouse)), export)
    typer.echo(
        f"registered {len(result.tables_registered)} table(s), {len(result.tables_present)} already present; "
        f"created {len(result.namespaces_created)} namespace(s)"
    )
