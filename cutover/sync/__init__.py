"""The nightly sync (design §5): changes, hard deletes and new columns, merged into Iceberg by key.

Public surface: :class:`SyncRequest` and :func:`run_sync` (what `cutover sync` calls), the steps the
Prefect flow composes (:func:`prepare_requested_sync`, :func:`stage_sync`, :func:`commit_sync`), and
the report records.
"""

from __future__ import annotations

from cutover.sync.report import SyncReport, SyncStatus, TableSyncReport
from cutover.sync.runner import (
    SyncRequest,
    failed_report,
    prepare_requested_sync,
    release_delete_logs,
    run_sync,
    sync_one,
)
from cutover.sync.steps import StagedSync, TableSync, commit_sync, prepare_sync, stage_sync

__all__ = [
    "StagedSync",
    "SyncReport",
    "SyncRequest",
    "SyncStatus",
    "TableSync",
    "TableSyncReport",
    "commit_sync",
    "failed_report",
    "prepare_requested_sync",
    "prepare_sync",
    "release_delete_logs",
    "run_sync",
    "stage_sync",
    "sync_one",
]
