"""`cutover validate` and `cutover expectations init`: proving the copy from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
from cutover.cli.tables import Column, number, percent, print_table, run_scope, summary_table

if TYPE_CHECKING:
    from cutover.validation import ValidationReport

expectations_app = typer.Typer(no_args_is_help=True, help="Great Expectations suites generated from the source.")
app.add_typer(expectations_app, name="expectations")

ExpectationsDir = Annotated[
    Path, typer.Option(envvar="CUTOVER_EXPECTATIONS_DIR", help="Directory of <namespace>.<table>.json suites.")
]


def print_validation_report(report: ValidationReport, max_differences: int = 10) -> None:
    """The people-facing summary table on stdout, then the first differences of each table on stderr.

    Iceberg's row count and each table's seconds are in the JSON report; here ``missing`` and ``extra``
    say how Iceberg's count differs, and the title gives the run's time.
    """
    scope, short = run_scope((t.source_schema, t.iceberg_identifier) for t in report.tables)
    title = f"cutover validate {scope} — run {report.run_id[:12]} ({report.seconds:.1f} s)".replace("  ", " ")
    table = summary_table(
        title,
        [Column("table", "name"), Column("status", "word"), Column("source rows"), Column("missing"),
         Column("extra"), Column("changed"), Column("success %")],
    )  # fmt: skip
    for t in report.tables:
        style = {"passed": "green", "failed": "red", "error": "yellow"}[t.status]
        counts = (t.source_rows, t.missing_total, t.extra_total, t.changed_total)
        name = t.source_table if short else t.iceberg_identifier
        table.add_row(name, t.status, *map(number, counts), percent(t.success_percentage), style=style)
    print_table(table)
    for t in report.tables:
        if not t.passed:
            console.print(f"[bold]{t.iceberg_identifier}[/bold] {t.status}: {t.reason}")
        for diff in t.differences[:max_differences]:
            key = ", ".join(f"{k}={v}" for k, v in diff.key.items())
            cols = "; ".join(f"{c.column}: {c.source!r} → {c.iceberg!r}" for c in diff.columns)
            console.print(f"  {diff.kind:8} {key}  {cols}")


@app.command()
def validate(
    source_dsn: SourceDsn = None,
    schema: Schema = "public",
    table: Tables = None,
    exclude: Exclude = None,
    catalog_uri: CatalogUri = None,
    warehouse: Warehouse = None,
    namespace: Namespace = None,
    table_options: TableOptionsPath = None,
    expectations_dir: ExpectationsDir = Path("expectations"),
    max_differences: Annotated[int, typer.Option(min=0, help="Keys listed per kind (totals are exact).")] = 100,
    parallel: Annotated[int, typer.Option(envvar="CUTOVER_PARALLEL", min=1, max=64, help="Tables at once.")] = 2,
    report_json: ReportJson = None,
    dask_address: DaskAddress = None,
) -> None:
    """Prove the Iceberg copy: parity down to the differing keys, plus expectations; exit 1 unless all pass."""
    from cutover.validation import ValidationRequest, validate_tables

    request = ValidationRequest(
        source_dsn=source_dsn or "",
        schema=schema,
        tables=table or [],
        exclude=exclude or [],
        namespace=namespace,
        table_options=table_options,
        expectations_dir=expectations_dir,
        max_differences=max_differences,
        parallel=parallel,
    )
    catalog = catalog_from(catalog_uri, warehouse)
    if dask_address:  # the flow records the outcomes and emits the events itself
        from cutover.cli._cluster import report_of, run_flow_on_cluster
        from cutover.validation import TableValidation, ValidationReport

        data = run_flow_on_cluster("validate", dask_address, request=request, catalog=catalog)
        report = report_of(data, ValidationReport, TableValidation)
    else:
        report = validate_tables(request, catalog)
        record_outcomes(report, request.source_dsn)
    if report_json is not None:
        report.write_json(report_json)
    print_validation_report(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_INCOMPLETE)


@expectations_app.command("init")
def expectations_init(
    source_dsn: SourceDsn = None,
    schema: Schema = "public",
    table: Tables = None,
    exclude: Exclude = None,
    namespace: Namespace = None,
    expectations_dir: ExpectationsDir = Path("expectations"),
    overwrite: Annotated[bool, typer.Option(help="Replace existing suites (they may hold people's edits).")] = False,
) -> None:
    """Write expectations/<namespace>.<table>.json from the source schema (existing files are kept)."""
    from cutover.validation import ValidationRequest, resolve_validation_tables, write_expectation_suites

    request = ValidationRequest(
        source_dsn=source_dsn or "", schema=schema, tables=table or [], exclude=exclude or [], namespace=namespace
    )
    names = resolve_validation_tables(request)
    written = write_expectation_suites(
        request.source_dsn, request.schema_name, names, request.target_namespace, expectations_dir, overwrite=overwrite
    )
    for path in written:
        typer.echo(str(path))
    kept = len(names) - len(written)
    if kept:
        console.print(f"{kept} existing suite(s) kept (use --overwrite to regenerate)")
    raise typer.Exit(EXIT_OK)


def record_outcomes(report: ValidationReport, source_dsn: str) -> None:
    """Keep the verdicts where the rollout gates read them; a control-store outage must not hide the report."""
    from cutover.config import Settings
    from cutover.errors import CutoverError
    from cutover.rollout.store import ControlStore, record_validation_report

    try:
        record_validation_report(ControlStore(Settings().control_dsn or source_dsn), report)
    except CutoverError as exc:
        console.print(f"[yellow]validation not recorded in the control store:[/yellow] {exc}")
