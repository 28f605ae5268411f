"""Result records of a validation, shared by the JSON report, the Prefect artifacts and the CLI table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from cutover.reporting import RunReport

DiffKind = Literal["missing", "extra", "changed"]
"""missing: in the source, not in Iceberg; extra: in Iceberg only; changed: same key, other values."""
ValidationStatus = Literal["passed", "failed", "error"]


@dataclass
class ColumnDiff:
    """One differing column of a changed row, as canonical text on each side (None is NULL)."""

    column: str
    source: str | None
    iceberg: str | None


@dataclass
class KeyDiff:
    """One differing row, named by its primary key (canonical text of each key column)."""

    kind: DiffKind
    key: dict[str, str | None]
    columns: list[ColumnDiff] = field(default_factory=list)


@dataclass
class ColumnStats:
    """Per-column aggregates on both sides; min/max/sum only where they are well defined and exact."""

    column: str
    source_nulls: int
    iceberg_nulls: int
    source_min: str | None = None
    iceberg_min: str | None = None
    source_max: str | None = None
    iceberg_max: str | None = None
    source_sum: str | None = None
    iceberg_sum: str | None = None

    @property
    def matches(self) -> bool:
        return (
            self.source_nulls == self.iceberg_nulls
            and self.source_min == self.iceberg_min
            and self.source_max == self.iceberg_max
            and self.source_sum == self.iceberg_sum
        )


@dataclass
class ExpectationOutcome:
    """One Great Expectations result, flattened."""

    expectation: str
    column: str | None
    success: bool
    observed: str = ""


@dataclass
class TableValidation:
    """The outcome for one table (the JSON report's per-table record)."""

    source_schema: str
    source_table: str
    iceberg_identifier: str
    status: ValidationStatus = "passed"
    has_primary_key: bool = True
    source_rows: int = 0
    iceberg_rows: int = 0
    matching_rows: int = 0
    missing_total: int = 0
    extra_total: int = 0
    changed_total: int = 0
    differences: list[KeyDiff] = field(default_factory=list)
    """Capped per kind; the totals above are exact."""
    columns: list[ColumnStats] = field(default_factory=list)
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    buckets: int = 0
    seconds: float = 0.0
    reason: str = ""
    error: str | None = None

    @property
    def success_percentage(self) -> float:
        """Matching rows / source rows, in percent (100 for an empty source that Iceberg also holds empty)."""
        if self.source_rows == 0:
            return 100.0 if self.iceberg_rows == 0 and self.status != "error" else 0.0
        return round(100.0 * self.matching_rows / self.source_rows, 4)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_json(self) -> dict[str, object]:
        return asdict(self) | {"seconds": round(self.seconds, 3), "success_percentage": self.success_percentage}


@dataclass
class ValidationReport(RunReport[TableValidation]):
    def table_ok(self, table: TableValidation) -> bool:
        return table.passed

    def table_json(self, table: TableValidation) -> dict[str, object]:
        return table.to_json()

    def table_rows(self) -> list[dict[str, object]]:
        """Rows for a people-facing table (Prefect table artifact, CLI)."""
        return [
            {
                "table": f"{t.source_schema}.{t.source_table}",
                "iceberg": t.iceberg_identifier,
                "status": t.status,
                "source rows": t.source_rows,
                "iceberg rows": t.iceberg_rows,
                "missing": t.missing_total,
                "extra": t.extra_total,
                "changed": t.changed_total,
                "success %": t.success_percentage,
                "seconds": round(t.seconds, 2),
                "reason": t.reason,
            }
            for t in self.tables
        ]

    def markdown(self, max_rows_per_table: int = 20, max_detailed_tables: int = 10) -> str:
        """The Prefect artifact: a one-line total, one compact row per table (failures first), then the
        first differences of the first failing tables. Readable at 200 tables."""
        failing = [t for t in self.tables if not t.passed]
        rows = sum(t.source_rows for t in self.tables)
        verdict = "passed" if self.ok else "FAILED"
        lines = [
            f"# Validation {self.run_id}",
            "",
            f"**{verdict}**: {len(self.tables) - len(failing)} of {len(self.tables)} tables passed, "
            f"{rows:,} source rows compared in {self.seconds:.1f} s",
            "",
            "| table | status | success % | source rows | missing | extra | changed | reason |",
            "|---|---|--:|--:|--:|--:|--:|---|",
        ]
        for t in [*failing, *(t for t in self.tables if t.passed)]:
            reason = _cell(t.reason.splitlines()[0] if t.reason else "")
            lines.append(
                f"| {t.iceberg_identifier} | {t.status} | {t.success_percentage} | {t.source_rows:,} "
                f"| {t.missing_total:,} | {t.extra_total:,} | {t.changed_total:,} | {reason} |"
            )
        for t in failing[:max_detailed_tables]:
            lines += ["", f"## {t.iceberg_identifier}", "", _cell(t.reason)]
            lines += _difference_lines(t, max_rows_per_table)
        if len(failing) > max_detailed_tables:
            lines += ["", f"… and {len(failing) - max_detailed_tables} more failing tables (see the table artifact)"]
        return "\n".join(lines) + "\n"


def _cell(text: object) -> str:
    """Text that cannot break a markdown table row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _difference_lines(t: TableValidation, max_rows: int) -> list[str]:
    lines: list[str] = []
    if t.differences:
        lines += ["", "| kind | key | column | source | iceberg |", "|---|---|---|---|---|"]
        for diff in t.differences[:max_rows]:
            key = _cell(", ".join(f"{k}={v}" for k, v in diff.key.items()))
            for col in diff.columns or [ColumnDiff("", None, None)]:
                lines.append(f"| {diff.kind} | {key} | {col.column} | {_cell(col.source)} | {_cell(col.iceberg)} |")
    failed = [e for e in t.expectations if not e.success]
    if failed:
        lines.append("")
    for outcome in failed:
        lines.append(f"- expectation `{outcome.expectation}` on `{outcome.column}` failed: {_cell(outcome.observed)}")
    return lines
