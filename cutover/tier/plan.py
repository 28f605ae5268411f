"""The files of one table snapshot, planned once and pruned per read in memory.

pyiceberg plans a scan by reading the snapshot's manifest list and every manifest (Avro) on each call:
tens of milliseconds before any data is read. A snapshot never changes, so :class:`SnapshotPlan` plans
it once (every data file with the delete files that apply to it, pyiceberg's own planner) and prunes per
read with pyiceberg's own evaluators: the partition filter (the row filter projected through each spec,
so a partitioned table prunes by partition) and the column-metrics filter (lower/upper bounds, null counts).
Position deletes are read once per snapshot too, per data file as sorted positions.

Note:
    Uses ``ManifestGroupPlanner`` and ``_read_all_delete_files``, pyiceberg 0.12 internals (pinned by the
    ``pyiceberg<0.13`` requirement); ``tests/tier`` exercises both.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pyiceberg.expressions import AlwaysTrue, BooleanExpression

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import FileScanTask, Table

PLANS_CACHED_DEFAULT = 16
"""Snapshot plans kept (LRU): one per table is what a steady reader needs; older ones serve ``as_of``."""


class SnapshotPlan:
    """Every data file of one snapshot, its delete positions, and pruning by a row filter.

    Note:
        Thread-safe: the plan is immutable once built; delete positions load once under a lock.
    """

    def __init__(self, table: Table, snapshot_id: int | None) -> None:
        from pyiceberg.table import ManifestGroupPlanner

        self._metadata = table.metadata
        self._io = table.io
        snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else table.current_snapshot()
        self.snapshot_id = snapshot.snapshot_id if snapshot is not None else None
        planner = ManifestGroupPlanner(self._metadata, self._io, AlwaysTrue())
        self.tasks: list[FileScanTask] = list(planner.plan_files(snapshot.manifests(self._io))) if snapshot else []
        self._deletes: dict[str, npt.NDArray[np.int64]] | None = None
        self._lock = threading.Lock()

    @property
    def rows(self) -> int:
        return sum(int(t.file.record_count) for t in self.tasks)

    def prune(self, row_filter: BooleanExpression) -> list[FileScanTask]:
        """The tasks whose partition and column bounds may hold rows matching ``row_filter``."""
        if isinstance(row_filter, AlwaysTrue) or not self.tasks:
            return list(self.tasks)
        from pyiceberg.table import ManifestGroupPlanner

        planner = ManifestGroupPlanner(self._metadata, self._io, row_filter)
        by_spec: dict[int, Callable[[DataFile], bool]] = {}
        metrics = planner._build_metrics_evaluator()
        kept = []
        for task in self.tasks:
            spec_id = task.file.spec_id
            if spec_id not in by_spec:
                by_spec[spec_id] = planner._build_partition_evaluator(spec_id)
            if by_spec[spec_id](task.file) and metrics(task.file):
                kept.append(task)
        return kept

    def deleted_positions(self, task: FileScanTask) -> npt.NDArray[np.int64] | None:
        """Sorted positions deleted from ``task``'s data file (None when nothing is deleted)."""
        if not task.delete_files:
            return None
        if self._deletes is None:
            with self._lock:
                if self._deletes is None:
                    self._deletes = self._read_deletes()
        return self._deletes.get(task.file.file_path)

    def _read_deletes(self) -> dict[str, npt.NDArray[np.int64]]:
        from pyiceberg.io.pyarrow import _read_all_delete_files

        found: dict[str, npt.NDArray[np.int64]] = {}
        for path, arrays in _read_all_delete_files(self._io, self.tasks).items():
            chunks = [chunk.to_numpy() for array in arrays for chunk in array.chunks]
            found[path] = np.unique(np.concatenate(chunks).astype(np.int64)) if chunks else np.empty(0, np.int64)
        return found


class PlanCache:
    """Snapshot plans by (table location, snapshot id): snapshots are immutable, so a plan never goes stale."""

    def __init__(self, size: int = PLANS_CACHED_DEFAULT) -> None:
        self._size = size
        self._plans: OrderedDict[tuple[str, int | None], SnapshotPlan] = OrderedDict()
        self._lock = threading.Lock()

    def plan(self, table: Table, snapshot_id: int | None) -> SnapshotPlan:
        if snapshot_id is None:
            current = table.current_snapshot()
            snapshot_id = current.snapshot_id if current is not None else None
        key = (table.metadata.location, snapshot_id)
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
                return found
        plan = SnapshotPlan(table, snapshot_id)
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > self._size:
                self._plans.popitem(last=False)
        return plan

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()
