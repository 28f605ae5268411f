"""The full load's scheduling loop, written once for every executor (threads, Prefect tasks, Dask).

Batches are read up to ``parallel`` at a time, table by table; a table's finished batches are committed
as soon as they may be (one commit in flight per table; batches finished meanwhile join the next one),
and reading goes on while a commit runs. A table that fails stops being read; a refused one is dropped
once no commit of it is in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Protocol

from cutover.errors import CutoverError
from cutover.lake.commit import CommitResult
from cutover.load.steps import BatchOutput, TableLoad
from cutover.load.tracker import LoadProgress, LoadTracker
from cutover.source.planning import Batch
from cutover.source.snapshot import SourceSnapshot

ProgressCallback = Callable[[LoadProgress], None]
"""Called after every committed or skipped batch, in the scheduling thread."""


class LoadExecutor(Protocol):
    """Where the steps of a full load run. Reads and commits return futures; the loop waits on them."""

    def prepare(self, table: str) -> TableLoad:
        """Introspect, map and create (or resume) one table; raises a :class:`CutoverError` to refuse it."""
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
    parallel: int,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Read, write and commit every pending batch the tracker knows of; failures land in the tracker."""
    _Schedule(tracker, executor, snapshot, parallel, on_progress).run()


class _Schedule:
    def __init__(
        self,
        tracker: LoadTracker,
        executor: LoadExecutor,
        snapshot: SourceSnapshot,
        parallel: int,
        on_progress: ProgressCallback | None,
    ) -> None:
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, not {parallel}")
        self.tracker, self.executor, self.snapshot, self.parallel = tracker, executor, snapshot, parallel
        self.on_progress = on_progress
        self.reads: dict[Future[BatchOutput], TableLoad] = {}
        self.commits: dict[Future[CommitResult], tuple[TableLoad, list[BatchOutput]]] = {}
        self.waiting: dict[str, list[BatchOutput]] = {}
        """Outputs ready to commit while the table's previous commit is still in flight."""
        self.abort_after_commit: set[str] = set()

    def run(self) -> None:
        for load in self.tracker.idle_tables():
            self.tracker.committed(load)
            self._notify(load)
        work = deque(self.tracker.work())
        while True:
            while work and len(self.reads) < self.parallel:
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
            self.waiting.setdefault(load.iceberg_name, []).extend(ready)
            self._commit_waiting(load)

    def _commit_waiting(self, load: TableLoad) -> None:
        name = load.iceberg_name
        if not self.waiting.get(name) or any(other is load for other, _ in self.commits.values()):
            return
        outputs = self.waiting.pop(name)
        self.commits[self.executor.commit(load, outputs, self.snapshot)] = (load, outputs)

    def _commit_done(self, load: TableLoad, outputs: list[BatchOutput], future: Future[CommitResult]) -> None:
        if self.tracker.is_failed(load):
            if load.iceberg_name in self.abort_after_commit:
                self.abort_after_commit.discard(load.iceberg_name)
                self.executor.abort(load)
            return
        try:
            self.tracker.committed(load, future.result(), outputs)
        except CutoverError as exc:
            self._fail(load, exc)
            return
        self._notify(load)
        self._commit_waiting(load)

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
