"""Every command's summary table at 80 columns: no line wider, names whole on one line, numbers right-aligned."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from rich.console import Console
from rich.table import Table

from cutover.cli.maintain import print_maintenance_report
from cutover.cli.migrate import print_migration_report
from cutover.cli.prefect import setup_table
from cutover.cli.rollout import gate_table
from cutover.cli.sync import print_sync_report
from cutover.cli.tier import print_comparison
from cutover.cli.validate import print_validation_report
from cutover.load.report import MigrationReport, TableReport
from cutover.maintenance.report import MaintenanceReport, TableMaintenanceReport
from cutover.orchestration.setup import SetupReport
from cutover.rollout.controller import RolloutStatus
from cutover.rollout.gates import GateReport, GateResult
from cutover.sync.report import SyncReport, TableSyncReport
from cutover.tier.comparison import QueryComparison
from cutover.validation.report import TableValidation, ValidationReport

WIDTH = 80
LONG = "order_line_items"  # a realistic long table name
RUN = "0123456789abcdef"


def _stdout(
    print_report: Callable[[], None], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    print_report()
    return capsys.readouterr().out


def _render(table: Table) -> str:
    out = io.StringIO()
    Console(file=out, width=WIDTH).print(table)
    return out.getvalue()


def migration(schemas: tuple[str, str] = ("public", "public")) -> MigrationReport:
    report = MigrationReport(run_id=RUN, seconds=812.3)
    report.tables = [
        TableReport(schemas[0], LONG, f"lake.{LONG}", rows=5_000_000, files=12, seconds=123.45),
        TableReport(schemas[1], "customers", "lake.customers", rows=12, files=1, seconds=0.21),
        TableReport(schemas[0], "payments", "lake.payments", status="refused", error="column 'v': numeric"),
    ]
    return report


def validation() -> ValidationReport:
    report = ValidationReport(run_id=RUN, seconds=61.0)
    report.tables = [
        TableValidation("public", LONG, f"lake.{LONG}", status="failed", source_rows=5_000_000, iceberg_rows=4_999_998,
                        matching_rows=4_999_985, missing_total=3, extra_total=1, changed_total=12),
        TableValidation("public", "customers", "lake.customers", source_rows=12, iceberg_rows=12, matching_rows=12),
    ]  # fmt: skip
    return report


def sync() -> SyncReport:
    report = SyncReport(run_id=RUN, seconds=3.2)
    reason = "key sets (installing a delete log needs ownership of public.order_line_items and CREATE on database x)"
    report.tables = [
        TableSyncReport("public", LONG, f"lake.{LONG}", status="synced", mode="cursor:updated_at",
                        rows_upserted=1_234_567, rows_deleted=1_000, deletes_found_by=reason, seconds=12.5,
                        schema_changes=["added column note (text)"]),
        TableSyncReport("public", "customers", "lake.customers", mode="xmin",
                        deletes_found_by="delete log (cutover.deletes_0123456789ab_abcdef)", seconds=0.2),
    ]  # fmt: skip
    return report


def maintenance() -> MaintenanceReport:
    report = MaintenanceReport(run_id=RUN, seconds=45.0, dry_run=True)
    report.tables = [
        TableMaintenanceReport(f"lake.{LONG}", status="maintained", data_files_before=1_204, data_files_after=3,
                               data_bytes_before=1_234_567_890, data_bytes_after=1_100_000_000,
                               delete_files_applied=312, snapshots_expired=1_440, files_deleted=2_950),
        TableMaintenanceReport("lake.customers", data_files_before=1, data_files_after=1, data_bytes_before=4_096,
                               data_bytes_after=4_096),
    ]  # fmt: skip
    return report


def comparisons() -> list[QueryComparison]:
    return [
        QueryComparison("top 100 orders under a filter", "demo.orders", 5, 933.12, 1_012.5, 772.0, 801.33, 100, 100,
                        True, ""),
        QueryComparison("one row by key", "demo.orders", 5, 1.56, 2.1, 5.98, 7.02, 1, 1, True, ""),
        QueryComparison("aggregate by status", "demo.orders", 5, 1_537.0, 1_600.0, None, None, 5, None, False,
                        "iceberg: cannot reach the warehouse"),
    ]  # fmt: skip


def gates() -> RolloutStatus:
    return RolloutStatus(f"lake.{LONG}", "shadow", "1%", None, GateReport([
        GateResult("validation", True, "latest validation 0123456789ab passed (100.0 % matching)"),
        GateResult("shadow-mismatches", False, "mismatch rate 0.1200% over 25,000 shadow reads (max 0.1000%)"),
        GateResult("soak", True, "24.0 h since the last step (min 24.0 h)"),
    ]))  # fmt: skip


def prefect_setup() -> SetupReport:
    report = SetupReport()
    for step in (("block", "cutover-source", "updated"), ("work pool", "cutover-process", "kept"),
                 ("concurrency limit", "cutover-iceberg-commits", "created")):  # fmt: skip
        report.add(*step)  # type: ignore[arg-type]
    return report


def check(text: str, names: list[str], numbers: list[list[tuple[str, str]]]) -> None:
    """No line wider than 80; each name whole on a line; each column's (row, value) cells ending in one place."""
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= WIDTH, "\n" + text
    for name in names:
        assert any(name in line for line in lines), f"{name!r} not whole on one line:\n{text}"
    for column in numbers:
        ends = set()
        for row, value in column:
            (line,) = [line for line in lines if re.search(rf"(^|\s){re.escape(row)}\s", line)]
            (match,) = re.finditer(rf"(?<![\w,.]){re.escape(value)}(?![\w,.])", line)
            ends.add(match.end())
        assert len(ends) == 1, f"{column} not right-aligned:\n{text}"


def test_migrate_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = _stdout(lambda: print_migration_report(migration()), capsys, monkeypatch)
    check(
        text,
        ["public → lake", LONG, "customers", "refused"],
        [[(LONG, "5,000,000"), ("customers", "12")], [(LONG, "123.45"), ("customers", "0.21")]],
    )


def test_migrate_table_across_schemas_names_both_sides(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _stdout(lambda: print_migration_report(migration(("public", "sales"))), capsys, monkeypatch)
    check(
        text,
        [f"public.{LONG}", f"lake.{LONG}", "sales.customers"],
        [[(f"public.{LONG}", "123.45"), ("sales.customers", "0.21")]],
    )
    assert any("public.payments → lake.payments" in line and "refused" in line for line in text.splitlines())


def test_validate_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = _stdout(lambda: print_validation_report(validation()), capsys, monkeypatch)
    check(
        text,
        [LONG, "customers", "failed"],
        [[(LONG, "5,000,000"), ("customers", "12")], [(LONG, "99.99"), ("customers", "100.00")]],
    )


def test_sync_table_with_its_notes(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = _stdout(lambda: print_sync_report(sync()), capsys, monkeypatch)
    check(text, [LONG, "updated_at", "key sets", "xmin"], [[(LONG, "12.50"), ("customers", "0.20")]])
    assert f"{LONG}: deletes found by key sets: installing a delete log" in text.replace("\n", " ")
    assert f"{LONG}: schema: added column note (text)" in text


def test_maintain_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = _stdout(lambda: print_maintenance_report(maintenance()), capsys, monkeypatch)
    check(text, [LONG, "maintained", "dry run"], [[(LONG, "1,235→1,100"), ("customers", "0.0→0.0")]])


def test_compare_backends_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = _stdout(lambda: print_comparison(comparisons(), 5), capsys, monkeypatch)
    check(
        text, ["one", "filter", "aggregate by status"], [[("top", "933.12"), ("key", "1.56"), ("status", "1,537.00")]]
    )
    assert "aggregate by status: iceberg: cannot reach the warehouse" in text


def test_rollout_gate_table() -> None:
    check(_render(gate_table(gates())), [f"lake.{LONG}", "shadow-mismatches", "validation"], [])


def test_prefect_setup_table() -> None:
    check(_render(setup_table(prefect_setup())), ["cutover-iceberg-commits", "concurrency limit"], [])
