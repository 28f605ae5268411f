"""Errors of the validation package (subclasses of the one :mod:`cutover.errors` hierarchy)."""

from __future__ import annotations

from cutover.errors import ConfigError, CutoverError


class IcebergTableMissingError(CutoverError):
    """The Iceberg table to validate does not exist (not loaded yet, or dropped)."""

    def __init__(self, identifier: str) -> None:
        super().__init__(f"Iceberg table {identifier} does not exist; run `cutover migrate` first")
        self.identifier = identifier


class ExpectationSuiteError(ConfigError):
    """An expectations file cannot be read or names something the table does not have."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"expectations {path}: {problem}")
        self.path = path


class OptionalDependencyError(CutoverError):
    """An optional library (Great Expectations) is not installed."""


class IcebergSchemaMismatchError(CutoverError):
    """The Iceberg table lacks columns the source has (a column added since the last load or sync)."""

    def __init__(self, identifier: str, missing: list[str]) -> None:
        super().__init__(
            f"Iceberg table {identifier} has no column(s) {', '.join(missing)} that the source has; "
            "run `cutover sync` to evolve its schema"
        )
        self.identifier = identifier
        self.missing = missing
