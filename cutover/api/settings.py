"""Settings of the migration controller API (env prefix ``CUTOVER_``), built by the edge and passed in."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MIGRATE_DEPLOYMENT_DEFAULT = "migrate/migrate"
VALIDATE_DEPLOYMENT_DEFAULT = "validate/validate"


class ApiSettings(BaseSettings):
    """What the API needs beyond :class:`~cutover.config.Settings` and :class:`~cutover.flags.FlagSettings`.

    * ``CUTOVER_API_TOKEN`` (required): the bearer token every route but ``/healthz`` demands.
    * ``CUTOVER_PREFECT_API_URL``: the Prefect server for jobs (default: Prefect's own ``PREFECT_API_URL``);
      without either, job routes answer 503 rather than starting a throwaway ephemeral server.
    """

    model_config = SettingsConfigDict(env_prefix="CUTOVER_", extra="ignore")

    api_token: SecretStr = Field(min_length=16)
    prefect_api_url: str | None = None
    migrate_deployment: str = MIGRATE_DEPLOYMENT_DEFAULT
    validate_deployment: str = VALIDATE_DEPLOYMENT_DEFAULT
    prefect_client_retries: int = Field(default=1, ge=0, le=10)
    """Retries of a failed Prefect call before the route answers 503 (Prefect's default of 5 backs off for seconds)."""
    readiness_timeout_seconds: float = Field(default=5.0, gt=0)
