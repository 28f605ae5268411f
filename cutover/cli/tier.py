"""`cutover compare-backends`: a query set on PostgreSQL and Iceberg, latency and agreement side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cutover.cli._common import EXIT_INCOMPLETE, EXIT_OK, app, catalog_from, writable_report
from cutover.cli.tables import Column, number, print_table, summary_table
from cutover.errors import ConfigError

if TYPE_CHECKING:
    from cutover.tier.comparison import QueryComparison


def print_comparison(results: list[QueryComparison], repeats: int) -> None:
    """Latencies side by side on stdout; why a query disagreed under the table."""
    table = summary_table(
        f"PostgreSQL vs Iceberg ({repeats} runs each, ms)",
        [Column("query", "text"), Column("pg p50"), Column("pg p95"), Column("ice p50"), Column("ice p95"),
         Column("ice/pg"), Column("rows"), Column("agree", "word")],
    )  # fmt: skip
    for r in results:
        times = (r.postgres_p50_ms, r.postgres_p95_ms, r.iceberg_p50_ms, r.iceberg_p95_ms, r.ratio_p50)
        rows = (
            number(r.postgres_rows)
            if r.postgres_rows == r.iceberg_rows
            else f"{number(r.postgres_rows)}/{number(r.iceberg_rows)}"
        )
        table.add_row(
            r.name, *(number(v, 2) for v in times), rows, "yes" if r.agree else "NO", style=None if r.agree else "red"
        )
    print_table(table, (f"{r.name}: {r.detail}" for r in results if not r.agree))


def _schemas(pairs: list[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        namespace, sep, schema = pair.partition("=")
        if not sep or not namespace or not schema:
            raise ConfigError(f"--schema-map wants NAMESPACE=SCHEMA, got {pair!r}")
        result[namespace] = schema
    return result


@app.command("compare-backends")
def compare_backends(
    queries: Annotated[
        Path | None,
        typer.Option("--queries", "-q", help="Query set, JSON or YAML: {queries: [...]}; default: the demo's reads."),
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, max=1000, help="Timed runs per query and backend.")] = 5,
    source_dsn: Annotated[
        str | None, typer.Option(envvar="CUTOVER_SOURCE_DSN", help="postgresql:// URL of the application database.")
    ] = None,
    catalog_uri: Annotated[str | None, typer.Option(envvar="CUTOVER_CATALOG_URI", help="Iceberg catalog URI.")] = None,
    warehouse: Annotated[str | None, typer.Option(envvar="CUTOVER_WAREHOUSE", help="Warehouse URI.")] = None,
    schema_map: Annotated[
        list[str] | None,
        typer.Option("--schema-map", help="NAMESPACE=SCHEMA when an Iceberg namespace is not the PostgreSQL schema."),
    ] = None,
    report_json: Annotated[
        Path | None,
        typer.Option(
            "--report-json", callback=writable_report, help="Write per query: p50/p95 per backend, ratio, rows, agree."
        ),
    ] = None,
) -> None:
    """Run every query on both backends: p50/p95 latency and whether the results agree (exit 1 if any disagree).

    Without ``--queries`` the default set runs on the demo's ``demo.orders`` (PostgreSQL ``public.orders``).
    """
    from cutover.config import Settings
    from cutover.flags import FlagSettings
    from cutover.source.connection import check_source
    from cutover.tier import TierSettings, open_data_tier
    from cutover.tier.comparison import DEMO_NAMESPACE, QuerySet, compare_query, default_query_set, write_report

    query_set = QuerySet.load(queries) if queries is not None else default_query_set()
    if queries is None and not schema_map:
        schema_map = [f"{DEMO_NAMESPACE}=public"]
    catalog = catalog_from(catalog_uri, warehouse)
    settings = Settings().model_copy(
        update={"source_dsn": source_dsn or Settings().source_dsn, "catalog_uri": catalog.uri,
                "warehouse": catalog.warehouse, "catalog_name": catalog.name}
    )  # fmt: skip
    check_source(settings.source_dsn)  # one line now, rather than the pool's timeout at the first read
    tuning = TierSettings(schemas=_schemas(schema_map or []))
    with open_data_tier(settings, FlagSettings(), tuning, record_observations=False) as tier:
        results = [compare_query(tier, spec, repeats=repeats) for spec in query_set.queries]
    print_comparison(results, repeats)
    if report_json is not None:
        write_report(results, report_json)
    raise typer.Exit(EXIT_OK if all(r.agree for r in results) else EXIT_INCOMPLETE)
