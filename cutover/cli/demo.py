"""`cutover demo`: the whole cutover on the embedded defaults, one line per step (the story is the library's:
:mod:`cutover.demo`; this module parses options and prints)."""

from __future__ import annotations

import logging
import shlex
import sys
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cutover.cli._common import EXIT_OK, app, console

if TYPE_CHECKING:
    from cutover.demo import DemoConfig, DemoSource, StepOutcome

WIDTH = 80
"""The step lines fit an 80-column terminal."""
TRY_NEXT = (
    ("cutover validate", "parity, down to the key"),
    ("cutover sync", "what changed since"),
    ("cutover rollout status -e demo.orders", "stage and gates"),
    ("cutover flags show -e demo.orders", "the entity's flags"),
    ("cutover compare-backends", "same reads, both backends"),
    ("cutover demo --stop", "stop what --keep left"),
)


@app.command()
def demo(
    rows: Annotated[int, typer.Option(min=1_000, help="Rows of the orders table.")] = 1_000_000,
    state_dir: Annotated[
        Path,
        typer.Option(envvar="CUTOVER_STATE_DIR", help="Where the embedded catalog, warehouse and PostgreSQL live."),
    ] = Path(".cutover"),
    source_dsn: Annotated[
        str | None,
        typer.Option(
            envvar="CUTOVER_SOURCE_DSN",
            help="A PostgreSQL server of your own (a database cutover_demo is recreated there); default: embedded.",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave PostgreSQL (and Prefect) running; print the CUTOVER_* exports.")
    ] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop what an earlier --keep left running, and exit.")] = False,
    prefect: Annotated[
        bool,
        typer.Option("--prefect", help="Run the jobs as deployment runs on a temporary local Prefect server."),
    ] = False,
    reads: Annotated[int, typer.Option(min=10, max=10_000, help="Application reads per rollout stage.")] = 200,
) -> None:
    """The whole cutover, step by step: seed, migrate, validate, a day of writes, sync, validate, rollout to
    shadow and a percentage, a planted corruption, the failed validation, rollback and restore."""
    from cutover.demo import DemoConfig, open_demo_source

    if stop:
        _stop(state_dir)
        raise typer.Exit(EXIT_OK)
    config = DemoConfig(state_dir=state_dir, rows=rows, reads=reads)
    # The rollback's own warning would repeat the story's rollback line on stderr.
    logging.getLogger("cutover.rollout.controller").setLevel(logging.ERROR)
    started = time.perf_counter()
    with console.status("starting PostgreSQL"):
        source = open_demo_source(state_dir, source_dsn, keep=keep)
    out = Console(width=min(Console().width, WIDTH))
    out.print(f"[bold]cutover demo[/bold]: the whole cutover of a sample application, state in {state_dir}/")
    exports = config.exports(source.dsn)
    if prefect:
        exports |= _run_on_prefect(config, source, out, keep=keep)
    else:
        _run(config, source, out)
    out.print(f"[bold green]done[/bold green] in {time.perf_counter() - started:.0f} s")
    _next(config, source, exports, out, keep=keep)


def _run(config: DemoConfig, source: DemoSource, out: Console) -> None:
    from cutover.demo import build_story

    with _StepPrinter(out) as printer:
        build_story(config, source, on_step=printer.done, on_begin=printer.begin).run()


def _run_on_prefect(config: DemoConfig, source: DemoSource, out: Console, *, keep: bool) -> dict[str, str]:
    """The story as deployment runs; returns what to export to reach the server afterwards (when kept)."""
    from cutover.demo import build_story
    from cutover.orchestration.demo import prefect_demo
    from cutover.rollout import ControlStore

    with ExitStack() as stack:
        with console.status("starting a Prefect server, deploying, starting a worker"):
            jobs = stack.enter_context(prefect_demo(config, source, ControlStore(source.dsn), keep=keep))
        out.print(f"Prefect UI: [bold]{jobs.workspace.ui_url}[/bold] (deployment runs, artifacts, events, automations)")
        with _StepPrinter(out) as printer:
            build_story(config, source, jobs, on_step=printer.done, on_begin=printer.begin).run()
        if not keep:
            _linger(jobs.workspace.ui_url, out)
    return {"PREFECT_API_URL": jobs.workspace.api_url} if keep else {}


def _linger(ui_url: str, out: Console) -> None:
    """Keep the server up while someone looks at the UI (an interactive terminal only)."""
    if not sys.stdin.isatty():
        out.print("the Prefect server stops now (--keep leaves it running)")
        return
    out.print(f"Look around at {ui_url}; press Enter (or Ctrl+C) to stop the Prefect server.")
    with suppress(EOFError, KeyboardInterrupt):
        input()


def _next(config: DemoConfig, source: DemoSource, exports: dict[str, str], out: Console, *, keep: bool) -> None:
    if not keep:
        where = "stopped" if source.embedded else "left as it is (database cutover_demo)"
        out.print(f"PostgreSQL {where}; the Iceberg tables stay in {config.state_dir}/. "
                  "--keep leaves PostgreSQL running to try every other command.")  # fmt: skip
        return
    kept = "PostgreSQL and Prefect keep" if "PREFECT_API_URL" in exports else "PostgreSQL keeps"
    out.print(f"{kept} running. Point the other commands at the demo:")
    from cutover.source.connection import redact_dsn

    for name, value in exports.items():
        shown = redact_dsn(value) if name.endswith("_DSN") else value  # a password of your own stays yours
        typer.echo(f"export {name}={shlex.quote(shown)}")
        if shown != value:
            out.print(f"  [dim]# {name}: put your password in place of ***[/dim]", highlight=False)
    out.print("then try:")
    for command, what in TRY_NEXT:
        out.print(f"  {command:<40} [dim]# {what}[/dim]", highlight=False)


def _stop(state_dir: Path) -> None:
    from cutover.demo import embedded_running, stop_embedded_source

    prefect_stopped = False
    if (state_dir / "prefect").exists():
        from cutover.orchestration.demo import stop_prefect

        prefect_stopped = stop_prefect(state_dir)
    if prefect_stopped:
        typer.echo("stopped the demo's Prefect server and worker")
    if embedded_running(state_dir):
        stop_embedded_source(state_dir)
        typer.echo(f"stopped the demo's PostgreSQL ({state_dir}/pgdata)")
    elif not prefect_stopped:
        typer.echo(f"nothing of the demo is running under {state_dir}")


class _StepPrinter:
    """A spinner on stderr while a step runs, then its line on stdout: number, name, summary, seconds."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.status = console.status("")

    def __enter__(self) -> _StepPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.status.stop()

    def begin(self, number: int, name: str) -> None:
        self.status.update(f"{number}. {name}")
        self.status.start()

    def done(self, step: StepOutcome) -> None:
        self.status.stop()
        line = Table.grid(padding=(0, 1), expand=True)
        line.add_column(width=2, justify="right")
        line.add_column(width=10, no_wrap=True)
        line.add_column(ratio=1)
        line.add_column(width=6, justify="right", no_wrap=True)
        style = "yellow" if step.status != "ok" else "green"
        text = escape(step.summary) + (f" [dim](run {escape(step.run)})[/dim]" if step.run else "")
        line.add_row(f"{step.number}", f"[{style}]{step.name}[/{style}]", text, f"{step.seconds:.1f} s")
        self.out.print(line, highlight=False)
