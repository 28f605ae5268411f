"""Running maintenance over many tables: the job written once, its tables on threads (the CLI) or elsewhere.

Per table, in order: compaction, manifest rewrite, snapshot expiry (with the files only expired snapshots
referenced), orphan removal. :func:`run_maintenance` maintains ``parallel`` tables at a time through a
:class:`MaintenanceExecutor`; :class:`ThreadMaintenanceExecutor` is the default, and the Prefect flow
passes one that submits tasks holding the table's sync concurrency limit.
"""

from __future__ import annotations

import fnmatch
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

from cutover.config import CatalogConfig
from cutover.errors import ConfigError, CutoverError, TransientError
from cutover.execution import run_bounded
from cutover.lake.catalog import open_catalog
from cutover.maintenance.compact import DEFAULT_TARGET_FILE_BYTES, CompactionOptions, compact_table, plan_compaction
from cutover.maintenance.expire import DEFAULT_RETAIN_LAST, ExpiryOptions, expire_snapshots
from cutover.maintenance.inventory import count_files
from cutover.maintenance.manifests import DEFAULT_MAX_MANIFESTS, rewrite_manifests
from cutover.maintenance.orphans import remove_orphans
from cutover.maintenance.report import MaintenanceReport, TableMaintenanceReport

if TYPE_CHECKING:
    from pyiceberg.table import Table

ProgressCallback = Callable[[TableMaintenanceReport, int, int], None]
"""``(result, tables finished, tables selected)`` once per table as it ends, in the calling thread."""


class MaintenanceRequest(BaseModel):
    """What to maintain and how: the parameters of `cutover maintain` and of the `maintain` flow."""

    namespace: str | None = None
    """Iceberg namespace; default: every namespace of the catalog."""
    tables: list[str] = Field(default_factory=list)
    """Table names or globs within the namespace(s); empty means every table."""
    target_file_bytes: int = Field(default=DEFAULT_TARGET_FILE_BYTES, ge=1024)
    older_than_days: float = Field(default=7.0, ge=0)
    """Snapshots older than this may expire..."""
    retain_last: int = Field(default=DEFAULT_RETAIN_LAST, ge=1)
    """...but the newest ``retain_last`` of the current history always stay (and tagged ones)."""
    orphan_grace_days: float = Field(default=3.0, ge=0)
    """Unreferenced files younger than this are left alone (an in-flight load's files)."""
    max_manifests: int = Field(default=DEFAULT_MAX_MANIFESTS, ge=1)
    dry_run: bool = False
    """Plan and list only: nothing is written or deleted."""
    parallel: int = Field(default=1, ge=1, le=16)


class MaintenanceExecutor(Protocol):
    """Where one table's maintenance runs."""

    def maintain_table(self, identifier: tuple[str, str]) -> Future[TableMaintenanceReport]: ...


def resolve_iceberg_tables(catalog: Catalog, request: MaintenanceRequest) -> list[tuple[str, str]]:
    """The catalog's tables the request picks, sorted.

    Raises:
        ConfigError: the namespace does not exist, or a named (non-glob) table is not in it.
    """
    try:
        namespaces = [(request.namespace,)] if request.namespace else catalog.list_namespaces()
        found = sorted((ns[0], ident[-1]) for ns in namespaces for ident in catalog.list_tables(ns))
    except NoSuchNamespaceError as exc:
        raise ConfigError(f"no Iceberg namespace {request.namespace!r} in the catalog") from exc
    if not request.tables:
        return found
    picked = [t for t in found if any(fnmatch.fnmatchcase(t[1], p) for p in request.tables)]
    missing = [p for p in request.tables if not any(ch in p for ch in "*?[") and p not in {t[1] for t in found}]
    if missing:
        raise ConfigError(f"no Iceberg table {', '.join(missing)} in {request.namespace or 'any namespace'}")
    return picked


def maintain_table(
    catalog: Catalog, identifier: tuple[str, str], request: MaintenanceRequest, *, now: datetime | None = None
) -> TableMaintenanceReport:
    """Compact, rewrite manifests, expire snapshots and remove orphans of one table; timed.

    Deterministic failures land in the report; transient ones (a commit conflict) are raised for a retry.
    """
    began = time.perf_counter()
    report = TableMaintenanceReport(".".join(identifier))
    try:
        table = catalog.load_table(identifier)
        _maintain(table, request, report, now or datetime.now(UTC))
    except TransientError:
        raise
    except NoSuchTableError as exc:
        report.status, report.error = "failed", f"no Iceberg table {'.'.join(identifier)}: {exc}"
    except CutoverError as exc:
        report.status, report.error = "failed", str(exc)
    report.seconds = time.perf_counter() - began
    return report


def _maintain(table: Table, request: MaintenanceRequest, report: TableMaintenanceReport, now: datetime) -> None:
    before = count_files(table)
    report.data_files_before, report.data_bytes_before = before.data_files, before.data_bytes
    report.delete_files_before, report.manifests_before = before.delete_files, before.manifests
    if request.dry_run:
        report.files_rewritten, report.delete_files_applied = plan_compaction(table, request.target_file_bytes)
    else:
        compaction = compact_table(table, CompactionOptions(target_file_bytes=request.target_file_bytes))
        report.files_rewritten, report.delete_files_applied = (
            compaction.files_rewritten,
            compaction.delete_files_applied,
        )
        report.compaction_attempts, report.compaction_abandoned = compaction.attempts, compaction.abandoned
    changed = bool(report.files_rewritten or report.delete_files_applied)
    compacted = not request.dry_run and bool(report.files_rewritten or report.delete_files_applied)
    manifests = rewrite_manifests(table, request.max_manifests, dry_run=request.dry_run, force=compacted)
    changed |= manifests.snapshot_id is not None
    expiry = ExpiryOptions(timedelta(days=request.older_than_days), request.retain_last)
    expired = expire_snapshots(table, expiry, now=now, dry_run=request.dry_run)
    orphans = remove_orphans(table, timedelta(days=request.orphan_grace_days), now=now, dry_run=request.dry_run)
    report.snapshots_expired = expired.snapshots_expired
    report.files_deleted = (len(expired.deleted) if request.dry_run else expired.files_deleted) + (
        len(orphans.orphans) if request.dry_run else orphans.files_deleted
    )
    report.bytes_deleted = expired.bytes_deleted + (
        sum(o.size for o in orphans.orphans) if request.dry_run else orphans.bytes_deleted
    )
    report.orphans = [{"path": o.path, "size": o.size} for o in orphans.orphans]
    after = count_files(table)
    report.data_files_after, report.data_bytes_after = after.data_files, after.data_bytes
    report.delete_files_after, report.manifests_after = after.delete_files, after.manifests
    current = table.current_snapshot()
    report.snapshot_id = current.snapshot_id if current else None
    changed |= bool(report.snapshots_expired or report.files_deleted)
    if changed:
        report.status = "planned" if request.dry_run else "maintained"


def run_maintenance(
    request: MaintenanceRequest,
    catalog_config: CatalogConfig,
    on_table_done: ProgressCallback | None = None,
    *,
    executor: MaintenanceExecutor | None = None,
    run_id: str | None = None,
) -> MaintenanceReport:
    """Maintain every selected table, ``parallel`` at a time; a failed table does not stop the others.

    Raises:
        ConfigError: the selection names a namespace or table the catalog does not have.
    """
    started = time.perf_counter()
    report = MaintenanceReport(run_id=run_id or uuid.uuid4().hex, dry_run=request.dry_run)
    tables = resolve_iceberg_tables(open_catalog(catalog_config), request)
    with ThreadMaintenanceExecutor(request, catalog_config) as threads:
        chosen: MaintenanceExecutor = executor or threads

        def done(identifier: tuple[str, str], future: Future[TableMaintenanceReport]) -> None:
            try:
                result = future.result()
            except CutoverError as exc:  # transient, and its retries (if any) exhausted
                result = TableMaintenanceReport(".".join(identifier), status="failed", error=str(exc))
            report.tables.append(result)
            if on_table_done is not None:
                on_table_done(result, len(report.tables), len(tables))

        run_bounded(tables, chosen.maintain_table, request.parallel, done)
    report.tables.sort(key=lambda t: t.iceberg_identifier)
    report.seconds = time.perf_counter() - started
    return report


class ThreadMaintenanceExecutor:
    """Tables on ``parallel`` threads. A context manager."""

    def __init__(self, request: MaintenanceRequest, catalog_config: CatalogConfig) -> None:
        self.request = request
        self.catalog = open_catalog(catalog_config)
        self._pool = ThreadPoolExecutor(max_workers=request.parallel, thread_name_prefix="cutover-maintain")

    def __enter__(self) -> ThreadMaintenanceExecutor:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def maintain_table(self, identifier: tuple[str, str]) -> Future[TableMaintenanceReport]:
        return self._pool.submit(maintain_table, self.catalog, identifier, self.request)
