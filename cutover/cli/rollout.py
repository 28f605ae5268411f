"""`cutover rollout status|step` and `cutover rollback`: the library called directly, no Prefect needed."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Annotated

import typer

from cutover import names
from cutover.cli._common import EXIT_INCOMPLETE, EXIT_OK, app, console
from cutover.cli.tables import Column, summary_table

if TYPE_CHECKING:
    from rich.table import Table

    from cutover.rollout import RolloutStatus

rollout_app = typer.Typer(no_args_is_help=True, help="Staged rollout of Iceberg reads per entity.")
app.add_typer(rollout_app, name="rollout")

_PREFECT_PROBE_SECONDS = 0.5
"""How long a rollback waits to learn whether Prefect is up before giving up on its event."""

EntityOption = Annotated[str, typer.Option("--entity", "-e", help="The entity, namespace.table.")]


def _controller(entity: str | None, *, catalog_down_ok: bool = False):  # type: ignore[no-untyped-def]
    """The controller, once ``entity`` is known to be an Iceberg table or to have flags of its own.

    ``catalog_down_ok``: a rollback goes on when the catalog cannot be asked (sending reads back to
    PostgreSQL is never wrong); a rollout step does not.
    """
    from cutover.config import Settings
    from cutover.errors import CatalogUnavailableError
    from cutover.flags import FlagSettings
    from cutover.rollout.entities import check_entity
    from cutover.rollout.factory import open_controller

    settings = Settings()
    controller = open_controller(settings, FlagSettings())
    if entity is not None:
        try:
            check_entity(entity, flags=controller.flags, store=controller.store, catalog=settings.configured_catalog())
        except CatalogUnavailableError as exc:
            if not catalog_down_ok:
                raise
            console.print(f"[yellow]warning:[/yellow] {exc}; rolling back {entity} unchecked")
    return controller


@rollout_app.command("status")
def status(entity: EntityOption) -> None:
    """The entity's stage, the next one, and every gate with its verdict."""
    result = _controller(entity).status(entity)
    typer.echo(f"{entity}\t{result.stage}\tnext={result.next_stage or '-'}")
    console.print(gate_table(result))


def gate_table(result: RolloutStatus) -> Table:
    """Every gate of the next step with its verdict."""
    table = summary_table(
        f"{result.entity}: {result.stage} → {result.next_stage or '(done)'}",
        [Column("gate", "name"), Column("ok", "word"), Column("detail", "text")],
    )
    for gate in result.gates.results if result.gates else []:
        table.add_row(gate.name, "yes" if gate.passed else "NO", gate.detail, style=None if gate.passed else "red")
    return table


@rollout_app.command("step")
def step(
    entity: EntityOption,
    actor: Annotated[str, typer.Option(help="Who is stepping (audit trail).")] = "",
    reason: Annotated[str, typer.Option(help="Why (audit trail).")] = "manual rollout step",
    approve: Annotated[bool, typer.Option("--approve", help="Approve a step into live/complete as --actor.")] = False,
) -> None:
    """Advance one stage if every gate holds; exits 1 and names the failing gate otherwise."""
    who = actor or getpass.getuser()
    result = _controller(entity).step(entity, actor=who, reason=reason, approver=who if approve else None)
    typer.echo(f"{entity}\t{result.before} -> {result.after}\t{'applied' if result.applied else 'refused'}")
    if not result.applied:
        console.print(f"[yellow]not applied:[/yellow] {result.reason}")
    raise typer.Exit(EXIT_OK if result.applied else EXIT_INCOMPLETE)


@app.command("rollback")
def rollback(
    reason: Annotated[str, typer.Option(help="Why: goes to the audit trail and the alert.")],
    entity: Annotated[str | None, typer.Option("--entity", "-e", help="One entity; default: every entity.")] = None,
    actor: Annotated[str, typer.Option(help="Who (default: the OS user).")] = "",
) -> None:
    """Send reads back to PostgreSQL now: master switch off, percentage 0, optimization flags off."""
    who = actor or getpass.getuser()
    result = _controller(entity, catalog_down_ok=True).rollback(actor=who, reason=reason, entity=entity)
    typer.echo(
        f"rolled back {entity or 'every entity'}\taudit #{result.audit_id or '-'}\t"
        f"{'flags changed' if result.changed else 'already rolled back'}"
    )
    _emit_event_if_prefect(entity, who, reason, result.audit_id)
    if result.audit_error is not None:
        console.print(
            f"[yellow]warning:[/yellow] flags are off, but the audit trail was not written: {result.audit_error}"
        )
        raise typer.Exit(EXIT_INCOMPLETE)


def _emit_event_if_prefect(entity: str | None, actor: str, reason: str, audit_id: int | None) -> None:
    """Best effort: tell Prefect (automations, the UI) when a server is configured; never fail the rollback.

    The flags are already off and the audit row written: a Prefect server that is down must not hold the
    operator (Prefect's own event client would retry for seconds), so it is probed first, briefly.
    """
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        return
    import httpx

    try:
        httpx.get(f"{api.rstrip('/')}/health", timeout=_PREFECT_PROBE_SECONDS).raise_for_status()
    except httpx.HTTPError as exc:
        console.print(f"[yellow]warning:[/yellow] rollback done, but Prefect at {api} is unreachable ({exc}): "
                      f"event {names.EVENT_ROLLBACK_COMPLETED} not sent")  # fmt: skip
        return
    try:
        from prefect.events import emit_event
        from prefect.events.worker import EventsWorker

        resource = f"{names.TABLE_RESOURCE_PREFIX}{entity}" if entity else "cutover.all"
        emit_event(
            event=names.EVENT_ROLLBACK_COMPLETED,
            resource={"prefect.resource.id": resource},
            payload={"entity": entity, "actor": actor, "reason": reason, "audit_id": audit_id},
        )
        EventsWorker.drain_all(timeout=_PREFECT_PROBE_SECONDS * 2)
    except Exception as exc:  # the flags are already off; the event is a courtesy
        console.print(
            f"[yellow]warning:[/yellow] rollback done, but event {names.EVENT_ROLLBACK_COMPLETED} was not sent: {exc}"
        )
