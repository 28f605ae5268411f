"""The validation markdown artifact stays readable at hundreds of tables: a total, one row per table, failures first."""

from __future__ import annotations

from cutover.validation.report import KeyDiff, TableValidation, ValidationReport


def _table(name: str, passed: bool) -> TableValidation:
    result = TableValidation("public", name, f"lake.{name}")
    result.source_rows = result.iceberg_rows = 100
    result.matching_rows = 100 if passed else 99
    result.changed_total = 0 if passed else 1
    result.status, result.reason = ("passed", "all 100 rows match") if passed else ("failed", "1 rows with | in it")
    if not passed:
        result.differences = [KeyDiff("changed", {"id": "7"})]
    return result


def test_markdown_is_one_total_line_and_one_row_per_table_failures_first() -> None:
    report = ValidationReport(run_id="r1")
    report.tables = [_table(f"t{i:03}", passed=i != 150) for i in range(200)]

    lines = report.markdown().splitlines()

    assert lines[2] == "**FAILED**: 199 of 200 tables passed, 20,000 source rows compared in 0.0 s"
    rows = [line for line in lines if line.startswith("| lake.")]
    assert len(rows) == 200
    assert rows[0].startswith("| lake.t150 | failed | 99.0 |")  # the failure first, whatever its position
    assert r"1 rows with \| in it" in rows[0]  # a pipe in a reason cannot break the table
    assert [line for line in lines if line.startswith("## ")] == ["## lake.t150"]  # details only for failures
    assert any(line.startswith("| changed | id=7 |") for line in lines)
