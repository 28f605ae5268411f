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

from cutover.errors import ConfigError, CutoverError
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
        except (OSError, ValueError) as exc:
            raise ConfigError(f"query set {path}: {exc}") from exc


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
