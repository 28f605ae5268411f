"""Counts the rollout gates read: Iceberg reads, shadow comparisons, mismatches, Iceberg errors, fallbacks.

Counted in memory per entity (a lock and a few integer additions per read) and flushed to the control
store (:meth:`ControlStore.record_tier_observation`) every ``interval`` seconds by a daemon thread, so the
request path never waits on the control database. A failed flush keeps the counts for the next one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields

logger = logging.getLogger(__name__)
FLUSH_SECONDS_DEFAULT = 30.0


@dataclass
class TierCounts:
    """One entity's counts since the last flush.

    ``reads`` counts Iceberg read attempts (served or shadow) — the denominator of the Iceberg error-rate
    gate; ``shadow_reads`` counts completed comparisons — the denominator of the mismatch-rate gate.
    """

    reads: int = 0
    shadow_reads: int = 0
    mismatches: int = 0
    iceberg_errors: int = 0
    fallbacks: int = 0
    shadow_dropped: int = 0
    """Shadow samples skipped because the comparison queue was full (the request path comes first)."""

    def add(self, other: TierCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


ObservationSink = Callable[..., None]
"""``ControlStore.record_tier_observation``'s signature: (entity=, reads=, shadow_reads=, mismatches=, iceberg_errors=)."""


class TierStats:
    """Thread-safe per-entity counters with a periodic flush to an observation sink."""

    def __init__(self, sink: ObservationSink | None = None, *, interval: float = FLUSH_SECONDS_DEFAULT) -> None:
        self._sink = sink
        self._interval = interval
        self._counts: dict[str, TierCounts] = {}
        self._totals: dict[str, TierCounts] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, entity: str, **increments: int) -> None:
        with self._lock:
            pending = self._counts.setdefault(entity, TierCounts())
            total = self._totals.setdefault(entity, TierCounts())
            for name, value in increments.items():
                setattr(pending, name, getattr(pending, name) + value)
                setattr(total, name, getattr(total, name) + value)

    def totals(self, entity: str) -> TierCounts:
        """Everything counted for ``entity`` since this tier started (flushed or not)."""
        with self._lock:
            return TierCounts(**vars(self._totals.get(entity, TierCounts())))

    def start(self) -> None:
        """Start the background flusher (no-op without a sink)."""
        if self._sink is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="cutover-tier-stats", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def flush(self) -> int:
        """Write pending counts to the sink; returns the number of entities written."""
        if self._sink is None:
            return 0
        with self._lock:
            pending, self._counts = self._counts, {}
        written = 0
        for entity, counts in pending.items():
            if counts.empty or (counts.reads == 0 and counts.shadow_reads == 0 and counts.iceberg_errors == 0):
                continue
            try:
                self._sink(
                    entity=entity, reads=counts.reads, shadow_reads=counts.shadow_reads,
                    mismatches=counts.mismatches, iceberg_errors=counts.iceberg_errors,
                )  # fmt: skip
                written += 1
            except Exception as exc:  # a background thread must survive a control-store outage
                logger.warning("tier observations for %s not flushed (kept for the next flush): %s", entity, exc)
                with self._lock:
                    self._counts.setdefault(entity, TierCounts()).add(counts)
        return written

    def close(self) -> None:
        """Stop the flusher and flush what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 5)
            self._thread = None
        self.flush()
