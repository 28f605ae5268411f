"""Request and response bodies of the API (one place, so the OpenAPI document names each shape once)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cutover.config import LoadMode

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
"""Free text stored in PostgreSQL (audit trail, flow parameters): PostgreSQL text cannot hold NUL, so refuse it here (422)."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]


class MigrationJobRequest(BaseModel):
    """Overrides of the `migrate` deployment's request; omitted fields keep the deployment's values."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    tables: list[Name] | None = Field(default=None, description="Table names or globs; empty: every table.")
    exclude: list[Name] | None = None
    schema_name: Name | None = Field(default=None, alias="schema")
    namespace: Name | None = None
    mode: LoadMode | None = None
    parallel: int | None = Field(default=None, ge=1, le=64)
    batch_rows: int | None = Field(default=None, gt=0)


class ValidationJobRequest(BaseModel):
    """Overrides of the `validate` deployment's request."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    tables: list[Name] | None = None
    exclude: list[Name] | None = None
    schema_name: Name | None = Field(default=None, alias="schema")
    namespace: Name | None = None
    max_differences: int | None = Field(default=None, ge=0)


class TableCount(BaseModel):
    model_config = ConfigDict(extra="allow")

    table: str | None = None
    status: str | None = None
    rows: int | None = None


class Job(BaseModel):
    """A migration or validation job: a Prefect flow run."""

    id: UUID
    deployment: str
    state: str = Field(description="Prefect state name, e.g. Scheduled, Running, Completed, Failed.")
    state_type: str = Field(description="Prefect state type: SCHEDULED, PENDING, RUNNING, COMPLETED, ...")
    finished: bool
    message: str | None = None
    created: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    progress: float | None = Field(default=None, description="Percent of batches committed (migrations).")
    tables: list[TableCount] = Field(default_factory=list, description="Per-table counts from the run's report.")


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(description="Goes to the audit trail and the alert.")
    actor: Name
    entity: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


class FlagChangeOut(BaseModel):
    flag: str
    scope: str
    before: bool | int | None
    after: bool | int
    actor: str
    reason: str
    at: datetime
    changed: bool


class RollbackOut(BaseModel):
    entity: str | None
    actor: str
    reason: str
    audit_id: int | None = Field(description="The rollback's audit row; null when the audit trail was unreachable.")
    audit_error: str | None = Field(
        default=None, description="Why the audit trail was not written (the flags are off all the same)."
    )
    changed: bool
    changes: list[FlagChangeOut]


class FlagStateOut(BaseModel):
    flag: str
    scope: str = Field(description="An entity (namespace.table) or 'global'.")
    kind: Literal["boolean", "percentage"]
    value: bool | int
    source: Literal["scoped", "global", "default"]


class FlagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flag: Name = Field(description="A registered flag name, e.g. use-iceberg-backend.")
    value: bool | int | Name = Field(description="on/off (or true/false) for booleans, 0-100 for the percentage.")
    actor: Name
    reason: Text
    entity: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="Each dependency: 'ok' or why it failed.")


def as_dict(value: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(value)
