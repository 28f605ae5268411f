"""`cutover demo`: the whole cutover told on the embedded defaults, step by step (see :mod:`cutover.demo.story`).

Public surface: :class:`DemoConfig`, :func:`build_story` and :class:`StepOutcome` (the story),
:func:`open_demo_source` / :func:`stop_embedded_source` (its PostgreSQL), the :class:`DemoJobs` seam
(in-process :class:`LibraryJobs`; the Prefect variant lives in :mod:`cutover.orchestration.demo`), and the
sample application (:func:`seed_sample_schema`, :func:`create_orders`, shared with the benchmarks).
"""

from __future__ import annotations

from cutover.demo.jobs import DemoJobs, DemoStepError, JobOutcome, LibraryJobs, RollbackOutcome
from cutover.demo.sample import DayOfWrites, apply_day_of_writes, create_orders, seed_sample_schema
from cutover.demo.source import DEMO_DATABASE, DemoSource, embedded_running, open_demo_source, stop_embedded_source
from cutover.demo.story import DemoConfig, DemoStory, StepOutcome, build_story

__all__ = [
    "DEMO_DATABASE",
    "DayOfWrites",
    "DemoConfig",
    "DemoJobs",
    "DemoSource",
    "DemoStepError",
    "DemoStory",
    "JobOutcome",
    "LibraryJobs",
    "RollbackOutcome",
    "StepOutcome",
    "apply_day_of_writes",
    "build_story",
    "create_orders",
    "embedded_running",
    "open_demo_source",
    "seed_sample_schema",
    "stop_embedded_source",
]
