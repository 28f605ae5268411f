"""`compare-backends`: the library, the CLI and the flow, on a real PostgreSQL table and its Iceberg copy."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.expressions import EqualTo
from typer.testing import CliRunner

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.tier import DataTier
from cutover.tier.comparison import QuerySet, QuerySpec, compare_query
from tests.tier.conftest import ENTITY

QUERIES = {
    "queries": [
        {"name": "by-customer", "entity": ENTITY, "filters": [{"column": "customer_id", "op": "eq", "value": 3}]},
        {"name": "top-amounts", "entity": ENTITY, "columns": ["id", "amount"], "order_by": ["-amount"], "limit": 10},
        {"name": "day-range", "entity": ENTITY,
         "filters": [{"column": "day", "op": "range", "low": "2024-02-01", "high": "2024-03-01"}]},
    ]
}  # fmt: skip


def _query_file(tmp_path: Path) -> Path:
    path = tmp_path / "queries.json"
    path.write_text(json.dumps(QUERIES))
    return path


def _corrupt_row(catalog: CatalogConfig, row_id: int) -> None:
    table = open_catalog(catalog).load_table(("lake", "orders"))
    row = table.scan(row_filter=EqualTo("id", row_id)).to_arrow()
    changed = pa.array([row["amount"][0].as_py() * 2], row.schema.field("amount").type)
    table.overwrite(row.set_column(2, "amount", changed), EqualTo("id", row_id))


def test_compare_query_reports_latency_and_agreement(tier: DataTier, catalog_config: CatalogConfig) -> None:
    spec = QuerySpec.model_validate(QUERIES["queries"][0])
    result = compare_query(tier, spec, repeats=3)
    assert result.agree and result.postgres_rows == result.iceberg_rows == 58
    assert result.postgres_p50_ms is not None and result.iceberg_p95_ms is not None
    assert result.postgres_p50_ms <= result.postgres_p95_ms  # type: ignore[operator]
    _corrupt_row(catalog_config, 3)
    tier.forget()
    broken = compare_query(tier, spec, repeats=1)
    assert (
        not broken.agree and broken.detail == "postgres 58 rows, iceberg 58 rows; 1 only in postgres, 1 only in iceberg"
    )


def _cli(*args: str) -> tuple[int, str]:
    import cutover.cli.tier  # noqa: F401  (registers compare-backends until cutover/cli/__init__.py imports it)
    from cutover.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_cli_compare_backends_prints_both_backends_and_fails_on_disagreement(
    orders: str, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    common = ["--source-dsn", source_dsn, "--catalog-uri", catalog_config.uri, "--warehouse", catalog_config.warehouse,
              "--schema-map", "lake=public", "--queries", str(_query_file(tmp_path)), "--repeats", "2"]  # fmt: skip
    code, output = _cli("compare-backends", *common)
    assert code == 0, output
    assert all(name in output for name in ("by-customer", "top-amounts", "day-range"))
    _corrupt_row(catalog_config, 10)
    code, output = _cli("compare-backends", *common)
    assert code == 1 and "NO" in output  # by-customer (customer 3 owns id 10) disagrees


@pytest.mark.slow
def test_compare_backends_flow_writes_a_table_artifact(
    prefect_api: str, orders: str, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.compare_backends import REPORT_KEY, compare_backends

    state = compare_backends(
        QuerySet.model_validate(QUERIES), repeats=2, source_dsn=source_dsn, catalog=catalog_config,
        schemas={"lake": "public"}, return_state=True,
    )  # fmt: skip
    assert state.is_completed()
    rows = state.result()
    assert [(r["name"], r["agree"]) for r in rows] == [
        ("by-customer", True),
        ("top-amounts", True),
        ("day-range", True),
    ]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))  # type: ignore[list-item]
        )
    (report,) = [a for a in artifacts if a.key == REPORT_KEY]
    assert "iceberg_p95_ms" in str(report.data) and "top-amounts" in str(report.data)


def test_cli_compare_backends_writes_a_json_report(
    orders: str, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    code, output = _cli(
        "compare-backends", "--source-dsn", source_dsn, "--catalog-uri", catalog_config.uri,
        "--warehouse", catalog_config.warehouse, "--schema-map", "lake=public",
        "--queries", str(_query_file(tmp_path)), "--repeats", "2", "--report-json", str(report),
    )  # fmt: skip
    assert code == 0, output
    queries = json.loads(report.read_text())["queries"]
    assert [q["name"] for q in queries] == ["by-customer", "top-amounts", "day-range"]
    first = queries[0]
    assert first["rows"] == 58 and first["agree"] is True
    assert {"postgres_p50_ms", "postgres_p95_ms", "iceberg_p50_ms", "iceberg_p95_ms", "ratio"} <= set(first)
    assert first["ratio"] == round(first["iceberg_p50_ms"] / first["postgres_p50_ms"], 3)


def test_default_query_set_reads_the_demo_orders() -> None:
    from cutover.tier.comparison import default_query_set

    queries = default_query_set().queries
    assert {q.entity for q in queries} == {"demo.orders"}
    assert queries[0].name == "one row by key" and queries[-1].limit == 100


def test_cli_compare_backends_runs_the_default_set_on_the_demo_schema(
    source: object, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    import psycopg

    from cutover.demo import create_orders
    from tests.helpers import migrate

    with psycopg.connect(source_dsn, autocommit=True) as conn:
        create_orders(conn, 3_000)
    assert migrate(source_dsn, catalog_config, ["orders"], namespace="demo").ok
    report = tmp_path / "report.json"
    code, output = _cli(
        "compare-backends", "--source-dsn", source_dsn, "--catalog-uri", catalog_config.uri,
        "--warehouse", catalog_config.warehouse, "--repeats", "1", "--report-json", str(report),
    )  # fmt: skip
    assert code == 0, output
    queries = json.loads(report.read_text())["queries"]
    assert len(queries) == 5 and all(q["agree"] for q in queries)
    assert next(q for q in queries if q["name"].startswith("top 100"))["rows"] == 100
