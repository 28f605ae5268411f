"""Great Expectations 1.x suites: generated from the source schema, edited by people, run on Iceberg.

GX costs seconds to import, so it is imported inside the functions that need it. Suites are plain JSON
(``suite.to_json_dict()``) in ``expectations/<namespace>.<table>.json``.

Running: column expectations (not-null, value sets, ranges) run on pandas batches of at most
``batch_rows`` rows of the Iceberg table and their results are merged (success only when every batch
succeeds, unexpected counts summed). Table-level expectations (row count, uniqueness) need the whole
table at once, so they run on one frame holding only the columns they name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.validation.errors import ExpectationSuiteError, OptionalDependencyError
from cutover.validation.report import ExpectationOutcome

if TYPE_CHECKING:
    import psycopg
    from pyiceberg.table import Table

    from cutover.source.introspect import SourceTable

ROW_COUNT_PARAMETER = "source_row_count"
"""Runtime parameter of the row-count expectation: the source's row count in the validated snapshot."""
DEFAULT_BATCH_ROWS = 250_000
_TABLE_LEVEL = frozenset({"expect_table_row_count_to_equal", "expect_compound_columns_to_be_unique"})
_WHOLE_COLUMN = frozenset({"expect_column_values_to_be_unique"})
_SIMPLE_CHECK = re.compile(
    r'^\(*"?(?P<col>[^"()\s]+)"?(?:::\w+)?\s*(?P<op>>=|>|<=|<)\s*\(?(?P<val>-?[\d.]+)\)?(?:::\w+)?\)*$'
)


def suite_path(directory: Path, namespace: str, table: str) -> Path:
    return directory / f"{namespace}.{table}.json"


def _gx() -> Any:
    try:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
    except ImportError as exc:  # pragma: no cover - installed in the locked environment
        raise OptionalDependencyError("great-expectations is not installed; expectations cannot run") from exc
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, context


def _check_ranges(conn: psycopg.Connection, table: SourceTable) -> dict[str, dict[str, Any]]:
    """``{column: {min_value/max_value/strict_*}}`` from CHECK constraints of the simple ``col op number`` form."""
    ranges: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        "select pg_get_constraintdef(oid) from pg_constraint where conrelid = %s and contype = 'c'", (table.oid,)
    ).fetchall()
    for (definition,) in rows:
        body = definition.removeprefix("CHECK ").strip()
        for part in re.split(r"\s+AND\s+", body.strip("()")):
            match = _SIMPLE_CHECK.match(part.strip())
            if not match:
                continue
            col, op, value = match["col"], match["op"], float(match["val"])
            bound = ranges.setdefault(col, {})
            if op in (">", ">="):
                bound["min_value"], bound["strict_min"] = value, op == ">"
            else:
                bound["max_value"], bound["strict_max"] = value, op == "<"
    return ranges


def build_suite_json(conn: psycopg.Connection, table: SourceTable, namespace: str) -> dict[str, Any]:
    """The generated suite as JSON: not-null, unique key, enum value sets, CHECK ranges, row count."""
    gx, _context = _gx()
    suite = gx.ExpectationSuite(name=f"{namespace}.{table.name}")
    e = gx.expectations
    suite.add_expectation(e.ExpectTableRowCountToEqual(value={"$PARAMETER": ROW_COUNT_PARAMETER}))
    if len(table.primary_key) == 1:
        suite.add_expectation(e.ExpectColumnValuesToBeUnique(column=table.primary_key[0]))
    elif table.primary_key:
        suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=list(table.primary_key)))
    for column in table.columns:
        if column.not_null or column.name in table.primary_key:
            suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=column.name))
        if column.category == "E" and not column.is_array:
            labels = [
                label
                for (label,) in conn.execute(
                    "select e.enumlabel from pg_enum e join pg_type t on t.oid = e.enumtypid "
                    "where t.typname = %s order by e.enumsortorder",
                    (column.base_type,),
                ).fetchall()
            ]
            suite.add_expectation(e.ExpectColumnValuesToBeInSet(column=column.name, value_set=labels))
    for column_name, bound in _check_ranges(conn, table).items():
        if any(c.name == column_name for c in table.columns):
            suite.add_expectation(e.ExpectColumnValuesToBeBetween(column=column_name, **bound))
    data: dict[str, Any] = suite.to_json_dict()
    return data


def write_expectation_suites(
    dsn: str, schema: str, tables: list[str], namespace: str, directory: Path, *, overwrite: bool = False
) -> list[Path]:
    """Write one suite per table; existing files (people edit them) are kept unless ``overwrite``.

    Raises:
        ConfigError: ``directory`` cannot be created or written.
    """
    from cutover.errors import ConfigError
    from cutover.source.connection import connect
    from cutover.source.introspect import introspect_table

    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with connect(dsn) as conn:
            for name in tables:
                path = suite_path(directory, namespace, name)
                if path.exists() and not overwrite:
                    continue
                suite = build_suite_json(conn, introspect_table(conn, schema, name), namespace)
                path.write_text(json.dumps(suite, indent=2) + "\n")
                written.append(path)
    except OSError as exc:
        raise ConfigError(f"cannot write expectation suites to {directory}: {exc.strerror or exc}") from exc
    return written


def _load_suite(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ExpectationSuiteError(str(path), f"cannot read: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise ExpectationSuiteError(str(path), "not a Great Expectations suite (no 'expectations' list)")
    return data


def _columns_of(config: dict[str, Any]) -> list[str]:
    kwargs = config.get("kwargs", {})
    return list(kwargs.get("column_list") or ([kwargs["column"]] if "column" in kwargs else []))


def run_expectations(
    path: Path, iceberg: Table, *, source_rows: int, batch_rows: int = DEFAULT_BATCH_ROWS
) -> list[ExpectationOutcome]:
    """Run the suite at ``path`` on the Iceberg table in bounded-memory batches; one outcome per expectation.

    Raises:
        ExpectationSuiteError: unreadable suite, or it names a column the Iceberg table lacks.
    """
    data = _load_suite(path)
    gx, context = _gx()
    expectations = data["expectations"]
    known = {f.name for f in iceberg.schema().fields}
    for config in expectations:
        unknown = [c for c in _columns_of(config) if c not in known]
        if unknown:
            raise ExpectationSuiteError(str(path), f"{config.get('type')} names unknown column(s) {unknown}")
    whole = [c for c in expectations if c.get("type") in _TABLE_LEVEL | _WHOLE_COLUMN]
    batched = [c for c in expectations if c not in whole]
    asset = context.data_sources.add_pandas("cutover").add_dataframe_asset("iceberg")
    definition = asset.add_batch_definition_whole_dataframe("frame")
    parameters = {ROW_COUNT_PARAMETER: source_rows}

    def run(configs: list[dict[str, Any]], frame: Any) -> list[Any]:
        suite = gx.ExpectationSuite(name=data.get("name") or path.stem, expectations=configs)
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        return list(batch.validate(suite, expectation_parameters=parameters).results)

    merged: dict[int, ExpectationOutcome] = {}
    unexpected: dict[int, int] = {}
    if whole:
        columns = sorted({c for config in whole for c in _columns_of(config)}) or [iceberg.schema().fields[0].name]
        frame = iceberg.scan(selected_fields=tuple(columns)).to_arrow().to_pandas()
        for index, result in zip(_indexes(expectations, whole), run(whole, frame), strict=True):
            merged[index] = _outcome(result)
    if batched:
        columns = sorted({c for config in batched for c in _columns_of(config)})
        reader = iceberg.scan(selected_fields=tuple(columns)).to_arrow_batch_reader()
        pending: list[Any] = []
        pending_rows = 0
        import pyarrow as pa

        def flush() -> None:
            frame = pa.Table.from_batches(pending, schema=reader.schema).to_pandas()
            for index, result in zip(_indexes(expectations, batched), run(batched, frame), strict=True):
                outcome = _outcome(result)
                unexpected[index] = unexpected.get(index, 0) + int((result.result or {}).get("unexpected_count") or 0)
                previous = merged.get(index)
                outcome.success = outcome.success and (previous.success if previous else True)
                outcome.observed = f"{unexpected[index]} unexpected value(s)"
                merged[index] = outcome

        for record_batch in reader:
            pending.append(record_batch)
            pending_rows += record_batch.num_rows
            if pending_rows >= batch_rows:
                flush()
                pending, pending_rows = [], 0
        if pending or not merged:
            flush()
    return [merged[i] for i in sorted(merged)]


def _indexes(all_configs: list[dict[str, Any]], subset: list[dict[str, Any]]) -> list[int]:
    return [next(i for i, c in enumerate(all_configs) if c is config) for config in subset]


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    if "observed_value" in details:
        observed = f"observed {details['observed_value']}"
    else:
        observed = f"{details.get('unexpected_count', 0)} unexpected value(s)"
    column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or []) or None
    return ExpectationOutcome(expectation=config.type, column=column, success=bool(result.success), observed=observed)
