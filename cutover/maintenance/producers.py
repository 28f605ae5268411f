"""Snapshot producers pyiceberg 0.12 lacks: a compaction's replace, a manifest rewrite, a restore.

pyiceberg has overwrite, append and delete producers, and its commit loop retries a conflicting commit
on the new head after re-validating (``_validate_concurrency`` over the commit window). These classes
plug into that loop:

* :class:`ReplaceFiles`: a REPLACE snapshot that removes rewritten data files and the delete files they
  carried and adds the compacted files. On a retry it fails when a concurrent commit removed one of the
  rewritten files or added deletes for one (the rows those deletes remove would come back), and else
  lands on the new head (a concurrent append stays).
* :class:`RewriteManifests`: a REPLACE snapshot holding the same live entries in fewer manifests.
* :class:`RestoreSnapshot`: an OVERWRITE snapshot whose manifests are exactly an earlier snapshot's.

Every one carries cutover's state (:func:`cutover.lake.state.carried_state`) into its summary, computed
again for the head a retry lands on.

Note:
    Built on pyiceberg internals (``_SnapshotProducer``, ``CommitWindow``, ``update.validate``), pinned
    by ``pyiceberg<0.13`` and exercised by ``tests/maintenance``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyiceberg.exceptions import ValidationException
from pyiceberg.manifest import DataFile, ManifestContent, ManifestEntry, ManifestEntryStatus, ManifestFile
from pyiceberg.table.snapshots import Operation, Snapshot, Summary
from pyiceberg.table.update.snapshot import _SnapshotProducer
from pyiceberg.table.update.validate import _validate_data_files_exist, _validate_no_new_deletes_for_data_files

from cutover import names
from cutover.lake.row_delta import RowDelta, _DeleteManifestWriter, _entry
from cutover.lake.state import carried_state

if TYPE_CHECKING:
    from pyiceberg.table import Transaction

_TOTALS = (
    "total-data-files",
    "total-delete-files",
    "total-records",
    "total-files-size",
    "total-position-deletes",
    "total-equality-deletes",
)


class _CarriesState:
    """Mixin: the summary holds cutover's state as of the parent, recomputed when a retry rebases."""

    _transaction: Transaction
    _parent_snapshot_id: int | None
    snapshot_properties: dict[str, str]
    _own_properties: dict[str, str]

    def _carry_state(self) -> None:
        state = carried_state(self._transaction.table_metadata, self._parent_snapshot_id)
        self.snapshot_properties = {**state, **self._own_properties}


class ReplaceFiles(_CarriesState, RowDelta):
    """Compaction's commit: rewritten data files (and their delete files) out, compacted files in."""

    def __init__(self, transaction: Transaction, properties: dict[str, str]) -> None:
        super().__init__(transaction, properties)
        self._operation = Operation.REPLACE
        self._own_properties = dict(properties)
        self._carry_state()

    def _refresh_for_retry(self) -> None:
        super()._refresh_for_retry()
        self._carry_state()

    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Any:
        self._operation = Operation.OVERWRITE  # pyiceberg's totals arithmetic knows no REPLACE
        try:
            summary = super()._summary(snapshot_properties)
        finally:
            self._operation = Operation.REPLACE
        return Summary(Operation.REPLACE, **summary.additional_properties)

    def _manifests(self) -> list[ManifestFile]:
        """pyiceberg writes added files into a manifest of the current spec; files of an older spec (a
        compacted partition of it) get a manifest of their own spec."""
        current = self._transaction.table_metadata.spec().spec_id
        everything = self._added_data_files
        older: dict[int, list[DataFile]] = {}
        for data_file in everything:
            if data_file.spec_id != current:
                older.setdefault(data_file.spec_id, []).append(data_file)
        self._added_data_files = [f for f in everything if f.spec_id == current]
        try:
            manifests: list[ManifestFile] = super()._manifests()
        finally:
            self._added_data_files = everything
        for spec_id, files in older.items():
            with self.new_manifest_writer(self.spec(spec_id)) as writer:
                for data_file in files:
                    writer.add_entry(
                        ManifestEntry.from_args(
                            status=ManifestEntryStatus.ADDED, snapshot_id=self._snapshot_id, data_file=data_file
                        )
                    )
            manifests.append(writer.to_manifest_file())
        return manifests

    def _validate_concurrency(self) -> None:
        """Fail when a commit since the start removed a rewritten file or added deletes for one."""
        window = self._commit_window
        if window is None or window.is_empty() or window.head is None:
            return
        table = self._transaction._table
        _validate_data_files_exist(table, window.head, self._deleted_data_files, window.base)
        _validate_no_new_deletes_for_data_files(table, window.head, None, self._deleted_data_files, window.base)


class _SameTotals(_CarriesState, _SnapshotProducer["_SameTotals"]):
    """A snapshot that adds or removes no rows by itself: its totals are set, not computed."""

    _totals_from: Snapshot | None = None

    def _deleted_entries(self) -> list[ManifestEntry]:
        return []

    def _refresh_for_retry(self) -> None:
        super()._refresh_for_retry()
        self._carry_state()

    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
        source = self._totals_from or self._transaction.table_metadata.snapshot_by_id(self._parent_snapshot_id or -1)
        totals = {k: v for k, v in (source.summary.additional_properties if source and source.summary else {}).items()
                  if k in _TOTALS}  # fmt: skip
        return Summary(self._operation, **totals, **(snapshot_properties or {}))


class RewriteManifests(_SameTotals):
    """The live entries of every manifest, rewritten into one data and one delete manifest per spec."""

    def __init__(self, transaction: Transaction, properties: dict[str, str]) -> None:
        super().__init__(Operation.REPLACE, transaction, transaction._table.io, snapshot_properties=properties)
        self._own_properties = dict(properties)
        self._carry_state()

    def _validate_concurrency(self) -> None:
        """A rebased rewrite re-reads the new head's manifests: nothing to check."""

    def _existing_manifests(self) -> list[ManifestFile]:
        snapshot = self._transaction.table_metadata.snapshot_by_name(self._target_branch or "main")
        if snapshot is None:
            return []
        groups: dict[tuple[int, ManifestContent], list[ManifestEntry]] = {}
        for manifest in snapshot.manifests(self._io):
            entries = manifest.fetch_manifest_entry(self._io, discard_deleted=True)
            groups.setdefault((manifest.partition_spec_id, manifest.content), []).extend(entries)
        rewritten = []
        for (spec_id, content), entries in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1].value)):
            if not entries:
                continue
            writer = (
                _DeleteManifestWriter(
                    self.spec(spec_id), self.schema(), self.new_manifest_output(), self._snapshot_id, self._compression
                )
                if content == ManifestContent.DELETES
                else self.new_manifest_writer(self.spec(spec_id))
            )
            with writer:
                for entry in entries:
                    writer.add_entry(_entry(ManifestEntryStatus.EXISTING, entry.snapshot_id, entry))
            rewritten.append(writer.to_manifest_file())
        return rewritten


class RestoreSnapshot(_SameTotals):
    """A new snapshot on top of the head whose files are exactly ``target``'s (its very manifests)."""

    def __init__(self, transaction: Transaction, target: Snapshot, properties: dict[str, str]) -> None:
        super().__init__(Operation.OVERWRITE, transaction, transaction._table.io, snapshot_properties=properties)
        self._target = target
        self._totals_from = target
        self._own_properties = {**properties, names.PROP_RESTORED_FROM: str(target.snapshot_id)}
        self._carry_state()

    def _carry_state(self) -> None:
        """The state is the restored snapshot's: the next sync starts from where it stood."""
        state = carried_state(self._transaction.table_metadata, self._target.snapshot_id)
        self.snapshot_properties = {**state, **self._own_properties}

    def _validate_concurrency(self) -> None:
        """A restore replaces whatever the head holds: a concurrent commit is undone as well."""
        if self._commit_window is not None and not self._commit_window.is_empty():
            raise ValidationException("the table changed while it was being restored; run the restore again")

    def _existing_manifests(self) -> list[ManifestFile]:
        return list(self._target.manifests(self._io))
