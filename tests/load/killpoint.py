"""Run `cutover` in this process, SIGKILLing it at a chosen point: a real crash, at a precise moment.

Usage: python -m tests.load.killpoint POINT N -- cutover-arguments...

POINT is one of: extract (inside the Nth converted record batch), write (right after the Nth data file is
complete), commit-before (as the Nth catalog commit starts), commit-after (right after the Nth catalog
commit succeeded, before the runner knows). Only the tests use this; production code has no hooks.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any


def _kill_on_call(owner: Any, name: str, nth: int, after: bool) -> None:
    original: Callable[..., Any] = getattr(owner, name)
    calls = 0
    lock = threading.Lock()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        with lock:
            calls += 1
            hit = calls == nth
        if hit and not after:
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if hit and after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def main() -> None:
    point, nth = sys.argv[1], int(sys.argv[2])
    separator = sys.argv.index("--")
    sys.argv = ["cutover", *sys.argv[separator + 1 :]]
    from pyiceberg.catalog.sql import SqlCatalog

    from cutover.lake.convert import BatchConverter
    from cutover.lake.writer import DataFileWriter

    targets = {
        "extract": (BatchConverter, "convert", False),
        "write": (DataFileWriter, "_finish_file", True),
        "commit-before": (SqlCatalog, "commit_table", False),
        "commit-after": (SqlCatalog, "commit_table", True),
    }
    owner, name, after = targets[point]
    _kill_on_call(owner, name, nth, after)
    from cutover.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
