"""The seam between a job's scheduling loop and the place its steps run.

Each job (full load, sync, validation) writes its scheduling loop once, in the library, against a small
executor protocol of its own whose methods return :class:`concurrent.futures.Future`. The CLI passes a
thread-pool executor; the Prefect flows pass one that submits Prefect tasks (and so a Dask cluster, when
the flow's task runner is one). The loop decides what runs when; the executor only decides where.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_bounded(
    items: Iterable[Item],
    submit: Callable[[Item], Future[Result]],
    parallel: int,
    on_done: Callable[[Item, Future[Result]], None],
) -> None:
    """Keep at most ``parallel`` items in flight; call ``on_done(item, future)`` as each one finishes.

    ``on_done`` runs in the calling thread, one at a time, so it may update shared state without locks.
    An exception from ``on_done`` stops submitting and propagates (after the in-flight work is left to
    finish by its executor).
    """
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {parallel}")
    in_flight: dict[Future[Result], Item] = {}

    def finish_one() -> None:
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            on_done(in_flight.pop(future), future)

    for item in items:
        while len(in_flight) >= parallel:
            finish_one()
        in_flight[submit(item)] = item
    while in_flight:
        finish_one()
