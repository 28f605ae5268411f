"""Open the flag service the settings name: the one place that chooses local or Azure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cutover.flags.service import FlagAuditSink, MutableFeatureFlagService, WritableFlagStore, no_audit
from cutover.flags.settings import FlagSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


def open_flag_store(settings: FlagSettings, *, credential: TokenCredential | None = None) -> WritableFlagStore:
    """The store for ``settings``; Azure packages are imported only when Azure is chosen.

    Raises:
        FlagAuthError / FlagProviderError: App Configuration refused us or could not be reached.
    """
    if settings.flags_provider == "azure":
        from cutover.flags.azure import AzureFlagStore

        secret = settings.appconfig_connection_string
        return AzureFlagStore(
            connection_string=secret.get_secret_value() if secret is not None else None,
            endpoint=settings.appconfig_endpoint,
            credential=credential,
            label=settings.appconfig_label,
            refresh_seconds=settings.flags_refresh_seconds,
            startup_timeout=settings.flags_startup_timeout_seconds,
        )
    from cutover.flags.local_file import LocalFlagFile

    return LocalFlagFile(settings.flags_file)


def open_flag_service(
    settings: FlagSettings, *, audit: FlagAuditSink = no_audit, credential: TokenCredential | None = None
) -> MutableFeatureFlagService:
    """A read/write flag service on the store ``settings`` choose (reads only? use it as a FeatureFlagService)."""
    return MutableFeatureFlagService(open_flag_store(settings, credential=credential), audit=audit)
