"""One short line per step of the demo, from the reports' people-facing rows (or a run's table artifact).

Pure functions of plain data, so the in-process story and the Prefect one read the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cutover.demo.corruption import Corruption
    from cutover.demo.jobs import Rows
    from cutover.demo.reads import ReadsOutcome
    from cutover.demo.sample import DayOfWrites


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float | str) and str(value).strip() else 0


def _short(name: object) -> str:
    """``public.orders`` → ``orders``."""
    return str(name).rpartition(".")[2]


def migrated(rows: Rows) -> str:
    done = [r for r in rows if r.get("status") == "migrated"]
    total = sum(_int(r.get("rows")) for r in done)
    files = sum(_int(r.get("files")) for r in done)
    namespaces = sorted({str(r.get("iceberg", "")).partition(".")[0] for r in done})
    return f"{len(done)} of {len(rows)} tables, {total:,} rows → Iceberg {', '.join(namespaces)}.* ({files} files)"


def validated(rows: Rows) -> str:
    """``4 of 4 tables match: 1,501,001 rows, 100 %`` or the failing tables with their reasons (which name
    the first differing key)."""
    failing = [r for r in rows if r.get("status") != "passed"]
    if not failing:
        total = sum(_int(r.get("source rows")) for r in rows)
        return f"{len(rows)} of {len(rows)} tables match: {total:,} rows, 100 %"
    parts = [f"{r.get('iceberg')} {str(r.get('status')).upper()}: {r.get('reason')}" for r in failing]
    return "; ".join(parts) + f"; {len(rows) - len(failing)} of {len(rows)} tables match"


def all_passed(rows: Rows) -> bool:
    return bool(rows) and all(r.get("status") == "passed" for r in rows)


def synced(rows: Rows) -> str:
    upserted = sum(_int(r.get("upserted")) for r in rows)
    deleted = sum(_int(r.get("deleted")) for r in rows)
    changes = [f"{_short(r.get('table'))} {r.get('schema')}" for r in rows if r.get("schema")]
    found_by = sorted({str(r.get("deletes found by")).partition(" (")[0] for r in rows if r.get("deleted")})
    text = f"{upserted:,} rows upserted, {deleted:,} deleted in {len(rows)} tables"
    if found_by:
        text += f" (deletes found by {', '.join(found_by)})"
    return text + (f"; {'; '.join(changes)}" if changes else "")


def wrote(day: DayOfWrites) -> str:
    table, _, column = day.new_column.partition(".")
    return (
        f"{table} {day.orders_inserted:,} new, {day.orders_updated:,} updated, {day.orders_deleted:,} deleted, "
        f"new column {column}; customers {day.customers_updated:,} and products {day.products_updated:,} "
        f"updated; order lines +{day.lines_inserted:,} -{day.lines_deleted:,}"
    )


def shadowed(entity: str, reads: ReadsOutcome) -> str:
    return (
        f"{entity} off → shadow: {reads.reads} reads served by PostgreSQL, {reads.compared} compared with "
        f"Iceberg, {reads.mismatches} mismatches"
    )


def rolled_out(entity: str, percentage: str, reads: ReadsOutcome) -> str:
    return (
        f"{entity} shadow → {stage(percentage)}: {reads.reads} reads, {reads.by_iceberg} served by Iceberg, "
        f"{reads.by_postgres} by PostgreSQL, {reads.iceberg_errors} Iceberg errors"
    )


def corrupted(corruption: Corruption) -> str:
    return (
        f"{corruption.table} {corruption.key_column}={corruption.key}: {corruption.column} {corruption.before} → "
        f"{corruption.after} in Iceberg only (snapshot {corruption.corrupt_snapshot_id})"
    )


def stage(name: str) -> str:
    """``25`` → ``25 %``; ``shadow`` stays."""
    return f"{name} %" if name.isdigit() else name
