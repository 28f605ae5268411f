"""`cutover prefect setup`: the blocks, work pools and limits the deployments expect, in one idempotent command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cutover import names
from cutover.cli._common import SourceDsn, app, console
from cutover.cli.tables import Column, summary_table

if TYPE_CHECKING:
    from rich.table import Table

    from cutover.orchestration.setup import SetupReport

prefect_app = typer.Typer(no_args_is_help=True, help="Prepare a Prefect server for cutover's deployments.")
app.add_typer(prefect_app, name="prefect")


@prefect_app.command("setup")
def setup(
    source_dsn: SourceDsn = None,
    source_block: Annotated[
        str, typer.Option(help="Name of the connection block (the deployments' `source_block` parameter).")
    ] = names.BLOCK_SOURCE,
    azure: Annotated[
        bool, typer.Option("--azure", help="Also the code-storage block and the ACI and AKS work pools.")
    ] = False,
    code_connection_string: Annotated[
        str | None,
        typer.Option(envvar="AZURE_STORAGE_CONNECTION_STRING", help="--azure: the code container's storage."),
    ] = None,
    code_account_url: Annotated[
        str | None,
        typer.Option(envvar="CUTOVER_CODE_ACCOUNT_URL", help="--azure: storage account URL (workload identity)."),
    ] = None,
) -> None:
    """Create or update the `cutover-source` block (from --source-dsn), the `cutover-process` pool and the
    global concurrency limits on the server of PREFECT_API_URL; with --azure, also the `cutover-code`
    blob-storage block and the `cutover-aci` and `cutover-k8s` pools. Safe to run again."""
    from cutover.orchestration.setup import AzureCode, prefect_api_url, prefect_setup
    from cutover.source.connection import check_dsn

    source_dsn = check_dsn(source_dsn) if source_dsn else None  # a typo is refused before Prefect is asked
    code = AzureCode(code_connection_string, code_account_url) if azure else None
    console.print(f"Prefect at {prefect_api_url()}")
    report = prefect_setup(source_dsn, code, source_block)
    console.print(setup_table(report))
    if any(outcome == "skipped" for _, _, outcome in report.steps):
        console.print("[yellow]note:[/yellow] no source DSN given (--source-dsn or CUTOVER_SOURCE_DSN): "
                      f"the job deployments need the {source_block} block")  # fmt: skip


def setup_table(report: SetupReport) -> Table:
    """One row per block, pool and limit, with what setup did to it."""
    table = summary_table(
        "cutover prefect setup", [Column("kind", "word"), Column("name", "name"), Column("outcome", "word")]
    )
    for kind, name, outcome in report.steps:
        table.add_row(kind, name, outcome, style="yellow" if outcome == "skipped" else None)
    return table


@prefect_app.command("worker")
def worker(
    pool: Annotated[str, typer.Option(help="The work pool to poll.")] = names.POOL_PROCESS,
    query_seconds: Annotated[
        float,
        typer.Option(min=0.1, help="How often to ask for due runs (Prefect's default: 10 s; a run waits up to this)."),
    ] = 0.5,
    limit: Annotated[int | None, typer.Option(min=1, help="Flow runs at once (default: no limit).")] = None,
    name: Annotated[str | None, typer.Option(help="The worker's name in the UI (default: Prefect's).")] = None,
    warm: Annotated[
        bool, typer.Option(help="Start flow runs from a process with Prefect and the flows already imported.")
    ] = True,
) -> None:
    """Start a process worker (`prefect worker start`) for cutover's deployments, polling every half second;
    flow runs start warm: forked from a process that has Prefect and the flows imported (~0.1 s, not ~2 s)."""
    from cutover.orchestration.warmstart.worker import exec_worker

    extra = [*(["--limit", str(limit)] if limit else []), *(["--name", name] if name else [])]
    exec_worker(pool, warm=warm, query_seconds=query_seconds, extra=extra)
