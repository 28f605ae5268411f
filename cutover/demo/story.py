"""The whole cutover in one run: every step a library call (or a deployment run), each summed up in a line.

seed → migrate → validate (100 %) → a day of application writes → sync → validate → rollout of
``demo.orders`` to shadow, then a percentage, with the tier's reads served and compared → a planted
Iceberg corruption → the validation fails naming the key → rollback (flags off, audit row) → restore of
the last state cutover wrote → validate (100 % again).

A step whose outcome is not the one the story needs stops it with :class:`DemoStepError`, naming the
step: the demo is also a smoke test of the whole product.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cutover import names
from cutover.config import CatalogConfig, default_catalog
from cutover.demo import summary
from cutover.demo.jobs import DemoJobs, DemoStepError
from cutover.demo.sample import apply_day_of_writes, seed_sample_schema, untouched_order_id

if TYPE_CHECKING:
    from cutover.demo.corruption import Corruption
    from cutover.demo.jobs import Rows
    from cutover.demo.source import DemoSource
    from cutover.flags import MutableFeatureFlagService
    from cutover.rollout import GatePolicy, RolloutController
    from cutover.rollout.store import ControlStore
    from cutover.tier import DataTier
    from cutover.validation import ValidationRequest

StepStatus = Literal["ok", "failed as planted"]


@dataclass(frozen=True)
class StepOutcome:
    """One step of the story: its name, a one-line summary, how long it took."""

    number: int
    name: str
    summary: str
    seconds: float
    status: StepStatus = "ok"
    run: str | None = None
    """The Prefect flow run that carried the step (None in-process)."""


@dataclass(frozen=True)
class DemoConfig:
    """What the demo works on; everything lives under ``state_dir`` (the embedded defaults)."""

    state_dir: Path
    rows: int = 1_000_000
    """Rows of ``orders`` (the other tables follow it: order lines for up to 200 k orders)."""
    reads: int = 200
    """Application reads per rollout stage."""
    namespace: str = "demo"
    schema: str = "public"
    table: str = "orders"
    """The entity rolled out, corrupted and restored."""
    percent_steps: tuple[int, ...] = (25, 50)
    actor: str = "cutover-demo"

    @property
    def entity(self) -> str:
        return f"{self.namespace}.{self.table}"

    @property
    def catalog(self) -> CatalogConfig:
        return default_catalog(self.state_dir)

    @property
    def flags_file(self) -> Path:
        return self.state_dir.resolve() / "flags.json"

    def exports(self, dsn: str) -> dict[str, str]:
        """The ``CUTOVER_*`` settings that point every other command at the demo's source, catalog and flags."""
        import json

        catalog = self.catalog
        return {
            "CUTOVER_SOURCE_DSN": dsn,
            "CUTOVER_STATE_DIR": str(self.state_dir.resolve()),
            "CUTOVER_CATALOG_URI": catalog.uri,
            "CUTOVER_WAREHOUSE": catalog.warehouse,
            "CUTOVER_NAMESPACE": self.namespace,
            "CUTOVER_FLAGS_FILE": str(self.flags_file),
            "CUTOVER_SYNC_CURSOR": "updated_at",
            "CUTOVER_TIER_SCHEMAS": json.dumps({self.namespace: self.schema}),
        }

    def gate_policy(self) -> GatePolicy:
        """The production gates, except the soak time (24 h) and the evidence needed to leave shadow."""
        from cutover.rollout import GatePolicy

        return GatePolicy(min_soak=timedelta(0), min_shadow_reads=max(1, self.reads // 2))


OnStep = Callable[[StepOutcome], None]
OnBegin = Callable[[int, str], None]
"""``(number, name)`` as a step starts (a progress display)."""


def _ignore(*args: object) -> None:
    """The default of the callbacks."""


@dataclass
class DemoStory:
    """The story's state between steps; :meth:`run` tells it, calling ``on_step`` after each step."""

    config: DemoConfig
    source: DemoSource
    jobs: DemoJobs
    controller: RolloutController
    flags: MutableFeatureFlagService
    store: ControlStore
    on_step: OnStep = _ignore
    on_begin: OnBegin = _ignore
    steps: list[StepOutcome] = field(default_factory=list)
    _synced_validation: Rows = field(default_factory=list, init=False)
    _corruption: Corruption | None = field(default=None, init=False)
    _failure: str = field(default="", init=False)
    _audit_before: int = field(default=0, init=False)

    def run(self) -> list[StepOutcome]:
        self._step("seed", self.seed)
        self._step("migrate", self.migrate)
        self._step("validate", self.validate_all)
        self._step("app writes", self.app_writes)
        self._step("sync", self.sync)
        self._step("validate", self.validate_synced)
        tier = self._open_tier()
        try:
            self._step("shadow", lambda: self.shadow(tier))
            self._step("rollout", lambda: self.percentage(tier))
            self._step("corrupt", self.corrupt)
            self._step("validate", self.validate_corrupted, status="failed as planted")
            self._step("rollback", lambda: self.rollback(tier))
        finally:
            tier.close()
        self._step("restore", self.restore)
        self._step("validate", self.validate_all)
        return self.steps

    # --- the steps: each returns (summary, run name) ------------------------------------------------

    def seed(self) -> tuple[str, None]:
        seed_sample_schema(self.source.dsn, self.config.rows)
        self._reset_entity_flags()
        return f"{self.source.description}: 4 tables, {self.config.rows:,} orders", None

    def migrate(self) -> tuple[str, str | None]:
        from cutover.load.runner import MigrationRequest

        request = MigrationRequest(
            source_dsn=self.source.dsn, schema=self.config.schema, namespace=self.config.namespace, mode="replace"
        )
        job = self.jobs.migrate(request)
        if not job.rows or any(r.get("status") != "migrated" for r in job.rows):
            raise DemoStepError(f"not every table migrated: {job.rows}")
        return summary.migrated(job.rows), job.run

    def validate_all(self) -> tuple[str, str | None]:
        job = self.jobs.validate(self._validation_request())
        if not summary.all_passed(job.rows):
            raise DemoStepError(f"the copy should match the source: {summary.validated(job.rows)}")
        return summary.validated(job.rows), job.run

    def app_writes(self) -> tuple[str, None]:
        return summary.wrote(apply_day_of_writes(self.source.dsn, self.config.rows)), None

    def sync(self) -> tuple[str, str | None]:
        from cutover.sync import SyncRequest

        request = SyncRequest(
            source_dsn=self.source.dsn, schema=self.config.schema, namespace=self.config.namespace, cursor="updated_at"
        )
        job = self.jobs.sync(request)
        if any(r.get("status") not in ("synced", "unchanged") for r in job.rows):
            raise DemoStepError(f"not every table synced: {job.rows}")
        self._synced_validation = job.validation
        return summary.synced(job.rows), job.run

    def validate_synced(self) -> tuple[str, None]:
        """The sync's own validation, on the snapshot it committed from."""
        rows = self._synced_validation
        if not summary.all_passed(rows):
            raise DemoStepError(f"the synced copy should match the source: {summary.validated(rows)}")
        return summary.validated(rows) + " (by the sync, on its snapshot)", None

    def shadow(self, tier: DataTier) -> tuple[str, str | None]:
        from cutover.demo.reads import application_reads, sample_keys

        # What an operator does once before the first entity: arm the global master switch.
        self.flags.enable(
            names.FLAG_USE_ICEBERG_BACKEND, actor=self.config.actor, reason="rollout of the first entity starts"
        )
        run = self.jobs.rollout_step(self.config.entity, "shadow reads")
        self._expect_stage("shadow")
        reads = application_reads(tier, self.config.entity, sample_keys(self.config.rows, self.config.reads))
        if reads.compared != reads.reads or reads.mismatches:
            raise DemoStepError(f"every shadow read should be compared and agree: {reads}")
        return summary.shadowed(self.config.entity, reads), run

    def percentage(self, tier: DataTier) -> tuple[str, str | None]:
        from cutover.demo.reads import application_reads, sample_keys

        run = self.jobs.rollout_step(self.config.entity, "shadow reads agree")
        stage = self._expect_stage(str(self.config.percent_steps[0]))
        reads = application_reads(tier, self.config.entity, sample_keys(self.config.rows, self.config.reads))
        if not reads.by_iceberg or reads.iceberg_errors or reads.fallbacks:
            raise DemoStepError(f"the tenants at {stage} % should be served by Iceberg without errors: {reads}")
        return summary.rolled_out(self.config.entity, stage, reads), run

    def corrupt(self) -> tuple[str, None]:
        from cutover.demo.corruption import plant_corruption
        from cutover.lake.catalog import open_catalog

        table = open_catalog(self.config.catalog).load_table((self.config.namespace, self.config.table))
        self._corruption = plant_corruption(table, "id", untouched_order_id(self.config.rows), "amount")
        return summary.corrupted(self._corruption), None

    def validate_corrupted(self) -> tuple[str, str | None]:
        self._audit_before = self._newest_audit_id()
        job = self.jobs.validate(self._validation_request())
        failing = [r for r in job.rows if r.get("status") != "passed"]
        assert self._corruption is not None
        key = f"{self._corruption.key_column}={self._corruption.key}"
        if [r.get("iceberg") for r in failing] != [self.config.entity] or key not in str(failing[0].get("reason")):
            raise DemoStepError(f"only {self.config.entity} should fail, naming {key}: {summary.validated(job.rows)}")
        self._failure = str(failing[0].get("reason"))
        return summary.validated(job.rows), job.run

    def rollback(self, tier: DataTier) -> tuple[str, str | None]:
        before = self.controller.stage(self.config.entity)
        done = self.jobs.rollback(self.config.entity, f"validation failed: {self._failure}", self._audit_before)
        stage = self._expect_stage("off")
        served = tier.read_result(self.config.entity, context="tenant-0", filters={"id": 1}).served_by
        return (
            f"{self.config.entity} {summary.stage(before)} → {stage}: flags off, audit #{done.audit_id} by {done.actor}; "
            f"reads served by {served}"
        ), done.run

    def restore(self) -> tuple[str, None]:
        from cutover.demo.corruption import last_snapshot_by_cutover
        from cutover.lake.catalog import open_catalog
        from cutover.maintenance import restore_table

        table = open_catalog(self.config.catalog).load_table((self.config.namespace, self.config.table))
        good = last_snapshot_by_cutover(table)
        if self._corruption is None or good.snapshot_id != self._corruption.clean_snapshot_id:
            raise DemoStepError(f"the last snapshot cutover wrote ({good.snapshot_id}) should be the one corrupted")
        result = restore_table(
            table, snapshot_id=good.snapshot_id, reason=f"undo the corruption: {self._failure}",
            actor=self.config.actor, audit=self.store,
        )  # fmt: skip
        return (
            f"{self.config.entity} back to snapshot {good.snapshot_id}, the last one cutover wrote "
            f"(audit #{result.audit_id})"
        ), None

    # --- helpers --------------------------------------------------------------------------------------

    def _step(self, name: str, action: Callable[[], tuple[str, str | None]], status: StepStatus = "ok") -> None:
        self.on_begin(len(self.steps) + 1, name)
        started = time.perf_counter()
        try:
            text, run = action()
        except DemoStepError as exc:
            raise DemoStepError(f"step {len(self.steps) + 1} ({name}): {exc}") from exc
        outcome = StepOutcome(len(self.steps) + 1, name, text, time.perf_counter() - started, status, run)
        self.steps.append(outcome)
        self.on_step(outcome)

    def _validation_request(self) -> ValidationRequest:
        from cutover.validation import ValidationRequest

        return ValidationRequest(
            source_dsn=self.source.dsn, schema=self.config.schema, namespace=self.config.namespace,
            expectations_dir=None,
        )  # fmt: skip

    def _expect_stage(self, wanted: str) -> str:
        stage = self.controller.stage(self.config.entity)
        if stage != wanted:
            raise DemoStepError(f"{self.config.entity} should be at stage {wanted}, is at {stage}")
        return stage

    def _newest_audit_id(self) -> int:
        newest = self.store.audit_log(limit=1)
        return newest[0].id if newest else 0

    def _reset_entity_flags(self) -> None:
        """A rerun starts at stage off, whatever an earlier run left in the state directory's flag file."""
        from cutover.flags import MutableFeatureFlagService
        from cutover.flags.local_file import LocalFlagFile

        quiet = MutableFeatureFlagService(LocalFlagFile(self.config.flags_file))
        for flag in names.ALL_FLAGS:
            quiet.disable(
                flag, actor=self.config.actor, reason="the demo starts at stage off", entity=self.config.entity
            )

    def _open_tier(self) -> DataTier:
        from cutover.demo.reads import open_demo_tier

        return open_demo_tier(
            self.source.dsn, self.config.catalog, self.flags, self.store, namespace=self.config.namespace,
            schema=self.config.schema, reads=self.config.reads,
        )  # fmt: skip


def build_story(
    config: DemoConfig,
    source: DemoSource,
    jobs: DemoJobs | None = None,
    *,
    on_step: OnStep = _ignore,
    on_begin: OnBegin = _ignore,
) -> DemoStory:
    """The story on ``source``, its control store in the demo database, flags in the state directory's
    file (every write audited), the demo's gates; jobs in-process unless ``jobs`` says otherwise."""
    from cutover.demo.jobs import LibraryJobs
    from cutover.flags import MutableFeatureFlagService
    from cutover.flags.local_file import LocalFlagFile
    from cutover.rollout import ControlStore, RolloutController
    from cutover.rollout.store import FlagChangeAudit

    store = ControlStore(source.dsn)
    flags = MutableFeatureFlagService(LocalFlagFile(config.flags_file), audit=FlagChangeAudit(store))
    controller = RolloutController(flags, store, config.gate_policy(), percent_steps=config.percent_steps)
    jobs = jobs or LibraryJobs(config.catalog, controller, store, config.actor)
    return DemoStory(config, source, jobs, controller, flags, store, on_step, on_begin)
