"""What every `cutover` command shares: the app, its one error-to-exit-code map, consoles, option types.

Start-up matters (`cutover --help`, `flags show` and `rollback` are run by people in a hurry), so this module
and the command modules import only Typer and Rich at the top; settings, the library and its drivers are
imported inside the commands that use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

if TYPE_CHECKING:
    from cutover.config import CatalogConfig

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2

console = Console(stderr=True, soft_wrap=True)
"""Progress, errors and notes go to stderr; reports go to stdout so they can be piped."""


def exit_code_of(exc: BaseException) -> int | None:
    """The one error-to-exit-code map: 2 for bad input or configuration, 1 for every other cutover error.

    Anything else is a bug and keeps its traceback (``None``): hiding it behind a tidy line would make it
    unfixable.
    """
    from cutover.errors import ConfigError, CutoverError

    if isinstance(exc, ConfigError) or _is_validation_error(exc):
        return EXIT_USAGE
    if isinstance(exc, CutoverError):
        return EXIT_INCOMPLETE
    return None


def error_line(exc: BaseException) -> str:
    """The message of a mapped error on one line (pydantic's errors joined, newlines folded)."""
    if _is_validation_error(exc):
        text = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
            for e in exc.errors()  # type: ignore[attr-defined]
        )
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _is_validation_error(exc: BaseException) -> bool:
    # pydantic is imported by whatever raised its error; checking by type here would import it for --help
    from sys import modules

    pydantic = modules.get("pydantic")
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


class CutoverGroup(TyperGroup):
    """The root command group: telemetry set up once, and cutover's errors turned into one line and an exit code.

    It wraps every subcommand (options parsed, command run), so the same map holds whether the CLI runs
    as a process or in-process under Typer's ``CliRunner``.
    """

    def invoke(self, ctx: click.Context) -> Any:
        from cutover.telemetry import configure_from_environment

        configure_from_environment()  # here, not at import: `--help` never gets this far
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            code = exit_code_of(exc)
            if code is None:
                raise
            console.print(f"[red]error:[/red] {error_line(exc)}", markup=True, highlight=False)
            raise typer.Exit(code) from exc


app = typer.Typer(
    cls=CutoverGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Move a data tier from PostgreSQL to Iceberg.",
)  # fmt: skip


def catalog_from(catalog_uri: str | None, warehouse: str | None) -> CatalogConfig:
    """The catalog named by options, falling back to ``CUTOVER_*`` settings, then the embedded default."""
    from cutover.config import Settings

    settings = Settings()
    overrides = {k: v for k, v in {"catalog_uri": catalog_uri, "warehouse": warehouse}.items() if v is not None}
    return settings.model_copy(update=overrides).catalog()


def _writable_report(path: Path | None) -> Path | None:
    """Refuse a report path that cannot be written *before* the job runs, not after it changed Iceberg."""
    if path is None:
        return None
    from cutover.reporting import check_writable

    check_writable(path)
    return path


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
ReportJson = Annotated[
    Path | None,
    typer.Option(envvar="CUTOVER_REPORT_JSON", callback=_writable_report, help="Write the JSON report here."),
]
