"""Thin Prefect task over :func:`cutover.tier.comparison.compare_query`."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from cutover.tier import DataTier
from cutover.tier.comparison import QueryComparison, QuerySpec, compare_query


@task(cache_policy=NO_CACHE, task_run_name="compare-{spec.name}")
def compare_query_task(tier: DataTier, spec: QuerySpec, repeats: int) -> QueryComparison:
    """Measure one query on both backends; never retried (a retry would skew the latency figures)."""
    return compare_query(tier, spec, repeats=repeats)
