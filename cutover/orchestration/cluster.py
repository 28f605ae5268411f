"""Where a job's steps run when one machine is not enough: a Dask cluster, through prefect-dask.

A flow runs its steps on its own thread pool unless it is given a :class:`ClusterConfig` (a flow
parameter, or ``CUTOVER_DASK_ADDRESS`` in a deployment's job variables): then they become task runs of a
``prefect_dask.DaskTaskRunner`` connected to an existing scheduler by address, or to a cluster that the
runner starts from a class and its keyword arguments (e.g. ``dask_kubernetes.operator.KubeCluster``).

Only picklable values travel to the workers (DSNs or block names, snapshot ids, table identities, the
catalog configuration); workers rebuild their connections and write files to the shared warehouse; the
flow process commits. Prefect and Dask are imported only when a cluster is used.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, model_validator

from cutover.errors import ConfigError, TransientError

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

ENV_DASK_ADDRESS = "CUTOVER_DASK_ADDRESS"
"""The scheduler address a deployment's job variables (or an operator's shell) point runs at."""
SCHEMES = ("tcp://", "tls://")
DEFAULT_CONNECT_SECONDS = 10.0


class ClusterUnavailableError(TransientError):
    """The Dask scheduler could not be reached (or the cluster could not be started)."""


class ClusterConfig(BaseModel):
    """A Dask cluster to run a job's steps on: an existing scheduler, or a cluster class to start.

    Exactly one of ``address`` and ``cluster_class``. The fields are prefect-dask's ``DaskTaskRunner``
    arguments, so whatever it accepts (any ``distributed.deploy.Cluster`` class) works here.
    """

    address: str | None = None
    """``tcp://HOST:PORT`` (or ``tls://``) of a running scheduler."""
    cluster_class: str | None = None
    """Qualified name of a cluster class started for the run and torn down after it."""
    cluster_kwargs: dict[str, Any] = Field(default_factory=dict)
    adapt_kwargs: dict[str, Any] = Field(default_factory=dict)
    """``cluster.adapt(...)`` arguments (``minimum``, ``maximum``); adaptive scaling only when given."""
    connect_seconds: float = Field(default=DEFAULT_CONNECT_SECONDS, gt=0)
    """How long to wait for the scheduler before giving up with a one-line error."""

    @model_validator(mode="after")
    def _one_way(self) -> ClusterConfig:
        if (self.address is None) == (self.cluster_class is None):
            raise ValueError("give a Dask scheduler address or a cluster class, not both or neither")
        if self.address is not None and not self.address.startswith(SCHEMES):
            raise ValueError(f"a Dask scheduler address looks like tcp://HOST:8786, not {self.address!r}")
        if self.address is not None and (self.cluster_kwargs or self.adapt_kwargs):
            raise ValueError("cluster_kwargs and adapt_kwargs go with a cluster class, not an address")
        return self

    @classmethod
    def of_address(cls, address: str, connect_seconds: float = DEFAULT_CONNECT_SECONDS) -> ClusterConfig:
        """The cluster at ``address``, or a :class:`ConfigError` saying what an address looks like."""
        try:
            return cls(address=address, connect_seconds=connect_seconds)
        except ValueError as exc:
            raise ConfigError(f"--dask-address {address!r}: an address looks like tcp://HOST:8786") from exc

    def describe(self) -> str:
        return self.address or f"a new {self.cluster_class}"


def cluster_from_environment(given: ClusterConfig | None) -> ClusterConfig | None:
    """``given``, else the scheduler named by ``CUTOVER_DASK_ADDRESS`` (a deployment's job variable), else None."""
    if given is not None:
        return given
    address = os.environ.get(ENV_DASK_ADDRESS, "").strip()
    return ClusterConfig.of_address(address) if address else None


def check_scheduler(address: str, timeout: float = DEFAULT_CONNECT_SECONDS) -> None:
    """Open (and close) a connection to the scheduler, so an unreachable one is one clear line, early.

    Raises:
        ClusterUnavailableError: nothing answered at ``address`` within ``timeout`` seconds.
    """
    from distributed.comm import connect

    async def probe() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    try:
        asyncio.run(probe())
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterUnavailableError(
            f"the Dask scheduler at {address} is unreachable ({reason}); start it or fix --dask-address"
        ) from None


NANNY_KEEPS_MALLOC_ADAPTIVE = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
"""Dask configuration for workers spawned from this process (the image's workers set the same through
``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON``, see ``infra/k8s/base/dask-cluster.yaml``).

distributed's nanny gives its workers ``MALLOC_TRIM_THRESHOLD_=65536``; a fixed threshold switches off
glibc's adaptive mmap threshold, and with Arrow on the system allocator (:mod:`cutover.memory`) every
large buffer of a batch becomes an mmap/munmap pair. Measured on the 5 M-row ``orders`` through two local
workers: 2.1-2.4 s of system CPU per load against 0.7-0.9 s with glibc's defaults, and ~1 s of wall time."""


@contextmanager
def malloc_adaptive_workers() -> Iterator[None]:
    """Workers that a cluster started inside the block spawns keep glibc's adaptive malloc thresholds."""
    import dask

    with dask.config.set(NANNY_KEEPS_MALLOC_ADAPTIVE):
        yield


def dask_task_runner(cluster: ClusterConfig) -> DaskTaskRunner:
    """prefect-dask's task runner for ``cluster`` (not started)."""
    from prefect_dask import DaskTaskRunner

    if cluster.address is not None:
        return DaskTaskRunner(address=cluster.address, client_kwargs={"timeout": cluster.connect_seconds})
    return DaskTaskRunner(
        cluster_class=cluster.cluster_class,
        cluster_kwargs=cluster.cluster_kwargs,
        adapt_kwargs=cluster.adapt_kwargs or None,
    )


@contextmanager
def started_task_runner(cluster: ClusterConfig) -> Iterator[DaskTaskRunner]:
    """The Dask task runner, connected (or its cluster started) for the ``with`` block, then closed.

    Raises:
        ClusterUnavailableError: the scheduler is unreachable or the cluster could not start.
    """
    if cluster.address is not None:
        check_scheduler(cluster.address, cluster.connect_seconds)
    runner = dask_task_runner(cluster)
    with malloc_adaptive_workers():  # a cluster class spawns its workers (adaptive ones later too) in here
        runner.__enter__()
        try:
            runner.client  # connects now, or starts the cluster (prefect-dask would on the first submission)  # noqa: B018
        except (OSError, TimeoutError) as exc:
            runner.__exit__(None, None, None)
            raise ClusterUnavailableError(f"could not connect to {cluster.describe()}: {exc}") from exc
        try:
            yield runner
        finally:
            runner.__exit__(None, None, None)


class WorkerLostError(TransientError):
    """Dask gave up on a step: the workers that ran it died too often, or the cluster went away."""
