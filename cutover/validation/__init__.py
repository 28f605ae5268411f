"""Validation that proves the copy (design §6): parity down to the key, expectations, one report.

Public surface: :class:`ValidationRequest`, :func:`validate_tables` (what the flow, the CLI and
`migrate` call), :func:`validate_table` (one table inside a snapshot the caller holds), the report
dataclasses, and :func:`write_expectation_suites` for `cutover expectations init`.
"""

from __future__ import annotations

from cutover.validation.expectations import suite_path, write_expectation_suites
from cutover.validation.parity import ParityOptions
from cutover.validation.report import (
    ColumnDiff,
    ColumnStats,
    ExpectationOutcome,
    KeyDiff,
    TableValidation,
    ValidationReport,
)
from cutover.validation.runner import ValidationRequest, resolve_validation_tables, validate_table, validate_tables

__all__ = [
    "ColumnDiff",
    "ColumnStats",
    "ExpectationOutcome",
    "KeyDiff",
    "ParityOptions",
    "TableValidation",
    "ValidationReport",
    "ValidationRequest",
    "resolve_validation_tables",
    "suite_path",
    "validate_table",
    "validate_tables",
    "write_expectation_suites",
]
