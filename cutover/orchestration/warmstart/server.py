"""The warm-start server: Prefect and the flows imported once, one forked child per flow run.

``python -m cutover.orchestration.warmstart.server --socket PATH`` preloads the modules, then listens on
``PATH``. Each request (:mod:`.protocol`) forks a child that takes the client's streams, environment and
working directory, starts a session of its own and runs ``prefect.engine`` as ``__main__``, exactly as
``python -m prefect.engine`` would, and exits through the normal interpreter shutdown (Prefect's exit
handlers flush logs and events). The server reports the child's pid and exit code to the client.

The server stays single-threaded (a fork copies only the forking thread): signals reach its loop through
``signal.set_wakeup_fd``. On SIGTERM/SIGINT it stops and terminates its runs. When its parent (the
worker) exits, it stops listening and exits once its runs have ended (a cold run outlives its worker too).
When a module it imported has changed on disk, it answers ``stale``, stops listening, lets its runs end
and executes itself again, so a run never executes old code. A run whose ``CUTOVER_CODE_DIR`` is another
checkout is answered ``cold``.

What Prefect reads once at import (its logging configuration) comes from the server's environment, the
worker's; everything a run reads later (settings, the job's environment variables) is the run's own.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import runpy
import selectors
import signal
import socket
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cutover.orchestration.warmstart.protocol import (
    ProtocolError,
    RunRequest,
    close_all,
    receive_request,
    signal_group,
)

DEFAULT_PRELOAD = (
    "prefect.flow_engine", "prefect._internal.metrics", "prefect._internal.control_listener", "prefect.deployments.steps", "prefect_sqlalchemy",
    "flows.migrate", "flows.sync", "flows.validate", "flows.rollout", "flows.rollback", "flows.maintain",
    "flows.compare_backends",
)  # fmt: skip
"""What a flow run of cutover's deployments imports (``prefect.engine`` itself runs as ``__main__``); a module
that fails to import is left to the run."""
REQUEST_TIMEOUT_SECONDS = 5.0
"""A client sends its request as soon as it connects; one that does not is dropped."""
STOP_GRACE_SECONDS = 10.0
PRIVATE_DIR_PREFIX = "cutover-warmstart-"
CODE_DIR_ENV = "CUTOVER_CODE_DIR"
"""Where `prefect.yaml`'s pull step takes the flows from; a run for another directory starts cold."""
"""How long runs get after SIGTERM when the server stops, before SIGKILL."""

log = logging.getLogger("cutover.warmstart")


@dataclass
class CodeFingerprint:
    """The modification times of every imported module file: a change means the preloaded code is stale."""

    mtimes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of_loaded_modules(cls) -> CodeFingerprint:
        return cls({path: mtime for path in _module_files() if (mtime := _mtime(path)) is not None})

    def changed(self) -> str | None:
        """The first file that changed or vanished since, or None (a stat per file: ~3 ms for 3,000)."""
        for path, mtime in self.mtimes.items():
            if _mtime(path) != mtime:
                return path
        return None


def _module_files() -> Iterable[str]:
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            yield path


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def preload(modules: Sequence[str], code_dir: Path) -> list[str]:
    """Import ``modules`` (``code_dir`` first on the path, as the flows' pull step makes it); the names
    that failed, each logged."""
    sys.path.insert(0, str(code_dir))
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a module the run imports (and reports) itself
            log.warning("not preloaded: %s (%s: %s)", name, type(exc).__name__, exc)
            failed.append(name)
    return failed


@dataclass(frozen=True)
class ChildRun:
    """Returned in a forked child only: the run to execute."""

    request: RunRequest
    streams: list[int]


class Server:
    """Accepts run requests on a Unix socket and forks a child per request (see the module docstring)."""

    def __init__(
        self, path: Path, fingerprint: CodeFingerprint, code_dir: Path | None = None, parent: int | None = None
    ) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.code_dir = code_dir.resolve() if code_dir is not None else None
        self.parent = parent or os.getppid()
        """The worker: when this process's parent is no longer it, the server is orphaned."""
        self.runs: dict[int, socket.socket] = {}
        self.stopping = False
        """SIGTERM or SIGINT: stop, terminating the runs (as a signal to the worker's process group would)."""
        self.orphaned = False
        """The worker is gone: stop listening, let the runs end (a cold run outlives its worker too), exit."""
        self.restart = False
        """The code changed: stop listening, let the runs end, then execute the server again."""
        self.started = 0
        self._pid = os.getpid()
        self._kill_at: float | None = None

    def serve(self) -> ChildRun | None:
        """Serve until stopped (None: :attr:`restart` says whether to execute again), or return in a child."""
        wake_read, wake_write = os.pipe()
        for fd in (wake_read, wake_write):
            os.set_blocking(fd, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        signals = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT)
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in signals}
        selector = selectors.DefaultSelector()
        listening = self._listen()
        selector.register(listening, selectors.EVENT_READ)
        listener: socket.socket | None = listening
        selector.register(wake_read, selectors.EVENT_READ)
        child: ChildRun | None = None
        try:
            while child is None:
                for key, _ in selector.select(timeout=1.0):
                    if key.fileobj is listener:
                        child = self._accept(listener, selector)
                        if child is not None:
                            break
                    elif key.fileobj == wake_read:
                        _drain(wake_read)
                    elif isinstance(key.fileobj, socket.socket):
                        self._client_gone(key.fileobj, selector)
                if child is not None:
                    break
                self._reap(selector)
                self.orphaned = self.orphaned or os.getppid() != self.parent
                closing = self.stopping or self.restart or self.orphaned
                if closing and listener is not None:
                    selector.unregister(listener)
                    listener.close()
                    listener = None
                    self.path.unlink(missing_ok=True)
                if self.stopping:
                    self._terminate_runs()
                if closing and not self.runs:
                    return None
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            selector.close()
            close_all((wake_read, wake_write))
            if listener is not None:
                listener.close()
                if os.getpid() == self._pid:
                    self.path.unlink(missing_ok=True)
        return child

    def _listen(self) -> socket.socket:
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        os.chmod(self.path, 0o600)  # only the worker's user starts runs here
        listener.listen(64)
        listener.setblocking(False)
        return listener

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True

    def _accept(self, listener: socket.socket, selector: selectors.BaseSelector) -> ChildRun | None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return None
        conn.settimeout(REQUEST_TIMEOUT_SECONDS)
        try:
            request, streams = receive_request(conn)
        except (ProtocolError, OSError) as exc:
            log.warning("request dropped: %s", exc)
            conn.close()
            return None
        foreign = self._foreign_code(request)
        if foreign is not None:  # its pull step loads another checkout: only a new interpreter runs that
            log.info("run for the code in %s, not %s: cold start", foreign, self.code_dir)
            _refuse(conn, streams, b"cold")
            return None
        stale = self.fingerprint.changed()
        if stale is not None:
            log.info("code changed (%s): cold start; restarting when %d run(s) have ended", stale, len(self.runs))
            self.restart = True
            _refuse(conn, streams, b"stale")
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        with warnings.catch_warnings():
            # Python 3.12 warns on forking a process with other OS threads: here only Arrow's allocator
            # thread, which jemalloc handles across fork; this process's Python code is one thread.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: nothing of the server's stays open
            for other in self.runs.values():
                other.close()
            conn.close()
            return ChildRun(request, streams)
        close_all(streams)
        self.started += 1
        try:
            conn.sendall(f"pid {pid}\n".encode())
        except OSError:  # the client is gone already, and with it the reason for the run
            signal_group(pid, signal.SIGKILL)
        conn.setblocking(False)
        self.runs[pid] = conn
        selector.register(conn, selectors.EVENT_READ)
        log.info("run %d started (%d so far)", pid, self.started)
        return None

    def _foreign_code(self, request: RunRequest) -> str | None:
        """The run's ``CUTOVER_CODE_DIR`` (where the deployments' pull step goes) when it is not the code this
        server imported, else None."""
        wanted = request.env.get(CODE_DIR_ENV)
        if not wanted or self.code_dir is None:
            return None
        return None if Path(wanted).resolve() == self.code_dir else wanted

    def _client_gone(self, conn: socket.socket, selector: selectors.BaseSelector) -> None:
        """A client that hangs up before its run ended was killed (it relays every other signal): so is its run."""
        try:
            if conn.recv(1):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        selector.unregister(conn)
        for pid, run_conn in self.runs.items():
            if run_conn is conn:
                log.warning("the client of run %d is gone: killing the run", pid)
                signal_group(pid, signal.SIGKILL)

    def _reap(self, selector: selectors.BaseSelector) -> None:
        while self.runs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.runs.pop(pid, None)
            if conn is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(KeyError):  # not when its client hung up first
                selector.unregister(conn)
            with contextlib.suppress(OSError):
                conn.setblocking(True)
                conn.sendall(f"exit {code}\n".encode())
            conn.close()
            log.info("run %d exited with %d", pid, code)

    def _terminate_runs(self) -> None:
        """SIGTERM to every run once, SIGKILL to those left after :data:`STOP_GRACE_SECONDS`."""
        now = time.monotonic()
        if self._kill_at is None:
            self._kill_at = now + STOP_GRACE_SECONDS
            for pid in self.runs:
                signal_group(pid, signal.SIGTERM)
        elif now > self._kill_at:
            for pid in self.runs:
                signal_group(pid, signal.SIGKILL)


def _refuse(conn: socket.socket, streams: list[int], reply: bytes) -> None:
    """Answer a request the client must run itself (``cold`` or ``stale``), and let go of it."""
    close_all(streams)
    with contextlib.suppress(OSError):
        conn.sendall(reply + b"\n")
    conn.close()


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass


def run_module(child: ChildRun) -> None:
    """In the forked child: become ``python -m <module>`` (``prefect.engine``) with the client's streams,
    environment, working directory and arguments; its SystemExit ends this process as it would end that one."""
    os.setsid()  # a group of its own: the client signals it and everything it starts
    for target, fd in enumerate(child.streams):
        os.dup2(fd, target)
    close_all(fd for fd in child.streams if fd > 2)
    os.chdir(child.request.cwd)
    os.environ.clear()
    os.environ.update(child.request.env)
    module = child.request.module
    sys.argv = [module, *child.request.argv]
    log.handlers.clear()  # the run logs as Prefect configures it, to the client's streams
    sys.modules.pop(module, None)  # executed afresh as __main__, as `python -m` does
    if "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()  # settings were read from the server's environment at import
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s warm-start: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    parent = args.parent or os.getppid()  # before the preload: a worker may die during it
    started = time.perf_counter()
    failed = preload(args.preload or DEFAULT_PRELOAD, Path(args.code_dir))
    server = Server(Path(args.socket), CodeFingerprint.of_loaded_modules(), Path(args.code_dir), parent)
    log.info(
        "ready on %s: %d modules loaded in %.2f s%s", args.socket, len(sys.modules), time.perf_counter() - started,
        f" ({len(failed)} not preloaded)" if failed else "",
    )  # fmt: skip
    child = server.serve()
    if child is not None:
        run_module(child)
        return
    if server.restart and not (server.stopping or server.orphaned):
        log.info("executing the server again for the changed code")
        os.execv(sys.executable, [sys.executable, "-m", __spec__.name if __spec__ else __name__, *sys.argv[1:]])
    if server.path.parent.name.startswith(PRIVATE_DIR_PREFIX):  # made for it by `cutover prefect worker`
        with contextlib.suppress(OSError):
            server.path.parent.rmdir()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", required=True, help="the Unix socket to listen on")
    parser.add_argument("--parent", type=int, help="the worker's pid (default: this process's parent)")
    parser.add_argument("--preload", action="append", help="a module to import first (repeat; default: the flows)")
    parser.add_argument("--code-dir", default=os.environ.get(CODE_DIR_ENV, os.getcwd()),
                        help="where the flows' code lives (default: CUTOVER_CODE_DIR, else here)")  # fmt: skip
    return parser


if __name__ == "__main__":
    main()
