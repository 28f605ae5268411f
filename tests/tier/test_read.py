"""Both backends answer the same read with the same rows and the same Python types."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cutover.tier import DataTier, Eq, In, InvalidReadError, Range, compare_rows
from tests.tier.conftest import ENTITY


def _by_id(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda r: r["id"])  # type: ignore[arg-type,return-value]


def _typed(rows: list[dict[str, object]]) -> list[dict[str, tuple[str, object]]]:
    """Rows with each value paired with its type name; NaN made comparable."""
    return [
        {k: (type(v).__name__, "nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in rows
    ]


def test_tier_backends_return_identical_values_and_types(tier: DataTier) -> None:
    pg = _by_id(tier.read_from("postgres", ENTITY))
    ice = _by_id(tier.read_from("iceberg", ENTITY))
    assert len(pg) == len(ice) == 401
    assert _typed(pg) == _typed(ice)
    row = next(r for r in pg if r["id"] == 3)
    assert row["amount"] == Decimal("3.75") and isinstance(row["amount"], Decimal)
    assert row["created_at"] == datetime(2024, 1, 1, 1, tzinfo=UTC) and row["created_at"].tzinfo is UTC  # type: ignore[union-attr]
    assert row["doc"] == '{"g": 3, "even": false, "nested": [1, "two"]}'
    assert row["waited"] == {"months": 0, "days": -3, "microseconds": 4_500_000}
    assert isinstance(row["ref"], uuid.UUID)
    assert row["state"] == "new" and row["addr"] == "10.0.3.1/24"
    assert row["tags"] == ["t3", "x"] and row["payload"] == bytes.fromhex("00000003")
    empty = next(r for r in pg if r["id"] == 1000)
    assert {k for k, v in empty.items() if v is not None} == {"id", "customer_id"}


@pytest.mark.parametrize(
    "read",
    [
        {"filters": [Eq("customer_id", 3)], "columns": ["id", "amount", "doc"]},
        {"filters": [In("state", ("paid", "shipped")), Range("amount", Decimal("10"), Decimal("100"))]},
        {"filters": [Range("created_at", "2024-01-02T00:00:00+00:00", None)], "order_by": ["-amount"], "limit": 7},
        {"filters": {"note": None}, "columns": ["id"]},
        {"filters": [In("id", ())]},
    ],
    ids=["eq-projection", "in-and-range", "range-order-limit", "is-null", "empty-in"],
)
def test_tier_filters_projection_order_limit_agree(tier: DataTier, read: dict[str, object]) -> None:
    pg = tier.read_from("postgres", ENTITY, **read)
    ice = tier.read_from("iceberg", ENTITY, **read)
    assert compare_rows(pg, ice).equal, compare_rows(pg, ice).describe()
    if "limit" in read:
        assert _typed(pg) == _typed(ice)  # ordered reads agree in order too (primary key breaks ties)
        assert len(pg) == read["limit"]
        assert [r["amount"] for r in pg] == sorted((r["amount"] for r in pg), reverse=True)
    if "columns" in read:
        assert all(list(r) == read["columns"] for r in pg + ice)


def test_tier_refuses_unknown_columns_and_entities(tier: DataTier) -> None:
    with pytest.raises(InvalidReadError, match=r"no column\(s\) 'nope'"):
        tier.read(ENTITY, context="t1", columns=["id", "nope"])
    with pytest.raises(InvalidReadError, match=r"unknown entity lake\.missing"):
        tier.read("lake.missing", context="t1")
    with pytest.raises(InvalidReadError, match="unknown op 'like'"):
        tier.read(ENTITY, context="t1", filters=[{"column": "note", "op": "like", "value": "x%"}])


def test_compare_rows_is_order_insensitive_and_typed() -> None:
    a = [{"id": 1, "v": Decimal("1.50")}, {"id": 2, "v": Decimal("2")}]
    assert compare_rows(a, list(reversed(a))).equal
    assert compare_rows(a, [{"id": 1, "v": Decimal("1.5")}, {"id": 2, "v": Decimal("2.00")}]).equal
    drifted = compare_rows(a, [{"id": 1, "v": 1.5}, {"id": 2, "v": Decimal("2")}])
    assert (drifted.equal, drifted.only_left, drifted.only_right) == (False, 1, 1)
    assert not compare_rows(a, a[:1]).equal


def test_uuids_from_arrow_are_the_uuids_uuid_builds() -> None:
    import pickle

    import pyarrow as pa

    from cutover.tier.normalize import uuids

    values = [uuid.uuid4(), None, uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), None]
    storage = pa.array([v.bytes if v else None for v in values], pa.binary(16))
    for start in (0, 1, 2):
        built = uuids(storage.slice(start))
        assert built == values[start:] and [type(v) for v in built] == [type(v) for v in values[start:]]
    first = uuids(storage)[0]
    assert first is not None and str(first) == str(values[0]) and hash(first) == hash(values[0])
    assert pickle.loads(pickle.dumps(first)) == values[0] and first.is_safe == uuid.SafeUUID.unknown
