"""Flag semantics on the local store: registry validation, targeting, scoping, master switch, audit."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from featuremanagement import FeatureManager

from cutover.errors import ConfigError
from cutover.flags import (
    FlagChange,
    InvalidFlagValueError,
    MissingContextError,
    MutableFeatureFlagService,
    UnknownFlagError,
    reads_iceberg,
)
from cutover.flags.local_file import LocalFlagFile
from cutover.names import (
    ALL_FLAGS,
    FLAG_ICEBERG_PARTITIONING,
    FLAG_ICEBERG_ROLL_PERCENTAGE,
    FLAG_ICEBERG_TIME_TRAVEL,
    FLAG_USE_ICEBERG_BACKEND,
)

ENTITY = "sales.orders"
CONTEXTS = [f"tenant-{i}" for i in range(2000)]


def on_set(flags: MutableFeatureFlagService, entity: str | None = None) -> set[str]:
    return {c for c in CONTEXTS if flags.is_enabled(FLAG_ICEBERG_ROLL_PERCENTAGE, c, entity)}


def test_defaults_are_all_off(local_flags: MutableFeatureFlagService) -> None:
    states = local_flags.snapshot()
    assert [s.flag for s in states] == list(ALL_FLAGS)
    assert all(s.source == "default" and not s.value for s in states)
    assert local_flags.percentage() == 0
    assert not local_flags.is_enabled(FLAG_USE_ICEBERG_BACKEND)


def test_percentage_read_without_context_is_an_error(local_flags: MutableFeatureFlagService) -> None:
    local_flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 100, actor="t", reason="r")
    with pytest.raises(MissingContextError, match="evaluated per context"):
        local_flags.is_enabled(FLAG_ICEBERG_ROLL_PERCENTAGE)
    with pytest.raises(MissingContextError):
        reads_iceberg(local_flags, "")


def test_targeting_is_sticky_and_monotonic(local_flags: MutableFeatureFlagService) -> None:
    seen: list[set[str]] = []
    for percentage in (1, 5, 25, 50, 100):
        local_flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, percentage, actor="t", reason="step")
        first, again = on_set(local_flags), on_set(local_flags)
        assert first == again  # sticky: the same answer every time for the same context
        assert abs(len(first) / len(CONTEXTS) * 100 - percentage) < 3.5
        seen.append(first)
    for smaller, larger in itertools.pairwise(seen):
        assert smaller <= larger  # on at 5 % stays on at 25 %
    assert seen[-1] == set(CONTEXTS)


def test_bucketing_is_featuremanagement_targeting(local_flags: MutableFeatureFlagService, tmp_path: Path) -> None:
    """The file is plain Microsoft schema: a bare FeatureManager on it gives the same answers."""
    local_flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 25, actor="t", reason="r")
    bare = FeatureManager(json.loads((tmp_path / "flags.json").read_text()))
    assert on_set(local_flags) == {c for c in CONTEXTS if bare.is_enabled(FLAG_ICEBERG_ROLL_PERCENTAGE, c)}


def test_scoped_flag_beats_global(local_flags: MutableFeatureFlagService) -> None:
    local_flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 50, actor="t", reason="global")
    local_flags.enable(FLAG_ICEBERG_TIME_TRAVEL, actor="t", reason="global")
    local_flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 0, actor="t", reason="hold", entity=ENTITY)
    local_flags.disable(FLAG_ICEBERG_TIME_TRAVEL, actor="t", reason="hold", entity=ENTITY)

    assert local_flags.percentage(entity=ENTITY) == 0 and local_flags.percentage(entity="sales.items") == 50
    assert on_set(local_flags, ENTITY) == set()
    assert not local_flags.is_enabled(FLAG_ICEBERG_TIME_TRAVEL, entity=ENTITY)
    assert local_flags.is_enabled(FLAG_ICEBERG_TIME_TRAVEL, entity="sales.items")
    state = local_flags.state(FLAG_ICEBERG_ROLL_PERCENTAGE, "sales.items")
    assert (state.scope, state.source, state.describe()) == ("global", "global", "50%")
    scoped = [s for s in local_flags.snapshot() if s.scope == ENTITY]
    assert {(s.flag, s.describe()) for s in scoped} == {
        (FLAG_ICEBERG_ROLL_PERCENTAGE, "0%"),
        (FLAG_ICEBERG_TIME_TRAVEL, "off"),
    }


def test_master_switch_off_wins_over_everything(local_flags: MutableFeatureFlagService) -> None:
    local_flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 100, actor="t", reason="r", entity=ENTITY)
    local_flags.enable(FLAG_USE_ICEBERG_BACKEND, actor="t", reason="r", entity=ENTITY)
    assert not reads_iceberg(local_flags, "tenant-1", ENTITY)  # global master still off (default)

    local_flags.enable(FLAG_USE_ICEBERG_BACKEND, actor="t", reason="go")
    assert reads_iceberg(local_flags, "tenant-1", ENTITY)
    assert not reads_iceberg(local_flags, "tenant-1", "sales.items")  # global percentage is 0

    local_flags.disable(FLAG_USE_ICEBERG_BACKEND, actor="t", reason="pause one", entity=ENTITY)
    assert not reads_iceberg(local_flags, "tenant-1", ENTITY)


def test_writes_return_and_emit_audited_changes(tmp_path: Path) -> None:
    changes: list[FlagChange] = []
    flags = MutableFeatureFlagService(LocalFlagFile(tmp_path / "f.json"), audit=changes.append)
    first = flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 5, actor="ana", reason="stage 5", entity=ENTITY)
    second = flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 25, actor="bo", reason="stage 25", entity=ENTITY)
    again = flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 25, actor="bo", reason="retry", entity=ENTITY)
    assert changes == [first, second, again]
    assert (first.before, first.after, first.scope, first.actor) == (None, 5, ENTITY, "ana")
    assert (second.before, second.after, second.reason) == (5, 25, "stage 25")
    assert not again.changed and again.at.tzinfo is not None


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda f: f.set("nope", "on", actor="a", reason="r"), UnknownFlagError, "unknown flag 'nope'"),
        (lambda f: f.set(FLAG_ICEBERG_ROLL_PERCENTAGE, "101", actor="a", reason="r"), InvalidFlagValueError, "0-100"),
        (lambda f: f.set(FLAG_ICEBERG_ROLL_PERCENTAGE, "on", actor="a", reason="r"), InvalidFlagValueError, "whole number"),
        (lambda f: f.set(FLAG_ICEBERG_PARTITIONING, "maybe", actor="a", reason="r"), InvalidFlagValueError, "on or off"),
        (lambda f: f.enable(FLAG_ICEBERG_ROLL_PERCENTAGE, actor="a", reason="r"), InvalidFlagValueError, "set_percentage"),
        (lambda f: f.set_percentage(FLAG_USE_ICEBERG_BACKEND, 5, actor="a", reason="r"), InvalidFlagValueError, "boolean"),
        (lambda f: f.enable(FLAG_USE_ICEBERG_BACKEND, actor=" ", reason="r"), InvalidFlagValueError, "actor"),
        (lambda f: f.enable(FLAG_USE_ICEBERG_BACKEND, actor="a", reason=""), InvalidFlagValueError, "reason"),
        (lambda f: f.enable(FLAG_USE_ICEBERG_BACKEND, actor="a", reason="r", entity="orders"), InvalidFlagValueError, "<namespace>.<table>"),
        (lambda f: f.percentage(FLAG_USE_ICEBERG_BACKEND), InvalidFlagValueError, "no percentage"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_writing(
    local_flags: MutableFeatureFlagService, tmp_path: Path, call: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        call(local_flags)  # type: ignore[operator]
    assert isinstance(raised.value, ConfigError)
    assert not (tmp_path / "flags.json").exists()
