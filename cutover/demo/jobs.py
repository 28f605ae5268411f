"""Where the demo's jobs run: the library in this process, or deployment runs on a Prefect server.

The story (:mod:`cutover.demo.story`) is told once; a :class:`DemoJobs` decides how its migrate,
validate, sync, rollout-step and rollback jobs are carried out. :class:`LibraryJobs` calls the library
as the CLI commands do; the Prefect variant (:mod:`cutover.orchestration.demo`) starts the same jobs as
runs of the deployments in ``prefect.yaml``, so the artifacts, events and the rollback automation show
in the Prefect UI. Both hand back the reports' people-facing rows, which is all the story summarizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from cutover.errors import CutoverError

if TYPE_CHECKING:
    from cutover.config import CatalogConfig
    from cutover.load.runner import MigrationRequest
    from cutover.rollout import RolloutController
    from cutover.rollout.store import ControlStore
    from cutover.source.snapshot import SourceSnapshot
    from cutover.sync import SyncReport, SyncRequest
    from cutover.validation import ValidationReport, ValidationRequest

Rows = list[dict[str, object]]
"""A report's ``table_rows()``: one dict per table (also what a run's table artifact holds)."""


class DemoStepError(CutoverError):
    """A step of the demo did not turn out as the story needs; the message names the step and why."""


@dataclass(frozen=True)
class JobOutcome:
    """One job's result as the story sees it."""

    rows: Rows
    """The report's table rows."""
    validation: Rows = field(default_factory=list)
    """A sync's validation of what it committed, on its own snapshot."""
    run: str | None = None
    """The Prefect flow run's name (None in-process)."""


@dataclass(frozen=True)
class RollbackOutcome:
    """A rollback as its audit row records it."""

    audit_id: int
    actor: str
    reason: str
    run: str | None = None


class DemoJobs(Protocol):
    """How the story's jobs are carried out."""

    def migrate(self, request: MigrationRequest) -> JobOutcome:
        """The full load."""
        ...

    def validate(self, request: ValidationRequest) -> JobOutcome:
        """A validation, its verdicts recorded where the rollout gates read them."""
        ...

    def sync(self, request: SyncRequest) -> JobOutcome:
        """The incremental sync, validated on its own snapshot."""
        ...

    def rollout_step(self, entity: str, reason: str) -> str | None:
        """One rollout step of ``entity``; returns the run's name (None in-process).

        Raises:
            DemoStepError: the step was not applied (a gate failed).
        """
        ...

    def rollback(self, entity: str, reason: str, audit_after: int) -> RollbackOutcome:
        """The rollback that follows a failed validation of ``entity``: the operator's (in-process), or the
        automation's (Prefect), whose audit row is newer than ``audit_after``."""
        ...


class LibraryJobs:
    """The jobs as library calls in this process, on threads, as `cutover migrate|validate|sync|rollout|
    rollback` run them."""

    def __init__(self, catalog: CatalogConfig, controller: RolloutController, store: ControlStore, actor: str) -> None:
        self.catalog, self.controller, self.store, self.actor = catalog, controller, store, actor

    def migrate(self, request: MigrationRequest) -> JobOutcome:
        from cutover.load.runner import run_migration

        return JobOutcome(run_migration(request, self.catalog).table_rows())

    def validate(self, request: ValidationRequest) -> JobOutcome:
        from cutover.validation import validate_tables

        return JobOutcome(self._recorded(validate_tables(request, self.catalog)).table_rows())

    def sync(self, request: SyncRequest) -> JobOutcome:
        from cutover.sync import run_sync
        from cutover.validation import ValidationRequest, validate_tables

        validations: list[ValidationReport] = []

        def validate_in(snapshot: SourceSnapshot, report: SyncReport) -> None:
            if report.ok_tables():
                checked = ValidationRequest.of_selection(request, report.ok_tables()).model_copy(
                    update={"expectations_dir": None}
                )
                validations.append(validate_tables(checked, self.catalog, snapshot))

        report = run_sync(request, self.catalog, snapshot_hook=validate_in)
        validation = self._recorded(validations[0]).table_rows() if validations else []
        return JobOutcome(report.table_rows(), validation)

    def rollout_step(self, entity: str, reason: str) -> str | None:
        result = self.controller.step(entity, actor=self.actor, reason=reason)
        if not result.applied:
            raise DemoStepError(f"the rollout step of {entity} was refused: {result.reason}")
        return None

    def rollback(self, entity: str, reason: str, audit_after: int) -> RollbackOutcome:
        result = self.controller.rollback(actor=self.actor, reason=reason, entity=entity)
        if result.audit_id is None:
            raise DemoStepError(
                f"the rollback of {entity} turned the flags off but was not audited: {result.audit_error}"
            )
        return RollbackOutcome(result.audit_id, result.actor, result.reason)

    def _recorded(self, report: ValidationReport) -> ValidationReport:
        from cutover.rollout.store import record_validation_report

        record_validation_report(self.store, report)
        return report
