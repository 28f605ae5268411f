"""`cutover serve-api` serves the app over uvicorn, and refuses to start without a token."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from cutover.orchestration.local import free_port as _free_port
from tests.api.conftest import AUTH, TOKEN

# Until cutover/cli/__init__.py imports the new command modules, register them before main() runs.
RUN_CLI = "import cutover.cli.api, cutover.cli.tier; from cutover.cli import main; main()"


def test_serve_api_serves_health_and_requires_the_token(source_dsn: str) -> None:
    port = _free_port()
    env = {**os.environ, "CUTOVER_API_TOKEN": TOKEN, "CUTOVER_SOURCE_DSN": source_dsn}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "serve-api", "--host", "127.0.0.1", "--port", str(port)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        flags = f"http://127.0.0.1:{port}/api/v1/migration/flags"
        assert httpx.get(flags).status_code == 401
        assert httpx.get(flags, headers=AUTH).status_code == 200
        assert "/api/v1/migration/jobs" in httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["paths"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_serve_api_without_a_token_exits_2() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CUTOVER_API_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "serve-api"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "api_token" in result.stderr.lower()
