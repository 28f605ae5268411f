"""Deployments of `prefect.yaml` and a process worker on the session's Prefect server, for the tests that
start flow runs from deployments (as the UI, the API and automations do)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from cutover import names
from cutover.orchestration.local import process_worker

ROOT = Path(__file__).resolve().parents[1]


def run_module(api: str, *argv: str, env: Mapping[str, str], timeout: float = 300) -> None:
    """``python -m <argv>`` from the repository root against ``api``; asserts it succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PREFECT_API_URL": api, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@contextmanager
def deployed_worker(
    api: str, tmp_path: Path, env: Mapping[str, str], *, source_block_dsn: str | None = None
) -> Iterator[None]:
    """``prefect deploy --all`` and a worker polling every second, whose flow runs see ``env``.

    With ``source_block_dsn``, ``cutover prefect setup`` saves it as the source block (and creates the pool),
    and the worker inherits no ``CUTOVER_SOURCE_DSN``/``CUTOVER_CONTROL_DSN``: the runs can only read the
    block. Without, the process pool is created and ``env`` says where the source is.
    """
    env = {"CUTOVER_CODE_DIR": str(ROOT), "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_HOME": str(tmp_path / "worker-home"), **env}  # fmt: skip
    if source_block_dsn is not None:
        run_module(api, "cutover.cli", "prefect", "setup", "--source-dsn", source_block_dsn, env=env)
        unset: tuple[str, ...] = ("CUTOVER_SOURCE_DSN", "CUTOVER_CONTROL_DSN")
    else:
        pool = ("work-pool", "create", names.POOL_PROCESS, "--type", "process", "--overwrite")
        run_module(api, "prefect", "--no-prompt", *pool, env=env)
        unset = ()
    run_module(api, "prefect", "--no-prompt", "deploy", "--all", env=env)
    with process_worker(api, tmp_path / "worker.log", env, ROOT, unset=unset):
        yield
