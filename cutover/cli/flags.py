"""`cutover flags show|set`: read and change feature flags from the command line (a stable contract).

``show`` prints one line per flag — name, scope, state (``on``/``off``/``25%``), and ``(default)`` when
nothing is stored — so scripts can split on whitespace. ``set`` prints the change it made. Bad input
(unknown flag, value out of range, malformed entity) exits 2 with one line, through the CLI's one error
map; an unreachable store exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cutover.cli._common import EXIT_OK, app

if TYPE_CHECKING:
    from cutover.flags import FlagChange, FlagState, MutableFeatureFlagService

flags_app = typer.Typer(no_args_is_help=True, help="Show and change the feature flags (design §7).")
app.add_typer(flags_app, name="flags")

EntityOption = Annotated[
    str | None, typer.Option("--entity", "-e", help="<namespace>.<table>: the entity's own (scoped) flag.")
]


def format_state(state: FlagState) -> str:
    """``<flag> <scope> <state>[ (default)]``, columns aligned."""
    suffix = " (default)" if state.source == "default" else ""
    return f"{state.flag:<24} {state.scope:<32} {state.describe()}{suffix}"


def format_change(change: FlagChange) -> str:
    def show(value: bool | int | None) -> str:
        if value is None:
            return "unset"
        if isinstance(value, bool):
            return "on" if value else "off"
        return f"{value}%"

    verb = "changed" if change.changed else "unchanged"
    return f"{change.flag} {change.scope} {show(change.before)} -> {show(change.after)} ({verb}, by {change.actor})"


def _open_service() -> MutableFeatureFlagService:
    from cutover.flags import FlagSettings, open_flag_service

    return open_flag_service(FlagSettings())


@flags_app.command("show")
def show(entity: EntityOption = None) -> None:
    """One line per flag: name, scope, state or percentage (for one entity, the value that applies to it)."""
    service = _open_service()
    try:
        for state in service.snapshot(entity):
            typer.echo(format_state(state))
    finally:
        service.close()
    raise typer.Exit(EXIT_OK)


@flags_app.command("set")
def set_flag(
    flag: Annotated[str, typer.Argument(help="Flag name, e.g. use-iceberg-backend.")],
    value: Annotated[str, typer.Argument(help="on | off for a boolean flag; 0-100 for the percentage.")],
    actor: Annotated[str, typer.Option("--actor", help="Who makes the change (recorded).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    entity: EntityOption = None,
) -> None:
    """Set a flag globally, or for one entity with --entity; the change is printed and audited."""
    service = _open_service()
    try:
        change = service.set(flag, value, actor=actor, reason=reason, entity=entity)
    finally:
        service.close()
    typer.echo(format_change(change))
    raise typer.Exit(EXIT_OK)


__all__ = ["flags_app", "format_change", "format_state"]
