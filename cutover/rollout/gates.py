"""The gates a rollout step must pass; a refused step says exactly which gate failed and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cutover.rollout.store import TierHealth, ValidationOutcome


@dataclass(frozen=True)
class GatePolicy:
    """Thresholds of the rollout gates (design §8)."""

    max_shadow_mismatch_rate: float = 0.001
    max_iceberg_error_rate: float = 0.001
    min_soak: timedelta = timedelta(hours=24)
    min_shadow_reads: int = 100
    """Leaving shadow needs this many compared reads: no evidence is not good evidence."""


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateReport:
    results: list[GateResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def failures(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        return "; ".join(f"{r.name}: {r.detail}" for r in (self.failures() or self.results))


def evaluate_gates(
    *,
    current_stage: str,
    validation: ValidationOutcome | None,
    health: TierHealth,
    last_change: datetime | None,
    policy: GatePolicy,
    now: datetime | None = None,
) -> GateReport:
    """Evaluate every gate (all of them, so the report names each failure, not only the first)."""
    now = now or datetime.now(UTC)
    results = []
    if validation is None:
        results.append(GateResult("validation", False, "no validation has run for this entity"))
    elif not validation.passed:
        results.append(
            GateResult("validation", False, f"latest validation {validation.run_id} failed: {validation.reason}")
        )
    else:
        results.append(GateResult("validation", True, f"latest validation passed ({validation.success_percent:.4f} %)"))

    if current_stage == "off":
        results.append(GateResult("shadow", True, "not yet in shadow"))
    elif current_stage == "shadow" and health.shadow_reads < policy.min_shadow_reads:
        results.append(
            GateResult("shadow", False, f"{health.shadow_reads} shadow reads compared, need {policy.min_shadow_reads}")
        )
    else:
        ok = health.mismatch_rate <= policy.max_shadow_mismatch_rate
        results.append(
            GateResult(
                "shadow", ok,
                f"mismatch rate {health.mismatch_rate:.4%} (max {policy.max_shadow_mismatch_rate:.4%})",
            )
        )  # fmt: skip

    ok = health.error_rate <= policy.max_iceberg_error_rate
    results.append(
        GateResult(
            "iceberg-errors", ok, f"error rate {health.error_rate:.4%} (max {policy.max_iceberg_error_rate:.4%})"
        )
    )

    if last_change is None or current_stage == "off":
        results.append(GateResult("soak", True, "no earlier step to soak"))
    else:
        soaked = now - last_change
        ok = soaked >= policy.min_soak
        results.append(GateResult("soak", ok, f"soaked {_human(soaked)} of {_human(policy.min_soak)}"))
    return GateReport(results)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"
