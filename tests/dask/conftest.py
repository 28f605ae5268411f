"""One local Dask cluster of two worker processes for the whole session (it spawns: start it once)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[object]:
    """``distributed.LocalCluster(n_workers=2, processes=True)`` on loopback; yields the cluster."""
    from distributed import LocalCluster

    from cutover.orchestration.cluster import malloc_adaptive_workers

    with malloc_adaptive_workers():  # as the runner's own clusters and the image's workers
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
            silence_logs=40,
        )  # fmt: skip
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def dask_address(dask_cluster: object) -> str:
    return str(dask_cluster.scheduler_address)  # type: ignore[attr-defined]
