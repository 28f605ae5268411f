"""A local Prefect server and process worker, run as child processes that can be stopped as a whole.

Prefect has no API that starts a server or a worker and hands back something to stop: both are CLI
processes. A worker turns SIGTERM into SIGINT for its flow runs and may not exit by itself (pitfalls), so
every process here starts in a session of its own and is stopped by its process group. Used by `cutover
demo --prefect`, the deployment benchmark and the tests that need deployments and a worker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from cutover import names
from cutover.errors import ConfigError

OFFLINE = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
"""No telemetry calls home (there is no network to call here, and every attempt waits)."""
SERVER_START_SECONDS = 180.0
"""A SQLite server answers its health check after 13-26 s on two busy cores; leave room."""
STOP_SECONDS = 15.0


@dataclass(frozen=True)
class LocalServer:
    """A running `prefect server start`: its API URL (``…/api``) and process."""

    api_url: str
    process: subprocess.Popen[bytes]

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(
    argv: list[str], log: Path, env: Mapping[str, str], cwd: Path | None = None, unset: Collection[str] = ()
) -> subprocess.Popen[bytes]:
    """``argv`` in a new session (its own process group), output to ``log``: this environment without
    ``unset``, plus ``env``."""
    inherited = {name: value for name, value in os.environ.items() if name not in unset}
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, env={**inherited, **OFFLINE, **env}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip


def start_server(home: Path, *, ui: bool = False, port: int | None = None) -> LocalServer:
    """Start a SQLite-backed server with its home under ``home`` on a loopback port; wait until it is healthy.

    Raises:
        ConfigError: the server exited or did not answer within :data:`SERVER_START_SECONDS` (its log named).
    """
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = home / "server.log"
    process = start_process(
        [sys.executable, "-m", "prefect", "server", "start"], log,
        {"PREFECT_HOME": str(home), "PREFECT_API_URL": "", "PREFECT_SERVER_API_HOST": "127.0.0.1",
         "PREFECT_SERVER_API_PORT": str(port), "PREFECT_UI_ENABLED": "true" if ui else "false"},
    )  # fmt: skip
    server = LocalServer(f"http://127.0.0.1:{port}/api", process)
    try:
        wait_healthy(server.api_url, process, log)
    except BaseException:
        stop_group(process.pid, process)
        raise
    return server


@contextmanager
def local_server(home: Path, *, ui: bool = False) -> Iterator[LocalServer]:
    """:func:`start_server`, stopped (with its process group) on leaving."""
    server = start_server(home, ui=ui)
    try:
        yield server
    finally:
        stop_group(server.process.pid, server.process)


def wait_healthy(api_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``/health`` until it answers 200.

    Raises:
        ConfigError: the process exited, or :data:`SERVER_START_SECONDS` passed.
    """
    import httpx

    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ConfigError(f"the Prefect server did not start (log {log}): {' '.join(tail.split()[-60:])}")
        time.sleep(0.5)


def start_worker(
    api_url: str,
    log: Path,
    env: Mapping[str, str],
    cwd: Path,
    pool: str = names.POOL_PROCESS,
    unset: Collection[str] = (),
) -> subprocess.Popen[bytes]:
    """A process worker polling ``pool`` on ``api_url`` (``cutover prefect worker``: flow runs start warm,
    polling every ``PREFECT_WORKER_QUERY_SECONDS`` of ``env``, else every half second); its flow runs see ``env`` (not
    ``unset``) and run from ``cwd``."""
    query_seconds = env.get("PREFECT_WORKER_QUERY_SECONDS", "0.5")
    return start_process(
        [sys.executable, "-m", "cutover.cli", "prefect", "worker", "--pool", pool, "--query-seconds", query_seconds],
        log, {**env, "PREFECT_API_URL": api_url}, cwd=cwd, unset=unset,
    )  # fmt: skip


@contextmanager
def process_worker(
    api_url: str,
    log: Path,
    env: Mapping[str, str],
    cwd: Path,
    pool: str = names.POOL_PROCESS,
    unset: Collection[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """:func:`start_worker`, stopped with its flow runs on leaving."""
    worker = start_worker(api_url, log, env, cwd, pool, unset)
    try:
        yield worker
    finally:
        stop_group(worker.pid, worker)


def stop_group(pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM to the process group, SIGKILL after :data:`STOP_SECONDS`.

    ``process``: the group's leader when this process started it (it is reaped, or it would linger as a
    zombie that still counts as a member of its group).
    """
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if process is not None:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_SECONDS)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if process is not None:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_SECONDS)
