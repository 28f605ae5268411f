"""The few messages between the warm-start client and server, over a Unix socket.

Client to server: a 4-byte length with the three standard-stream descriptors attached (``SCM_RIGHTS``),
then that many bytes of JSON: ``{"module": "...", "argv": [...], "env": {...}, "cwd": "..."}``.
Server to client, one line each: ``pid N`` when the run has started, then ``exit N`` with its exit code
(negative: killed by that signal); or only ``stale`` (the server's code changed on disk) or ``cold`` (the
run is for code the server did not import), and the client starts the run itself.

Also the two process chores both sides share: closing passed descriptors and signalling a run's group.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

SOCKET_ENV = "CUTOVER_WARMSTART_SOCKET"
"""Where the client finds the server: set in the worker's environment by whoever starts both."""
ENGINE_MODULE = "prefect.engine"
"""What a run executes, warm or cold, unless the client is told otherwise."""
_LENGTH = struct.Struct("!I")
STREAMS = 3
MAX_REQUEST_BYTES = 16 * 1024 * 1024


class ProtocolError(Exception):
    """A peer sent something this protocol does not have, or hung up mid-message."""


@dataclass(frozen=True)
class RunRequest:
    """One run of ``python -m <module> <argv...>``, with its environment and working directory."""

    module: str
    argv: list[str]
    env: dict[str, str]
    cwd: str

    def encode(self) -> bytes:
        return json.dumps({"module": self.module, "argv": self.argv, "env": self.env, "cwd": self.cwd}).encode()

    @classmethod
    def decode(cls, payload: bytes) -> RunRequest:
        data = json.loads(payload)
        env = {str(k): str(v) for k, v in data["env"].items()}
        return cls(str(data["module"]), [str(a) for a in data["argv"]], env, str(data["cwd"]))


def send_request(sock: socket.socket, request: RunRequest, streams: list[int]) -> None:
    """The request, with ``streams`` (stdin, stdout, stderr) passed along."""
    payload = request.encode()
    socket.send_fds(sock, [_LENGTH.pack(len(payload))], streams)
    sock.sendall(payload)


def receive_request(sock: socket.socket) -> tuple[RunRequest, list[int]]:
    """A request and the stream descriptors that came with it (the caller owns and closes them).

    Raises:
        ProtocolError: the message was cut short, too long, or did not carry three descriptors.
    """
    header, fds, _, _ = socket.recv_fds(sock, _LENGTH.size, STREAMS)
    if len(header) != _LENGTH.size or len(fds) != STREAMS:
        close_all(fds)
        raise ProtocolError(f"expected a {_LENGTH.size}-byte header with {STREAMS} descriptors")
    (length,) = _LENGTH.unpack(header)
    try:
        if length > MAX_REQUEST_BYTES:
            raise ProtocolError(f"a request of {length} bytes")
        payload = _receive_exactly(sock, length)
        return RunRequest.decode(payload), fds
    except (ProtocolError, ValueError, KeyError, TypeError, AttributeError) as exc:
        close_all(fds)
        raise ProtocolError(f"a malformed request: {exc}") from exc


def _receive_exactly(sock: socket.socket, length: int) -> bytes:
    chunks, received = [], 0
    while received < length:
        chunk = sock.recv(min(length - received, 1 << 20))
        if not chunk:
            raise ProtocolError(f"the request ended after {received} of {length} bytes")
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def close_all(fds: Iterable[int]) -> None:
    """Close descriptors, some perhaps closed already."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def signal_group(pid: int, signum: int) -> None:
    """``signum`` to the process group a run leads (it may have ended already)."""
    with contextlib.suppress(OSError):
        os.killpg(pid, signum)
