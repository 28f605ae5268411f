"""A streamed merge of sorted runs: how a compaction keeps rows in order without holding the table.

Every input is a *run*, a stream of Arrow chunks sorted by the table's order:

* a data file that is already sorted (what a load writes, or an earlier compaction) is a run as it is:
  :class:`FileRun` sorts each chunk (free when it is sorted) and checks that chunks follow each other,
  raising :class:`UnsortedRunError` when they do not, so the caller can sort that file instead;
* files that are not sorted (a night's changes) go through :class:`SpillingSorter`, which sorts up to a
  memory budget at a time and spills each sorted run to a local Arrow IPC file when more than one is needed.

:func:`merge_runs` then repeatedly takes, from every open run, the rows up to the smallest last key any
open run holds, and sorts just those (a stable sort of a few chunks). A run whose first key is known
from the file's statistics is opened only when the merge reaches it, so data files covering disjoint
key ranges (a load's) are read one after another, never all at once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from cutover.maintenance.ordering import SortKeys

SPILL_BATCH_ROWS = 16_384
"""Rows per record batch of a spilled run (what the merge holds of it at a time)."""
MEMORY_CHUNK_ROWS = 65_536
"""Rows per chunk handed out of an in-memory run."""


class UnsortedRunError(Exception):
    """A data file taken for sorted is not (its path is :attr:`path`)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is not sorted")
        self.path = path


@dataclass
class Run:
    """A stream of sorted chunks (holding the key columns); ``lower`` is the first key's first part when
    known (the run is opened only once the merge reaches it), else None (opened at once)."""

    open: Callable[[], Iterator[pa.Table]]
    lower: tuple[Any, ...] | None = None


def file_run(path: str, chunks: Callable[[], Iterator[pa.Table]], keys: SortKeys, lower: tuple[Any, ...] | None) -> Run:
    """A data file taken for sorted: each chunk sorted, and checked to follow the one before."""

    def checked() -> Iterator[pa.Table]:
        last: tuple[Any, ...] | None = None
        for chunk in chunks():
            if not chunk.num_rows:
                continue
            chunk = keys.sort(chunk)
            if last is not None and keys.row_key(chunk, 0) < last:
                raise UnsortedRunError(path)
            last = keys.row_key(chunk, chunk.num_rows - 1)
            yield chunk

    return Run(checked, lower)


@dataclass
class SpillingSorter:
    """Sorts what is added ``budget_bytes`` at a time; runs beyond the first go to IPC files in ``directory``.

    Note:
        Call :meth:`close` (or use it as a context manager) to remove the spilled files.
    """

    keys: SortKeys
    budget_bytes: int
    directory: str | None = None
    _pending: list[pa.Table] = field(default_factory=list)
    _pending_bytes: int = 0
    _spilled: list[str] = field(default_factory=list)

    def add(self, chunk: pa.Table) -> None:
        if not chunk.num_rows:
            return
        self._pending.append(chunk)
        self._pending_bytes += chunk.nbytes
        if self._pending_bytes >= self.budget_bytes:
            self._spill()

    def runs(self) -> list[Run]:
        """Everything added, as sorted runs (the last one in memory when nothing had to spill)."""
        if self._spilled and self._pending:
            self._spill()
        runs = [Run(_spilled_chunks(path)) for path in self._spilled]
        if self._pending:
            data = self.keys.sort(pa.concat_tables(self._pending).combine_chunks())
            self._pending, self._pending_bytes = [], 0
            runs.append(Run(functools.partial(_slices, data)))
        return runs

    def _spill(self) -> None:
        data = self.keys.sort(pa.concat_tables(self._pending))  # one copy: the sorted one
        self._pending, self._pending_bytes = [], 0
        handle, path = tempfile.mkstemp(prefix="cutover-compact-", suffix=".arrow", dir=self.directory)
        os.close(handle)
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, data.schema) as writer:
            for batch in data.to_batches(max_chunksize=SPILL_BATCH_ROWS):
                writer.write_batch(batch)
        self._spilled.append(path)

    def close(self) -> None:
        for path in self._spilled:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._spilled.clear()
        self._pending, self._pending_bytes = [], 0

    def __enter__(self) -> SpillingSorter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _slices(data: pa.Table) -> Iterator[pa.Table]:
    for start in range(0, data.num_rows, MEMORY_CHUNK_ROWS):
        yield data.slice(start, MEMORY_CHUNK_ROWS)


def _spilled_chunks(path: str) -> Callable[[], Iterator[pa.Table]]:
    def chunks() -> Iterator[pa.Table]:
        with pa.OSFile(path, "rb") as source:
            reader = pa.ipc.open_file(source)
            for index in range(reader.num_record_batches):
                yield pa.Table.from_batches([reader.get_batch(index)])

    return chunks


@dataclass
class _Cursor:
    chunks: Iterator[pa.Table]
    chunk: pa.Table

    def advance(self) -> bool:
        """Move to the next non-empty chunk; False when the run is exhausted."""
        for chunk in self.chunks:
            if chunk.num_rows:
                self.chunk = chunk
                return True
        return False


def merge_runs(runs: list[Run], keys: SortKeys) -> Iterator[pa.Table]:
    """All rows of ``runs`` in the table's order, as a stream of chunks (runs one after another when the
    table has no order)."""
    if not keys.keys:
        for run in runs:
            yield from run.open()
        return
    waiting = sorted((r for r in runs if r.lower is not None), key=lambda r: r.lower)  # type: ignore[arg-type, return-value]
    active: list[_Cursor] = []

    def activate(run: Run) -> None:
        cursor = _Cursor(iter(run.open()), pa.table({}))
        if cursor.advance():
            active.append(cursor)

    for run in runs:
        if run.lower is None:
            activate(run)
    while active or waiting:
        if not active:
            activate(waiting.pop(0))
            continue
        bound = min(keys.row_key(c.chunk, c.chunk.num_rows - 1) for c in active)
        if waiting and waiting[0].lower is not None and waiting[0].lower <= bound[:1]:
            activate(waiting.pop(0))  # it may start below the bound: take it into account first
            continue
        pieces = []
        for cursor in active:
            taken = keys.count_at_most(cursor.chunk, bound)
            if taken:
                pieces.append(cursor.chunk.slice(0, taken))
                cursor.chunk = cursor.chunk.slice(taken)
        active = [c for c in active if c.chunk.num_rows or c.advance()]
        yield pieces[0] if len(pieces) == 1 else keys.sort(pa.concat_tables(pieces))
