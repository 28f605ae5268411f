"""What every `cutover` command shares: the app, consoles, exit codes, settings helpers."""

from __future__ import annotations

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
