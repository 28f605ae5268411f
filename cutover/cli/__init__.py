"""The `cutover` command line: thin adapters that parse options, call the library and present results.

Every option can also come from a ``CUTOVER_*`` environment variable. Exit codes: 0 success, 1 when any
table was refused or failed, 2 for bad input or configuration. One module per command group registers
its commands on :data:`app`.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from cutover.cli import api as _api  # noqa: F401
from cutover.cli import demo as _demo  # noqa: F401
from cutover.cli import flags as _flags  # noqa: F401
from cutover.cli import maintain as _maintain  # noqa: F401
from cutover.cli import migrate as _migrate  # noqa: F401  (registers its commands)
from cutover.cli import prefect as _prefect  # noqa: F401
from cutover.cli import rollout as _rollout  # noqa: F401
from cutover.cli import sync as _sync  # noqa: F401
from cutover.cli import tier as _tier  # noqa: F401
from cutover.cli import validate as _validate  # noqa: F401
from cutover.cli._common import EXIT_INCOMPLETE, EXIT_USAGE, app, console
from cutover.errors import ConfigError, CutoverError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: one place maps errors to exit codes, so no user sees a bare traceback."""
    from cutover.telemetry import configure_from_environment

    configure_from_environment()
    try:
        app()
    except (ConfigError, ValidationError) as exc:
        console.print(f"[red]error:[/red] {_short(exc)}")
        sys.exit(EXIT_USAGE)
    except CutoverError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_INCOMPLETE)


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)
