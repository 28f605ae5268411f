"""The local JSON store: schema, atomic replace, concurrent writers (threads and processes), cached reads."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from cutover.flags import FlagStoreFormatError, MutableFeatureFlagService, registry
from cutover.flags.local_file import LocalFlagFile
from cutover.names import FLAG_ICEBERG_ROLL_PERCENTAGE, FLAG_USE_ICEBERG_BACKEND

ENTITIES = [f"ns.t{i}" for i in range(12)]


def _write_entities(path: str, entities: list[str]) -> None:
    flags = MutableFeatureFlagService(LocalFlagFile(Path(path)))
    for i, entity in enumerate(entities):
        flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, i + 1, actor=f"p{os.getpid()}", reason="x", entity=entity)


def test_file_is_microsoft_schema_and_cache_follows_other_writers(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    reader = MutableFeatureFlagService(LocalFlagFile(path))
    writer = MutableFeatureFlagService(LocalFlagFile(path))
    assert not reader.is_enabled(FLAG_USE_ICEBERG_BACKEND)
    writer.enable(FLAG_USE_ICEBERG_BACKEND, actor="w", reason="r")
    assert reader.is_enabled(FLAG_USE_ICEBERG_BACKEND)  # mtime/inode check: no refresh call needed
    document = json.loads(path.read_text())
    assert [d["id"] for d in document["feature_management"]["feature_flags"]] == [FLAG_USE_ICEBERG_BACKEND]
    assert not list(tmp_path.glob("*.tmp"))  # temp files never left behind


def test_concurrent_thread_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    chunks = [ENTITIES[i::4] for i in range(4)]
    threads = [threading.Thread(target=_write_entities, args=(str(path), chunk)) for chunk in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flags = MutableFeatureFlagService(LocalFlagFile(path))
    for chunk in chunks:
        for i, entity in enumerate(chunk):
            assert flags.percentage(entity=entity) == i + 1


def test_concurrent_process_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    chunks = [ENTITIES[i::3] for i in range(3)]
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write_entities, args=(str(path), chunk)) for chunk in chunks]
    for p in processes:
        p.start()
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    stored = json.loads(path.read_text())["feature_management"]["feature_flags"]
    assert sorted(d["id"] for d in stored) == sorted(f"{FLAG_ICEBERG_ROLL_PERCENTAGE}:{e}" for e in ENTITIES)


def _increment(path: str, times: int) -> None:
    store = LocalFlagFile(Path(path))
    stored_id = registry.flag_id(FLAG_ICEBERG_ROLL_PERCENTAGE)
    for _ in range(times):
        store.update(stored_id, lambda d: registry.definition(stored_id, (registry.value_of(d) if d else 0) + 1))


def test_concurrent_read_modify_write_increments_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_increment, args=(str(path), 20)) for _ in range(3)]
    threads = [threading.Thread(target=_increment, args=(str(path), 20)) for _ in range(2)]
    for worker in [*processes, *threads]:
        worker.start()
    for t in threads:
        t.join()
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    assert MutableFeatureFlagService(LocalFlagFile(path)).percentage() == 100  # 5 writers x 20, none lost


def test_a_writer_ignoring_the_lock_is_not_overwritten(tmp_path: Path) -> None:
    """Compare-and-swap: the file changes between our read and our replace → re-read and re-apply."""
    path = tmp_path / "flags.json"
    store = LocalFlagFile(path)
    flags = MutableFeatureFlagService(store)
    flags.enable(FLAG_USE_ICEBERG_BACKEND, actor="a", reason="r")
    intruded = False

    def change(current: dict | None) -> dict:
        nonlocal intruded
        if not intruded:  # someone edits the file by hand while we hold the lock
            intruded = True
            doc = json.loads(path.read_text())
            doc["feature_management"]["feature_flags"].append({"id": "iceberg-time-travel", "enabled": True})
            path.write_text(json.dumps(doc))
        return {"id": "iceberg-partitioning", "enabled": True, "conditions": {"client_filters": []}}

    store.update("iceberg-partitioning", change)
    ids = {d["id"] for d in json.loads(path.read_text())["feature_management"]["feature_flags"]}
    assert ids == {FLAG_USE_ICEBERG_BACKEND, "iceberg-time-travel", "iceberg-partitioning"}


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text('{"flags": []}')
    with pytest.raises(FlagStoreFormatError, match="feature_management"):
        MutableFeatureFlagService(LocalFlagFile(path)).is_enabled(FLAG_USE_ICEBERG_BACKEND)
