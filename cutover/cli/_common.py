"""What every `cutover` command shares: the app, its one error-to-exit-code map, consoles, option types.

Start-up matters (`cutover --help`, `flags show` and `rollback` are run by people in a hurry), so this module
and the command modules import only Typer and Rich at the top; settings, the library and its drivers are
imported inside the commands that use them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

if TYPE_CHECKING:
    from typer._click import Context as ClickContext  # Typer's own click, which its groups are typed with

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
    """The message of a mapped error on one line (pydantic's errors joined, newlines folded).

    A settings object's field is named by its environment variable (``CUTOVER_API_TOKEN``), which is what
    the user sets, rather than by its Python name.
    """
    from cutover.errors import describe_validation

    if _is_validation_error(exc):
        prefix = _env_prefix(exc.title)  # type: ignore[attr-defined]
        if prefix is not None:
            return "; ".join(
                f"{prefix}{str(e['loc'][0]).upper() if e['loc'] else ''}: {e['msg']}"
                for e in exc.errors()  # type: ignore[attr-defined]
            )
        return describe_validation(exc)  # type: ignore[arg-type]
    return " ".join((str(exc) or type(exc).__name__).split())


def _env_prefix(model_name: str) -> str | None:
    """The ``env_prefix`` of the settings class called ``model_name``, or None when it is not a settings class."""
    settings = sys.modules.get("pydantic_settings")
    if settings is None:
        return None
    classes = list(settings.BaseSettings.__subclasses__())
    while classes:
        cls = classes.pop()
        if cls.__name__ == model_name:
            return str(cls.model_config.get("env_prefix") or "")
        classes += cls.__subclasses__()
    return None


def _is_validation_error(exc: BaseException) -> bool:
    # pydantic is imported by whatever raised its error; checking by type here would import it for --help
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


class CutoverGroup(TyperGroup):
    """The root command group: telemetry set up once, and cutover's errors turned into one line and an exit code.

    It wraps every subcommand (options parsed, command run), so the same map holds whether the CLI runs
    as a process or in-process under Typer's ``CliRunner``.
    """

    def invoke(self, ctx: ClickContext) -> Any:
        from cutover.telemetry import configure_from_environment

        configure_from_environment()  # here, not at import: `--help` never gets this far
        from typer._click.exceptions import UsageError  # Typer's own click; the public name is not exported

        try:
            return super().invoke(ctx)
        except UsageError as exc:  # one line like every other error (Typer's panel wraps it at the width)
            root = (exc.ctx.find_root().info_name or "") if exc.ctx else ""  # `python -m cutover.cli` too
            where = exc.ctx.command_path.removeprefix(root).strip() if exc.ctx else ""
            hint = f" (see `cutover {where} --help`)" if where else ""
            console.print(f"[red]error:[/red] {' '.join(exc.format_message().split())}{hint}", highlight=False)
            raise typer.Exit(exc.exit_code) from exc
        except Exception as exc:
            code = exit_code_of(exc)
            if code is None:  # typer.Exit, and bugs (they keep their traceback)
                raise
            console.print(f"[red]error:[/red] {error_line(exc)}", highlight=False)
            raise typer.Exit(code) from exc


app = typer.Typer(
    cls=CutoverGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Move a data tier from PostgreSQL to Iceberg.",
)  # fmt: skip


def app_for(args: list[str]) -> typer.Typer:
    """The app with only the command (or command group) that ``args`` start with, for a process to run.

    Typer turns the signature of every registered command into options before it runs any one: ~45 ms for
    cutover's forty, an eighth of `cutover rollback`'s start-up. The whole app when ``args`` name no
    command (``--help``, a typo: those messages list every command).
    """
    if not args or args[0].startswith("-"):
        return app
    from typer.main import get_command_name

    def name(command: Any) -> str:
        return str(command.name or get_command_name(command.callback.__name__))

    commands = [c for c in app.registered_commands if name(c) == args[0]]
    groups = [g for g in app.registered_groups if g.name == args[0]]
    if not commands and not groups:
        return app
    narrow = typer.Typer(
        cls=CutoverGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
        help=app.info.help,
    )  # fmt: skip
    narrow.registered_commands, narrow.registered_groups = commands, groups
    narrow.callback()(_group)  # a group even with one command: `cutover rollback ...` keeps its name
    return narrow


def _group() -> None:
    """Move a data tier from PostgreSQL to Iceberg."""


def catalog_from(catalog_uri: str | None, warehouse: str | None) -> CatalogConfig:
    """The catalog named by options, falling back to ``CUTOVER_*`` settings, then the embedded default.

    The catalog is opened and its warehouse reached here, before the command does anything: an
    unreachable or mistyped one then costs one line and nothing half-done.
    """
    from cutover.config import Settings
    from cutover.lake.catalog import check_catalog

    settings = Settings()
    overrides = {k: v for k, v in {"catalog_uri": catalog_uri, "warehouse": warehouse}.items() if v is not None}
    config = settings.model_copy(update=overrides).catalog()
    check_catalog(config)
    return config


def writable_report(path: Path | None) -> Path | None:
    """Option callback: refuse a path that cannot be written *before* the job runs, not after it changed Iceberg."""
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
    typer.Option(envvar="CUTOVER_REPORT_JSON", callback=writable_report, help="Write the JSON report here."),
]
DaskAddress = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        envvar="CUTOVER_DASK_ADDRESS",
        help="Run the command's Prefect flow with its steps on the Dask scheduler at tcp://HOST:PORT "
        "(workers report to PREFECT_API_URL).",
    ),
]
