"""The full load's scheduling loop, written once for every executor (threads, Prefect tasks, Dask).

Batches are read up to ``capacity.reads`` at a time, table by table; a table's finished batches are
committed as soon as they may be (one commit in flight per table, ``capacity.commits`` in all; batches
finished meanwhile join the next one), and reading goes on while commits run. A table that fails stops
being read; a refused one is dropped once no commit of it is in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cutover.errors import CutoverError
from cutover.lake.commit import CommitResult
from cutover.load.steps import BatchOutput, TableLoad
from cutover.load.tracker import LoadProgress, LoadTracker
from cutover.source.planning import Batch
from cutover.source.snapshot import SourceSnapshot

ProgressCallback = Callable[[LoadProgress], None]
"""Called after every committed or skipped batch, in the scheduling thread."""


@dataclass(frozen=True)
class NotPrepared:
    """A table that could not be prepared, as a plain value (it travels between processes like a result)."""

    table: str
    status: Literal["refused", "failed"]
    error: str


@dataclass(frozen=True)
class Capacity:
    """How many batch reads and commits (of different tables) a run may have in flight at once."""

    reads: int
    commits: int

    def __post_init__(self) -> None:
        if self.reads < 1 or self.commits < 1:
            raise ValueError(f"a run needs at least one reader and one committer, not {self}")


class LoadExecutor(Protocol):
    """Where the steps of a full load run. Reads and commits return futures; the loop waits on them."""

    def prepare(self, tables: list[str]) -> list[TableLoad | NotPrepared]:
        """Introspect, map and create (or resume) the tables, in order, all in one step (a round of
        start-up for the run, not one per table); a table that cannot be loaded is a :class:`NotPrepared`."""
        ...

    def capacity(self, parallel: int) -> AbstractContextManager[Capacity]:
        """Held while the batches are read and committed; yields how many reads and commits may be in
        flight. Where an orchestrator reserves the run's share of its global limits once, not per step."""
        ...

    def read_batch(self, load: TableLoad, batch: Batch, snapshot: SourceSnapshot) -> Future[BatchOutput]:
        """Read one batch inside the run's snapshot and write its data files."""
        ...

    def commit(self, load: TableLoad, outputs: list[BatchOutput], snapshot: SourceSnapshot) -> Future[CommitResult]:
        """Commit written batches with the checkpoint (idempotent)."""
        ...

    def abort(self, load: TableLoad) -> None:
        """Drop what a refused load wrote (runs in the scheduling thread)."""
        ...


def run_batches(
    tracker: LoadTracker,
    executor: LoadExecutor,
    snapshot: SourceSnapshot,
    capacity: Capacity,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Read, write and commit every pending batch the tracker knows of; failures land in the tracker."""
    _Schedule(tracker, executor, snapshot, capacity, on_progress).run()


class _Schedule:
    def __init__(
        self,
        tracker: LoadTracker,
        executor: LoadExecutor,
        snapshot: SourceSnapshot,
        capacity: Capacity,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.tracker, self.executor, self.snapshot, self.capacity = tracker, executor, snapshot, capacity
        self.on_progress = on_progress
        self.reads: dict[Future[BatchOutput], TableLoad] = {}
        self.commits: dict[Future[CommitResult], tuple[TableLoad, list[BatchOutput]]] = {}
        self.waiting: dict[str, tuple[TableLoad, list[BatchOutput]]] = {}
        """Outputs ready to commit while the table's previous commit (or all the run's committers) is busy."""
        self.abort_after_commit: set[str] = set()

    def run(self) -> None:
        for load in self.tracker.idle_tables():
            self.tracker.committed(load)
            self._notify(load)
        work = deque(self.tracker.work())
        while True:
            while work and len(self.reads) < self.capacity.reads:
                load, batch = work.popleft()
                if not self.tracker.is_failed(load):
                    self.tracker.reading(load)
                    self.reads[self.executor.read_batch(load, batch, self.snapshot)] = load
            if not self.reads and not self.commits:
                return
            running: set[Future[Any]] = {*self.reads, *self.commits}
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                if future in self.reads:
                    self._read_done(self.reads.pop(future), future)
                else:
                    self._commit_done(*self.commits.pop(future), future)

    def _read_done(self, load: TableLoad, future: Future[BatchOutput]) -> None:
        if self.tracker.is_failed(load):
            return  # read before the table failed: its files stay unreferenced
        try:
            ready = self.tracker.batch_done(load, future.result())
        except CutoverError as exc:
            self._fail(load, exc)
            return
        if ready:
            self.waiting.setdefault(load.iceberg_name, (load, []))[1].extend(ready)
            self._commit_waiting()

    def _commit_waiting(self) -> None:
        """Start commits of waiting tables, oldest first, while committers are free (one per table)."""
        for name, (load, outputs) in list(self.waiting.items()):
            if len(self.commits) >= self.capacity.commits:
                return
            if any(other is load for other, _ in self.commits.values()):
                continue
            del self.waiting[name]
            self.commits[self.executor.commit(load, outputs, self.snapshot)] = (load, outputs)

    def _commit_done(self, load: TableLoad, outputs: list[BatchOutput], future: Future[CommitResult]) -> None:
        if self.tracker.is_failed(load):
            if load.iceberg_name in self.abort_after_commit:
                self.abort_after_commit.discard(load.iceberg_name)
                self.executor.abort(load)
        else:
            try:
                self.tracker.committed(load, future.result(), outputs)
            except CutoverError as exc:
                self._fail(load, exc)
            else:
                self._notify(load)
        self._commit_waiting()  # a committer is free

    def _fail(self, load: TableLoad, exc: CutoverError) -> None:
        self.waiting.pop(load.iceberg_name, None)
        if self.tracker.failed(load, exc) != "refused":
            return
        if any(other is load for other, _ in self.commits.values()):
            self.abort_after_commit.add(load.iceberg_name)  # never drop a table under its own commit
        else:
            self.executor.abort(load)

    def _notify(self, load: TableLoad) -> None:
        if self.on_progress is not None:
            self.on_progress(self.tracker.table_progress(load))
