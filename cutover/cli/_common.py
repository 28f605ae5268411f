"""What every `cutover` command shares: the app, consoles, exit codes, settings helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cutover.config import CatalogConfig, Settings

app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Move a data tier from PostgreSQL to Iceberg.",
)  # fmt: skip
console = Console(stderr=True, soft_wrap=True)
"""Progress, errors and notes go to stderr; reports go to stdout so they can be piped."""

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2


def catalog_from(catalog_uri: str | None, warehouse: str | None) -> CatalogConfig:
    """The catalog named by options, falling back to ``CUTOVER_*`` settings, then the embedded default."""
    settings = Settings()
    overrides = {k: v for k, v in {"catalog_uri": catalog_uri, "warehouse": warehouse}.items() if v is not None}
    return settings.model_copy(update=overrides).catalog()


# Options shared by every command that selects tables and a catalog (migrate, validate, expectations, ...).
SourceDsn = Annotated[str | None, typer.Option(envvar="CUTOVER_SOURCE_DSN", help="postgresql:// URL of the source.")]
Schema = Annotated[str, typer.Option(envvar="CUTOVER_SCHEMA", help="Source schema.")]
Tables = Annotated[
    list[str] | None,
    typer.Option("--table", envvar="CUTOVER_TABLES", help="Table name or glob (repeatable); default: all."),
]
Exclude = Annotated[
    list[str] | None, typer.Option("--exclude", envvar="CUTOVER_EXCLUDE", help="Glob of tables to skip (repeatable).")
]
Namespace = Annotated[
    str | None, typer.Option(envvar="CUTOVER_NAMESPACE", help="Iceberg namespace; default: the schema name.")
]
CatalogUri = Annotated[
    str | None,
    typer.Option(
        envvar="CUTOVER_CATALOG_URI", help="sqlite:///..., postgresql+psycopg://... or http(s):// REST catalog."
    ),
]
Warehouse = Annotated[
    str | None, typer.Option(envvar="CUTOVER_WAREHOUSE", help="Warehouse URI (file://, abfss://, ...).")
]
TableOptionsPath = Annotated[
    Path | None, typer.Option(envvar="CUTOVER_TABLE_OPTIONS", help="JSON file of per-column opt-ins.")
]
ReportJson = Annotated[Path | None, typer.Option(envvar="CUTOVER_REPORT_JSON", help="Write the JSON report here.")]
DaskAddress = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        envvar="CUTOVER_DASK_ADDRESS",
        help="Run the command's Prefect flow with its steps on the Dask scheduler at tcp://HOST:PORT "
        "(workers report to PREFECT_API_URL).",
    ),
]
