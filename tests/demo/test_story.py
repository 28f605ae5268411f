"""The demo's story end to end, in-process, on a real PostgreSQL database and a real Iceberg catalog: every
step's outcome, not only that it ran."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from cutover import names
from cutover.demo import DemoConfig, DemoSource, DemoStepError, StepOutcome, build_story
from cutover.demo.sample import untouched_order_id
from cutover.flags import FeatureFlagService
from cutover.flags.local_file import LocalFlagFile
from cutover.lake.catalog import open_catalog
from cutover.rollout import ControlStore
from cutover.validation import ValidationRequest, validate_tables

ROWS = 4_000


def _story(source_dsn: str, tmp_path: Path, seen: list[StepOutcome]):  # type: ignore[no-untyped-def]
    config = DemoConfig(state_dir=tmp_path / "state", rows=ROWS, reads=40)
    source = DemoSource(source_dsn, embedded=False, description="PostgreSQL (test)")
    return config, build_story(config, source, on_step=seen.append)


def test_the_demo_tells_the_whole_cutover(source_dsn: str, tmp_path: Path) -> None:
    seen: list[StepOutcome] = []
    config, story = _story(source_dsn, tmp_path, seen)
    steps = story.run()

    assert seen == steps
    assert [s.name for s in steps] == [
        "seed", "migrate", "validate", "app writes", "sync", "validate", "shadow", "rollout", "corrupt",
        "validate", "rollback", "restore", "validate",
    ]  # fmt: skip
    by_number = {s.number: s for s in steps}
    for number in (3, 6, 13):
        assert by_number[number].summary.startswith("4 of 4 tables match") and "100 %" in by_number[number].summary
    assert "new column channel" in by_number[4].summary
    assert "deleted" in by_number[5].summary and "channel" in by_number[5].summary
    assert "40 compared with Iceberg, 0 mismatches" in by_number[7].summary
    assert "shadow → 25 %" in by_number[8].summary

    # The planted corruption fails exactly one table, and the verdict names its key and column.
    key = untouched_order_id(ROWS)
    failed = by_number[10]
    assert failed.status == "failed as planted"
    assert f"demo.orders FAILED: 1 rows with different values (id={key}: amount)" in failed.summary
    assert "3 of 4 tables match" in failed.summary

    # Rolled back: the entity's flags are off, the audit trail says who and why.
    flags = FeatureFlagService(LocalFlagFile(config.flags_file))
    assert flags.state(names.FLAG_USE_ICEBERG_BACKEND, config.entity).value is False
    assert flags.percentage(entity=config.entity) == 0
    store = ControlStore(source_dsn)
    (rollback,) = store.audit_log(action="rollback", entity=config.entity)
    assert rollback.actor == "cutover-demo" and f"id={key}" in rollback.reason
    assert by_number[11].summary.startswith("demo.orders 25 % → off")
    assert f"audit #{rollback.id}" in by_number[11].summary

    # Restored to the last snapshot cutover wrote, as a new commit, audited; parity is whole again.
    (restore,) = store.audit_log(action=names.ACTION_RESTORE, entity=config.entity)
    table = open_catalog(config.catalog).load_table(("demo", "orders"))
    assert restore.after["snapshot_id"] == table.current_snapshot().snapshot_id  # type: ignore[union-attr]
    assert str(restore.after["restored_from"]) in by_number[12].summary
    request = ValidationRequest(source_dsn=source_dsn, namespace="demo", expectations_dir=None)
    report = validate_tables(request, config.catalog)
    assert report.ok and all(t.success_percentage == 100.0 for t in report.tables)
    assert sum(t.source_rows for t in report.tables) > ROWS


def test_a_step_that_goes_wrong_stops_the_story_and_is_named(source_dsn: str, tmp_path: Path) -> None:
    """The demo is a smoke test too: a copy that does not match must stop it, not be narrated as a success."""
    seen: list[StepOutcome] = []
    _, story = _story(source_dsn, tmp_path, seen)
    story.seed()
    story.migrate()
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        conn.execute("update products set price = price + 1 where sku = 'SKU-1'")  # behind the sync's back
    with pytest.raises(DemoStepError, match=r"products FAILED: 1 rows with different values \(sku=SKU-1: price\)"):
        story.validate_all()
