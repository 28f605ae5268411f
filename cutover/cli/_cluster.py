"""`--dask-address`: a command run as its Prefect flow, with the flow's steps on a Dask cluster.

Without the option a command runs the library in this process on threads, with no Prefect at all. With
it the command runs the same job as the `migrate`, `validate`, `sync` or `maintain` flow, whose steps
are task runs of prefect-dask's ``DaskTaskRunner`` on that cluster; the workers report their task runs
to the Prefect API, so ``PREFECT_API_URL`` must name a server they can reach (a scheduler on this
machine may use Prefect's temporary local server). Prefect and Dask are imported only here, and only
when the option is given, so the CLI's start-up stays light.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from cutover.errors import ConfigError, CutoverError
from cutover.reporting import RunReport

FlowName = Literal["migrate", "validate", "sync", "maintain"]
R = TypeVar("R", bound=RunReport[Any])
LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def run_flow_on_cluster(flow_name: FlowName, address: str, **parameters: Any) -> dict[str, Any]:
    """Run the command's flow in this process, its steps on the cluster at ``address``; the JSON report.

    The report comes back whether or not every table succeeded (a flow that fails over a table still
    hands its report back); any other failure of the flow is raised.

    Raises:
        ConfigError: a malformed address, or a remote cluster with no Prefect API its workers can reach.
        ClusterUnavailableError: the scheduler is unreachable (checked before Prefect starts).
    """
    from cutover.orchestration.cluster import ClusterConfig, check_scheduler

    cluster = ClusterConfig.of_address(address)
    _check_prefect_reachable(address)
    check_scheduler(address, cluster.connect_seconds)
    flow = _flow(flow_name)
    state = flow(**parameters, cluster=cluster, return_state=True)
    outcome = state.result(raise_on_failure=False)
    report = getattr(outcome, "report", None)
    if isinstance(report, dict):
        return report  # the flow failed over some table: its report says which and why
    if isinstance(outcome, CutoverError):
        raise outcome
    if isinstance(outcome, BaseException):
        raise CutoverError(f"the {flow_name} flow failed: {outcome}") from outcome
    if not state.is_completed():
        raise CutoverError(f"the {flow_name} flow ended {state.type.value.lower()}: {state.message}")
    return dict(outcome)


def report_of(data: dict[str, Any], kind: type[R], table: type[Any], **extra: Any) -> R:
    """A run report rebuilt from its JSON (as a flow returns it), for the CLI's tables."""
    from pydantic import TypeAdapter

    tables = TypeAdapter(list[table]).validate_python(data.get("tables", []))  # type: ignore[valid-type]
    return kind(
        run_id=str(data["run_id"]),
        tables=tables,
        seconds=float(data.get("seconds") or 0.0),
        source_lsn=data.get("source_lsn"),
        **extra,
    )


def _check_prefect_reachable(address: str) -> None:
    from prefect.settings import PREFECT_API_URL

    host = urlsplit(address).hostname or ""
    if not PREFECT_API_URL.value() and not host.startswith(LOOPBACK):
        raise ConfigError(
            f"--dask-address {address}: set PREFECT_API_URL to a Prefect server the Dask workers can reach "
            "(they report their task runs to it)"
        )


def _flow(name: FlowName) -> Any:
    if name == "migrate":
        from flows.migrate import migrate

        return migrate
    if name == "validate":
        from flows.validate import validate

        return validate
    if name == "sync":
        from flows.sync import sync

        return sync
    from flows.maintain import maintain

    return maintain
