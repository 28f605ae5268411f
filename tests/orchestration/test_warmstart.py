"""The warm-start server and client with real processes: a run gets the client's streams, environment,
directory and arguments, is forked from the server, ends as the client is told to end, never runs stale
code, and needs no server at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.orchestration.warmstart.protocol import SOCKET_ENV

ROOT = Path(__file__).resolve().parents[2]
PROBE = "tests.orchestration.warm_probe"
CLIENT = [sys.executable, "-m", "cutover.orchestration.warmstart.client", "--module", PROBE]


def _wait_for(condition: object, what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


class WarmServer:
    def __init__(self, tmp_path: Path, code_dir: Path, preload: str) -> None:
        self.socket = tmp_path / "engine.sock"
        self.log = tmp_path / "server.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cutover.orchestration.warmstart.server", "--socket", str(self.socket),
                 "--code-dir", str(code_dir), "--preload", preload], stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_for(self.socket.exists, "the server's socket")
        self.env = {**os.environ, SOCKET_ENV: str(self.socket), "PYTHONPATH": str(ROOT)}

    def run(self, *argv: str, cwd: Path, stdin: str = "", **env: str) -> tuple[int, dict[str, object], str]:
        done = subprocess.run(
            [*CLIENT, *argv], input=stdin, cwd=cwd, env={**self.env, **env}, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        return done.returncode, json.loads(done.stdout.splitlines()[0]), done.stderr


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WarmServer]:
    warm = WarmServer(tmp_path, ROOT, "json")
    yield warm
    warm.process.terminate()
    warm.process.wait(timeout=20)


def test_a_warm_run_gets_the_clients_streams_environment_directory_and_arguments(
    server: WarmServer, tmp_path: Path
) -> None:
    code, seen, stderr = server.run("7", "--flag", "x y", cwd=tmp_path, stdin="hello", PROBE="from the client")

    assert code == 7
    assert seen["argv"] == ["7", "--flag", "x y"]
    assert seen["cwd"] == str(tmp_path)
    assert seen["probe"] == "from the client"
    assert seen["stdin"] == "hello"
    assert seen["name"] == "__main__"
    assert "probe to stderr" in stderr
    assert seen["ppid"] == server.process.pid  # forked by the server, not started by the client
    assert seen["own_session"] is True


def test_without_a_server_the_client_becomes_the_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), SOCKET_ENV: str(tmp_path / "nobody-listens.sock")}
    client = subprocess.Popen([*CLIENT, "4"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    out, _ = client.communicate(timeout=60)

    assert client.returncode == 4
    assert json.loads(out)["pid"] == client.pid  # exec'd: the same process


def test_a_signal_to_the_client_ends_the_run_and_the_client_ends_by_it(server: WarmServer, tmp_path: Path) -> None:
    client = subprocess.Popen([*CLIENT, "wait"], cwd=tmp_path, env=server.env, stdout=subprocess.PIPE, text=True)
    assert client.stdout is not None
    run_pid = json.loads(client.stdout.readline())["pid"]
    assert run_pid != client.pid

    client.send_signal(signal.SIGTERM)  # as the worker cancels a run

    assert client.wait(timeout=20) == -signal.SIGTERM
    _wait_for(lambda: not _alive(run_pid), "the run to end")


def test_a_killed_client_takes_its_run_with_it(server: WarmServer, tmp_path: Path) -> None:
    client = subprocess.Popen([*CLIENT, "wait"], cwd=tmp_path, env=server.env, stdout=subprocess.PIPE, text=True)
    assert client.stdout is not None
    run_pid = json.loads(client.stdout.readline())["pid"]

    client.kill()
    client.wait(timeout=20)

    _wait_for(lambda: not _alive(run_pid), "the server to kill the orphaned run")
    assert "the client of run" in server.log.read_text()


def test_changed_code_runs_cold_once_then_warm_on_the_reloaded_server(tmp_path: Path) -> None:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    module = code_dir / "warm_fresh.py"
    module.write_text("VALUE = 1\n")
    warm = WarmServer(tmp_path, code_dir, "warm_fresh")
    try:
        assert warm.run("0", cwd=tmp_path)[1]["ppid"] == warm.process.pid

        module.write_text("VALUE = 2\n")
        later = time.time() + 5
        os.utime(module, (later, later))
        code, seen, _ = warm.run("0", cwd=tmp_path)

        assert code == 0 and seen["ppid"] != warm.process.pid  # started cold, by the client itself
        _wait_for(lambda: "executing the server again" in warm.log.read_text(), "the server to reload")
        _wait_for(warm.socket.exists, "the reloaded server's socket")
        assert warm.run("0", cwd=tmp_path)[1]["ppid"] == warm.process.pid  # the same pid, new code
    finally:
        warm.process.terminate()
        warm.process.wait(timeout=20)


def test_the_server_stops_when_its_worker_is_gone_and_its_runs_have_ended(tmp_path: Path) -> None:
    socket_path = tmp_path / "engine.sock"
    parent = subprocess.Popen(
        ["bash", "-c", f"{sys.executable} -m cutover.orchestration.warmstart.server --socket {socket_path}"
                       " --preload json & echo $!; wait"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    _wait_for(socket_path.exists, "the server's socket")
    env = {**os.environ, SOCKET_ENV: str(socket_path), "PYTHONPATH": str(ROOT)}
    client = subprocess.Popen([*CLIENT, "wait"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    assert client.stdout is not None
    run_pid = json.loads(client.stdout.readline())["pid"]

    parent.kill()  # the worker dies; its run goes on, as a cold run would
    parent.wait(timeout=20)

    _wait_for(lambda: not socket_path.exists(), "the server to stop listening")
    assert _alive(run_pid) and _alive(server_pid)
    os.killpg(run_pid, signal.SIGTERM)
    assert client.wait(timeout=20) == -signal.SIGTERM  # the exit code still reaches the client
    _wait_for(lambda: not _alive(server_pid), "the server to exit after its last run")


def test_a_run_for_another_checkout_starts_cold(server: WarmServer, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other-checkout"
    elsewhere.mkdir()
    code, seen, _ = server.run("0", cwd=tmp_path, CUTOVER_CODE_DIR=str(elsewhere))

    assert code == 0 and seen["ppid"] != server.process.pid  # not forked: the client ran it itself
    assert server.run("0", cwd=tmp_path, CUTOVER_CODE_DIR=str(ROOT))[1]["ppid"] == server.process.pid


def test_a_server_whose_worker_died_before_it_was_ready_exits(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    server = subprocess.Popen(
        [sys.executable, "-m", "cutover.orchestration.warmstart.server", "--socket", str(tmp_path / "s.sock"),
         "--preload", "json", "--parent", str(gone.pid)],
    )  # fmt: skip
    assert server.wait(timeout=30) == 0
    assert not (tmp_path / "s.sock").exists()
