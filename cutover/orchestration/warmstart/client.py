"""The job command of cutover's process work pool: ``python -m cutover.orchestration.warmstart.client``.

``... client [--module M] [ARG ...]`` runs ``python -m M ARG ...`` (``M`` defaults to ``prefect.engine``).

Hands this process's arguments, environment, working directory and standard streams to the warm-start
server named by ``CUTOVER_WARMSTART_SOCKET`` and stands in for the run: signals sent here (the worker's
cancellation SIGTERM among them) go to the run's process group, and this process exits with the run's
exit code, or by its signal. Without a server, or when the server answers ``stale`` or ``cold``, this
process becomes ``python -m prefect.engine`` itself. Imports only the standard library: it starts in ~40 ms.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from typing import NoReturn

from cutover.orchestration.warmstart.protocol import ENGINE_MODULE, SOCKET_ENV, RunRequest, send_request, signal_group

RELAYED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def main() -> NoReturn:
    module, arguments = ENGINE_MODULE, sys.argv[1:]
    if arguments[:1] == ["--module"] and len(arguments) > 1:
        module, arguments = arguments[1], arguments[2:]
    path = os.environ.get(SOCKET_ENV)
    code = run_warm(path, module, arguments) if path else None
    if code is None:
        run_cold(module, arguments)
    exit_like(code)


def run_warm(path: str, module: str, arguments: list[str]) -> int | None:
    """The run's exit code, or None when no server took the run (nothing has started then)."""
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
    except OSError:
        return None
    with sock, sock.makefile("rb") as replies:
        try:
            request = RunRequest(module, arguments, dict(os.environ), os.getcwd())
            send_request(sock, request, standard_streams())
            started = replies.readline()
        except OSError:
            return None
        if not started.startswith(b"pid "):
            return None  # `stale` or `cold`, or the server went away before forking
        pid = int(started.split()[1])
        for sig in RELAYED_SIGNALS:
            signal.signal(sig, lambda signum, _frame: signal_group(pid, signum))
        ended = replies.readline()
    if ended.startswith(b"exit "):
        return int(ended.split()[1])
    print(f"cutover warm start: the server went away during run {pid}; waiting for the run to end",
          file=sys.stderr)  # fmt: skip
    while _alive(pid):
        time.sleep(0.5)
    return 1  # its exit code went with the server


def run_cold(module: str, arguments: list[str]) -> NoReturn:
    """Become ``python -m <module>`` with the same arguments."""
    os.execv(sys.executable, [sys.executable, "-m", module, *arguments])


def standard_streams() -> list[int]:
    """Descriptors 0-2, each replaced by /dev/null where the worker left it closed."""
    streams = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            streams.append(fd)
        except OSError:
            streams.append(os.open(os.devnull, os.O_RDWR))
    return streams


def exit_like(code: int) -> NoReturn:
    """Exit with ``code``; a negative one is the signal that ended the run, raised here again."""
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        time.sleep(1)  # the signal is delivered before this returns; a blocked one falls through
        code = 128 - code
    sys.exit(code)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    main()
