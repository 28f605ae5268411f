"""Rollout stages per entity and the flag values that express each one.

The flags are the single source of truth: a stage is *derived* from an entity's flags, never stored
beside them, so a rollback (flags off) is by definition stage ``off`` and no second record can disagree.

| stage    | use-iceberg-backend | iceberg-roll-percentage | reads served by                         |
|----------|---------------------|-------------------------|-----------------------------------------|
| off      | off                 | 0                       | PostgreSQL                              |
| shadow   | on                  | 0                       | PostgreSQL, Iceberg compared on a sample |
| 1 … 50   | on                  | 1 … 50                  | Iceberg for that share of contexts      |
| live     | on                  | 100                     | Iceberg                                 |
| complete | on                  | 100 (+ marked complete) | Iceberg; PostgreSQL reads retired       |
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PERCENT_STEPS: tuple[int, ...] = (1, 5, 25, 50)
Stage = str
"""``off``, ``shadow``, a percentage step as text (``"1"``, ``"5"`` …), ``live`` or ``complete``."""
APPROVAL_STAGES = frozenset({"live", "complete"})
"""Steps into these wait for a person's approval unless the run is told to proceed."""


@dataclass(frozen=True)
class StageFlags:
    """The flag values of one entity that define its stage."""

    master: bool
    percentage: int
    complete: bool = False


def stage_sequence(percent_steps: tuple[int, ...] = DEFAULT_PERCENT_STEPS) -> list[Stage]:
    """``off → shadow → 1 → 5 → 25 → 50 → live → complete`` with the configured percentage steps."""
    if list(percent_steps) != sorted(set(percent_steps)) or not all(0 < p < 100 for p in percent_steps):
        raise ValueError(f"percentage steps must rise strictly within 1..99, got {percent_steps}")
    return ["off", "shadow", *[str(p) for p in percent_steps], "live", "complete"]


def stage_of(state: StageFlags) -> Stage:
    """The stage an entity's flags express (a percentage between steps reads as that percentage)."""
    if not state.master:
        return "off"
    if state.percentage <= 0:
        return "shadow"
    if state.percentage >= 100:
        return "complete" if state.complete else "live"
    return str(state.percentage)


def flags_for(stage: Stage) -> StageFlags:
    """The flag values that put an entity into ``stage``."""
    match stage:
        case "off":
            return StageFlags(master=False, percentage=0)
        case "shadow":
            return StageFlags(master=True, percentage=0)
        case "live":
            return StageFlags(master=True, percentage=100)
        case "complete":
            return StageFlags(master=True, percentage=100, complete=True)
    percentage = int(stage)
    if not 0 < percentage < 100:
        raise ValueError(f"not a rollout stage: {stage!r}")
    return StageFlags(master=True, percentage=percentage)


def next_stage(current: Stage, sequence: list[Stage]) -> Stage | None:
    """The stage after ``current`` (None when complete); a percentage off the ladder moves to the next step up."""
    if current in sequence:
        index = sequence.index(current)
        return sequence[index + 1] if index + 1 < len(sequence) else None
    percentage = int(current)
    for stage in sequence:
        if stage.isdigit() and int(stage) > percentage:
            return stage
    return "live"
