"""Flags in Azure App Configuration: cached reads through the provider, ETag-guarded writes.

* **Reads**: ``azure-appconfiguration-provider``'s ``load(...)`` keeps every feature flag in memory; the
  store asks it to refresh at most once per ``refresh_seconds`` while flags are being read (page-ETag
  checks: an unchanged store costs one 304 per page). A refresh that fails keeps the last known flags
  and logs a warning — a read path must not fail because App Configuration blinked.
* **Writes**: ``AzureAppConfigurationClient.set_configuration_setting`` with ``If-Match: <etag>`` (or
  ``If-None-Match: *`` for a new flag). A 412 means someone else wrote first: re-read, re-apply, retry,
  a bounded number of times — a concurrent change is never overwritten.
* **Identity**: a connection string (HMAC), or an endpoint with a token credential
  (``DefaultAzureCredential`` by default: managed identity, workload identity, az login).

SDK errors are translated here, at the boundary, into :mod:`cutover.flags.errors` with the cause chained.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from cutover.flags.errors import FlagAuthError, FlagConflictError, FlagError, FlagProviderError
from cutover.flags.service import FlagDefinition

if TYPE_CHECKING:
    from azure.appconfiguration import AzureAppConfigurationClient
    from azure.appconfiguration.provider import AzureAppConfigurationProvider
    from azure.core.credentials import TokenCredential

logger = logging.getLogger(__name__)

FEATURE_FLAG_PREFIX: Final = ".appconfig.featureflag/"
FEATURE_FLAG_CONTENT_TYPE: Final = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"
REFRESH_SECONDS_DEFAULT: Final = 30
STARTUP_TIMEOUT_SECONDS_DEFAULT: Final = 10
MAX_ATTEMPTS_DEFAULT: Final = 5
_NO_SETTINGS_SELECTOR: Final = "cutover.flags.none"
"""The provider always loads plain key-values too; select one key nobody writes so it loads nothing extra."""


class AzureFlagStore:
    """A :class:`~cutover.flags.service.WritableFlagStore` on Azure App Configuration.

    Args:
        connection_string: ``Endpoint=https://...;Id=...;Secret=...`` (HMAC auth). Or:
        endpoint: ``https://<store>.azconfig.io`` with ``credential`` (default ``DefaultAzureCredential``).
        label: the label flags are read from and written to (None: the empty label).
        refresh_seconds: how stale a reader may be; also the provider's minimum refresh interval.
        startup_timeout: seconds ``load`` may spend before giving up.
        max_attempts: compare-and-swap attempts for one write.

    Raises:
        FlagAuthError: the credentials were refused.
        FlagProviderError: the store could not be reached within ``startup_timeout``.
    """

    def __init__(
        self,
        *,
        connection_string: str | None = None,
        endpoint: str | None = None,
        credential: TokenCredential | None = None,
        label: str | None = None,
        refresh_seconds: int = REFRESH_SECONDS_DEFAULT,
        startup_timeout: int = STARTUP_TIMEOUT_SECONDS_DEFAULT,
        max_attempts: int = MAX_ATTEMPTS_DEFAULT,
    ) -> None:
        from azure.appconfiguration import AzureAppConfigurationClient

        if bool(connection_string) == bool(endpoint):
            raise FlagProviderError("give exactly one of an App Configuration connection string or an endpoint")
        if refresh_seconds < 1:
            raise FlagProviderError(f"refresh_seconds must be at least 1, not {refresh_seconds}")
        self._label = label
        self._refresh_seconds = refresh_seconds
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        self.last_refresh_error: Exception | None = None
        if connection_string:
            self._client = AzureAppConfigurationClient.from_connection_string(connection_string, retry_total=2)
        else:
            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            self._client = AzureAppConfigurationClient(str(endpoint), credential, retry_total=2)
        self._provider = self._load(connection_string, endpoint, credential, startup_timeout)
        self._checked_at = time.monotonic()
        self._live = _LiveConfiguration(self)

    @property
    def configuration(self) -> Mapping[str, Any]:
        return self._live

    @property
    def client(self) -> AzureAppConfigurationClient:
        """The write client (exposed for tools that seed or inspect the store)."""
        return self._client

    def provider(self) -> AzureAppConfigurationProvider:
        """The provider, refreshed first if the interval has passed since the last check."""
        if time.monotonic() - self._checked_at >= min(1.0, self._refresh_seconds / 4):
            self.refresh()
        return self._provider

    def refresh(self) -> None:
        """Ask the provider to refresh; it contacts the service only when its interval has passed."""
        self._checked_at = time.monotonic()
        self._provider.refresh()

    def close(self) -> None:
        self._provider.close()
        self._client.close()

    def update(
        self, stored_id: str, change: Callable[[FlagDefinition | None], FlagDefinition]
    ) -> tuple[FlagDefinition | None, FlagDefinition]:
        """Read the flag, apply ``change``, write it back only if nobody changed it meanwhile (ETag).

        Raises:
            FlagConflictError: a 412 on every one of ``max_attempts`` attempts.
            FlagAuthError / FlagProviderError: refused or unreachable.
        """
        from azure.appconfiguration import FeatureFlagConfigurationSetting
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

        key = FEATURE_FLAG_PREFIX + stored_id
        for attempt in range(1, self._max_attempts + 1):
            with _translated(stored_id):
                try:
                    current = self._client.get_configuration_setting(key=key, label=self._label)
                except ResourceNotFoundError:
                    current = None
                before = _definition_of(current.value) if current is not None else None
                after = change(None if before is None else dict(before))
                if before is not None and after == before:
                    return before, before
                setting = FeatureFlagConfigurationSetting(stored_id, label=self._label)
                setting.value = json.dumps(after)
                try:
                    if current is None:
                        self._client.set_configuration_setting(setting, match_condition=MatchConditions.IfMissing)
                    else:
                        self._client.set_configuration_setting(
                            setting, etag=current.etag, match_condition=MatchConditions.IfNotModified
                        )
                except (ResourceModifiedError, ResourceExistsError) as exc:
                    logger.info("flag %s changed concurrently (attempt %d): re-reading (%s)", stored_id, attempt, exc)
                    time.sleep(min(0.05 * attempt, 0.5))
                    continue
                return before, after
        raise FlagConflictError(
            f"{stored_id}: App Configuration answered 412 (changed by another writer) {self._max_attempts} times",
            flag=stored_id,
        )

    def _load(
        self,
        connection_string: str | None,
        endpoint: str | None,
        credential: TokenCredential | None,
        startup_timeout: int,
    ) -> AzureAppConfigurationProvider:
        from azure.appconfiguration.provider import SettingSelector, load
        from azure.core.exceptions import ClientAuthenticationError

        label_filter = self._label if self._label is not None else "\0"
        options: dict[str, Any] = {
            "selects": [SettingSelector(key_filter=_NO_SETTINGS_SELECTOR, label_filter=label_filter)],
            "feature_flag_enabled": True,
            "feature_flag_selectors": [SettingSelector(key_filter="*", label_filter=label_filter)],
            "feature_flag_refresh_enabled": True,
            "refresh_interval": self._refresh_seconds,
            "startup_timeout": startup_timeout,
            "replica_discovery_enabled": False,
            "on_refresh_error": self._on_refresh_error,
            "retry_total": 2,
        }
        try:
            if connection_string:
                return load(connection_string=connection_string, **options)
            assert credential is not None, "the constructor supplies DefaultAzureCredential"
            return load(str(endpoint), credential, **options)
        except TimeoutError as exc:
            causes = [e for arg in exc.args if isinstance(arg, list) for e in arg]
            refused = next((e for e in causes if isinstance(e, ClientAuthenticationError)), None)
            if refused is not None:
                raise FlagAuthError(f"App Configuration refused the credentials: {_message(refused)}") from refused
            last = causes[-1] if causes else exc
            raise FlagProviderError(
                f"App Configuration could not be loaded within {startup_timeout} s: {_message(last)}"
            ) from last
        except Exception as exc:
            raise _translate(exc, None) from exc

    def _on_refresh_error(self, error: Exception) -> None:
        self.last_refresh_error = error
        logger.warning("App Configuration refresh failed, serving the last known flags: %s", _message(error))


class _LiveConfiguration(Mapping[str, Any]):
    """The mapping FeatureManager holds: each lookup goes through a (throttled) provider refresh."""

    def __init__(self, store: AzureFlagStore) -> None:
        self._store = store

    def __getitem__(self, key: str) -> Any:
        return self._store.provider()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.provider())

    def __len__(self) -> int:
        return len(self._store.provider())


def _definition_of(value: str | None) -> FlagDefinition:
    try:
        parsed = json.loads(value or "")
    except ValueError as exc:
        raise FlagProviderError(f"a stored feature flag is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise FlagProviderError(f"a stored feature flag is not a JSON object: {value!r}")
    return parsed


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__


def _translate(exc: Exception, flag: str | None) -> FlagError:
    from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

    if isinstance(exc, FlagError):
        return exc
    if isinstance(exc, ClientAuthenticationError) or (
        isinstance(exc, HttpResponseError) and exc.status_code in (401, 403)
    ):
        return FlagAuthError(f"App Configuration refused the credentials: {_message(exc)}", flag=flag)
    if isinstance(exc, AzureError | OSError | ValueError):
        return FlagProviderError(f"App Configuration request failed: {_message(exc)}", flag=flag)
    raise exc


@contextlib.contextmanager
def _translated(flag: str) -> Iterator[None]:
    """``with _translated(flag):`` — SDK errors leave as cutover errors, the cause chained."""
    try:
        yield
    except FlagError:
        raise
    except Exception as exc:
        raise _translate(exc, flag) from exc
