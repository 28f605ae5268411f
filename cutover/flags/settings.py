"""Flag settings from ``CUTOVER_*`` variables, built at the edge (CLI, API, flows) and passed in.

Kept in this package for now; they belong beside :class:`cutover.config.Settings` once that file is free
to change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cutover.config import DEFAULT_STATE_DIR

FlagsProviderName = Literal["local", "azure"]
"""``local``: a JSON file (the embedded default). ``azure``: Azure App Configuration."""

FLAGS_FILE_DEFAULT = DEFAULT_STATE_DIR / "flags.json"
REFRESH_SECONDS_DEFAULT = 30
STARTUP_TIMEOUT_SECONDS_DEFAULT = 10


class FlagSettings(BaseSettings):
    """Which flag store to open and how (env prefix ``CUTOVER_``).

    * ``CUTOVER_FLAGS_PROVIDER``: ``local`` (default) or ``azure``.
    * ``CUTOVER_FLAGS_FILE``: the local JSON file (default ``.cutover/flags.json``).
    * ``CUTOVER_APPCONFIG_CONNECTION_STRING``, or ``CUTOVER_APPCONFIG_ENDPOINT`` with DefaultAzureCredential.
    * ``CUTOVER_APPCONFIG_LABEL``: the label flags live under (default: no label).
    * ``CUTOVER_FLAGS_REFRESH_SECONDS``: how stale a reader may be (default 30, at least 1).
    * ``CUTOVER_FLAGS_STARTUP_TIMEOUT_SECONDS``: how long the first Azure load may take (default 10).
    """

    model_config = SettingsConfigDict(env_prefix="CUTOVER_", extra="ignore")

    flags_provider: FlagsProviderName = "local"
    flags_file: Path = FLAGS_FILE_DEFAULT
    appconfig_connection_string: SecretStr | None = None
    appconfig_endpoint: str | None = None
    appconfig_label: str | None = None
    flags_refresh_seconds: int = Field(default=REFRESH_SECONDS_DEFAULT, ge=1)
    flags_startup_timeout_seconds: int = Field(default=STARTUP_TIMEOUT_SECONDS_DEFAULT, ge=1)

    @model_validator(mode="after")
    def _azure_needs_a_connection(self) -> FlagSettings:
        if self.flags_provider == "azure":
            has_cs = (
                self.appconfig_connection_string is not None and self.appconfig_connection_string.get_secret_value()
            )
            if bool(has_cs) == bool(self.appconfig_endpoint):
                raise ValueError(
                    "CUTOVER_FLAGS_PROVIDER=azure needs exactly one of CUTOVER_APPCONFIG_CONNECTION_STRING "
                    "or CUTOVER_APPCONFIG_ENDPOINT"
                )
        return self
