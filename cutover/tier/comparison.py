"""Measuring a query set on both backends: p50/p95 latency side by side and whether the results agree.

What the `compare-backends` flow and CLI present. Each query runs ``warmup`` times untimed (pool,
metadata and prepared-statement caches), then ``repeats`` times per backend, interleaved so a noisy
neighbour hurts both sides alike.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from cutover.errors import ConfigError, CutoverError, describe_validation
from cutover.tier.normalize import compare_rows

if TYPE_CHECKING:
    from cutover.tier.tier import DataTier


class QuerySpec(BaseModel):
    """One read of the query set; filters in their JSON form (see :func:`cutover.tier.parse_filter`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    entity: str = Field(pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
    filters: list[dict[str, Any]] = Field(default_factory=list)
    columns: list[str] | None = None
    order_by: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=0)

    def read_kwargs(self) -> dict[str, Any]:
        return {"filters": self.filters, "columns": self.columns, "order_by": self.order_by, "limit": self.limit}


class QuerySet(BaseModel):
    """``{"queries": [{"name": ..., "entity": ..., "filters": [...]}, ...]}`` (JSON or YAML)."""

    queries: list[QuerySpec] = Field(min_length=1)

    @classmethod
    def load(cls, path: Path) -> QuerySet:
        """Read a query-set file.

        Raises:
            ConfigError: unreadable, or not the shape above.
        """
        try:
            text = path.read_text()
            data = json.loads(text) if path.suffix == ".json" else _yaml(text)
            return cls.model_validate(data)
        except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            raise ConfigError(f"query set {path}: {describe_validation(exc)}") from exc


DEMO_NAMESPACE = "demo"
"""Where ``./scripts/demo`` migrates the sample schema (PostgreSQL schema ``public``)."""


def default_query_set(namespace: str = DEMO_NAMESPACE) -> QuerySet:
    """The reads of the README's table on the demo's ``orders`` (keys valid from 1 M rows up).

    One row by key, five keys, a 1,000-row key range, a non-key equality (PostgreSQL scans the table:
    only the key is indexed) and a top 100 by a timestamp under a filter.
    """
    entity = f"{namespace}.orders"
    return QuerySet.model_validate(
        {"queries": [
            {"name": "one row by key", "entity": entity, "filters": [{"column": "id", "op": "eq", "value": 123_457}]},
            {"name": "five keys", "entity": entity,
             "filters": [{"column": "id", "op": "in", "values": [11, 250_000, 500_000, 750_000, 999_000]}]},
            {"name": "key range of 1,000 rows", "entity": entity,
             "filters": [{"column": "id", "op": "range", "low": 500_000, "high": 501_000}]},
            {"name": "non-key equality", "entity": entity,
             "filters": [{"column": "customer_id", "op": "eq", "value": 4242}]},
            {"name": "top 100 by created_at under a filter", "entity": entity,
             "filters": [{"column": "status", "op": "eq", "value": "paid"}], "order_by": ["-created_at"],
             "limit": 100},
        ]}
    )  # fmt: skip


def write_report(results: list[QueryComparison], path: Path) -> None:
    """The ``--report-json`` file: one object per query (name, p50/p95 per backend in ms, ratio, rows, agree)."""
    path.write_text(json.dumps({"queries": [r.to_json() for r in results]}, indent=2) + "\n")


def _yaml(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


@dataclass(frozen=True)
class QueryComparison:
    """One query measured on both backends (a row of the report)."""

    name: str
    entity: str
    repeats: int
    postgres_p50_ms: float | None
    postgres_p95_ms: float | None
    iceberg_p50_ms: float | None
    iceberg_p95_ms: float | None
    postgres_rows: int | None
    iceberg_rows: int | None
    agree: bool
    detail: str

    @property
    def ratio_p50(self) -> float | None:
        """Iceberg p50 / PostgreSQL p50 (below 1: Iceberg is faster)."""
        if self.postgres_p50_ms and self.iceberg_p50_ms is not None:
            return self.iceberg_p50_ms / self.postgres_p50_ms
        return None

    def to_json(self) -> dict[str, object]:
        """The machine-readable row (``--report-json``)."""
        return {
            "name": self.name,
            "entity": self.entity,
            "postgres_p50_ms": self.postgres_p50_ms,
            "postgres_p95_ms": self.postgres_p95_ms,
            "iceberg_p50_ms": self.iceberg_p50_ms,
            "iceberg_p95_ms": self.iceberg_p95_ms,
            "ratio": round(self.ratio_p50, 3) if self.ratio_p50 is not None else None,
            "rows": self.postgres_rows if self.postgres_rows is not None else self.iceberg_rows,
            "agree": self.agree,
            "detail": self.detail,
        }

    def row(self) -> dict[str, object]:
        """The people-facing row (Prefect table artifact, CLI)."""
        data: dict[str, object] = asdict(self)
        data["iceberg/postgres p50"] = round(self.ratio_p50, 2) if self.ratio_p50 is not None else None
        return data


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile (0–1) by linear interpolation; the single value for one sample."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(q * 100) - 1]


def compare_query(tier: DataTier, spec: QuerySpec, *, repeats: int = 5, warmup: int = 1) -> QueryComparison:
    """Run ``spec`` on both backends and compare; a backend's failure is reported, not raised."""
    kwargs = spec.read_kwargs()
    timings: dict[str, list[float]] = {"postgres": [], "iceberg": []}
    results: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    for round_ in range(warmup + repeats):
        for backend in ("postgres", "iceberg"):
            if backend in errors:
                continue
            started = time.perf_counter()
            try:
                rows = tier.read_from(backend, spec.entity, **kwargs)
            except CutoverError as exc:
                errors[backend] = f"{backend}: {exc}"
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if round_ >= warmup:
                timings[backend].append(elapsed)
            results[backend] = rows

    def stat(backend: str, q: float) -> float | None:
        return round(percentile(timings[backend], q), 3) if timings[backend] else None

    if errors:
        agree, detail = False, "; ".join(errors.values())
    else:
        comparison = compare_rows(results["postgres"], results["iceberg"])
        agree, detail = comparison.equal, comparison.describe()
    return QueryComparison(
        name=spec.name,
        entity=spec.entity,
        repeats=repeats,
        postgres_p50_ms=stat("postgres", 0.5),
        postgres_p95_ms=stat("postgres", 0.95),
        iceberg_p50_ms=stat("iceberg", 0.5),
        iceberg_p95_ms=stat("iceberg", 0.95),
        postgres_rows=len(results["postgres"]) if "postgres" in results else None,
        iceberg_rows=len(results["iceberg"]) if "iceberg" in results else None,
        agree=agree,
        detail=detail,
    )
