"""`cutover prefect worker`: a process worker whose flow runs start warm.

Starts the warm-start server as a child (its socket in a private directory), then becomes
``prefect worker start`` with ``CUTOVER_WARMSTART_SOCKET`` in its environment, so the job command of the
`cutover-process` pool (``python -m cutover.orchestration.warmstart.client``) finds it. The server stops
when the worker exits. The interpreter's bin directory leads PATH, so ``python`` in a job command is this
environment's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from cutover.orchestration.warmstart.protocol import SOCKET_ENV
from cutover.orchestration.warmstart.server import PRIVATE_DIR_PREFIX

SERVER_MODULE = "cutover.orchestration.warmstart.server"


def exec_worker(pool: str, *, warm: bool, query_seconds: float, extra: list[str]) -> NoReturn:
    """Start the server (when ``warm``) and replace this process with the worker."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PREFECT_WORKER_QUERY_SECONDS"] = str(query_seconds)
    if warm:
        socket_path = Path(tempfile.mkdtemp(prefix=PRIVATE_DIR_PREFIX)) / "engine.sock"
        # This process becomes the worker (execve keeps the pid): the server stops when that pid is gone.
        server = [sys.executable, "-m", SERVER_MODULE, "--socket", str(socket_path), "--parent", str(os.getpid())]
        subprocess.Popen(server, env=env)
        env[SOCKET_ENV] = str(socket_path)
    else:
        env.pop(SOCKET_ENV, None)
    os.execve(sys.executable, [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, *extra], env)
