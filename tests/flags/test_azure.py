"""The Azure store end to end: real SDK, provider and FeatureManager against the local App Configuration."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from azure.appconfiguration import AzureAppConfigurationClient, ConfigurationSetting
from azure.core import MatchConditions
from azure.core.exceptions import ClientAuthenticationError, ResourceModifiedError

from cutover.flags import FlagAuthError, FlagConflictError, FlagProviderError, MutableFeatureFlagService, registry
from cutover.flags.azure import FEATURE_FLAG_CONTENT_TYPE, FEATURE_FLAG_PREFIX, AzureFlagStore
from cutover.names import FLAG_ICEBERG_ROLL_PERCENTAGE, FLAG_USE_ICEBERG_BACKEND
from tests.flags.appconfig_server import AppConfigServer

ENTITY = "sales.orders"


def test_wrong_secret_is_refused_with_401(appconfig: AppConfigServer) -> None:
    wrong = appconfig.connection_string_with(base64.b64decode(base64.b64encode(b"not the secret")))
    client = AzureAppConfigurationClient.from_connection_string(wrong)
    with pytest.raises(ClientAuthenticationError):
        client.get_configuration_setting(key="anything")
    assert appconfig.statuses("GET", "/kv/") == [401]


def test_provider_with_wrong_secret_raises_flag_auth_error(appconfig: AppConfigServer) -> None:
    """Note: the provider sleeps until 5 s after start before re-raising a failed load (delay_failure)."""
    wrong = appconfig.connection_string_with(b"0" * 32)
    with pytest.raises(FlagAuthError, match="refused the credentials") as raised:
        AzureFlagStore(connection_string=wrong, startup_timeout=1)
    assert isinstance(raised.value.__cause__, ClientAuthenticationError)


def test_unreachable_store_is_a_provider_error() -> None:
    with pytest.raises(FlagProviderError):
        AzureFlagStore(connection_string="Endpoint=http://127.0.0.1:9;Id=x;Secret=" + "A" * 44, startup_timeout=1)


def test_paging_over_more_than_one_page(appconfig: AppConfigServer, azure_store: AzureFlagStore) -> None:
    for i in range(230):
        appconfig.put(
            f"{FEATURE_FLAG_PREFIX}other-app-{i:03}",
            '{"id": "x", "enabled": true}',
            content_type=FEATURE_FLAG_CONTENT_TYPE,
        )
    flags = MutableFeatureFlagService(azure_store)
    flags.enable(FLAG_USE_ICEBERG_BACKEND, actor="t", reason="r")  # sorts after every other-app-* key
    fresh = AzureFlagStore(connection_string=appconfig.connection_string, refresh_seconds=1, startup_timeout=2)
    try:
        loaded = fresh.configuration["feature_management"]["feature_flags"]
        assert len(loaded) == 231  # three pages of 100 followed through @nextLink
        assert MutableFeatureFlagService(fresh).is_enabled(FLAG_USE_ICEBERG_BACKEND)
    finally:
        fresh.close()
    pages = [
        r for r in appconfig.requests if r.method == "GET" and r.path.startswith("/kv?") and "featureflag" in r.path
    ]
    assert sum("after=" in r.path.lower() for r in pages) >= 2  # the continuation pages of one listing


def test_reader_sees_a_write_within_one_refresh_interval(
    appconfig: AppConfigServer, azure_store: AzureFlagStore
) -> None:
    reader = MutableFeatureFlagService(azure_store)
    writer = MutableFeatureFlagService(
        AzureFlagStore(connection_string=appconfig.connection_string, refresh_seconds=1, startup_timeout=2)
    )
    assert not reader.is_enabled(FLAG_USE_ICEBERG_BACKEND)
    writer.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 100, actor="w", reason="go", entity=ENTITY)
    writer.enable(FLAG_USE_ICEBERG_BACKEND, actor="w", reason="go")
    written = time.monotonic()
    while not reader.is_enabled(FLAG_USE_ICEBERG_BACKEND):
        assert time.monotonic() - written < 2.5, "reader did not see the change within one refresh interval"
        time.sleep(0.05)
    assert reader.is_enabled(FLAG_ICEBERG_ROLL_PERCENTAGE, "tenant-1", ENTITY)
    writer.close()


def test_unchanged_store_is_checked_with_304(appconfig: AppConfigServer, azure_store: AzureFlagStore) -> None:
    MutableFeatureFlagService(azure_store).enable(FLAG_USE_ICEBERG_BACKEND, actor="t", reason="r")
    time.sleep(1.1)
    azure_store.refresh()  # picks up our own write (200)
    before = len(appconfig.statuses("GET", "/kv?"))
    time.sleep(1.1)
    azure_store.refresh()  # nothing changed: the page ETag matches
    assert appconfig.statuses("GET", "/kv?")[before:] == [304]


def test_get_if_none_match_returns_none_when_unchanged(appconfig: AppConfigServer) -> None:
    client = AzureAppConfigurationClient.from_connection_string(appconfig.connection_string)
    stored = client.set_configuration_setting(ConfigurationSetting(key="k", value="v"))
    same = client.get_configuration_setting(key="k", etag=stored.etag, match_condition=MatchConditions.IfModified)
    assert same is None and appconfig.statuses("GET", "/kv/k")[-1] == 304
    with pytest.raises(ResourceModifiedError):
        client.set_configuration_setting(
            ConfigurationSetting(key="k", value="w", etag="stale"), match_condition=MatchConditions.IfNotModified
        )


def test_two_writers_racing_never_lose_an_update(appconfig: AppConfigServer) -> None:
    """Two stores increment the same flag concurrently (read-modify-write): the total must be exact."""
    stores = [
        AzureFlagStore(connection_string=appconfig.connection_string, startup_timeout=2, max_attempts=50)
        for _ in range(2)
    ]
    stored_id = f"{FLAG_ICEBERG_ROLL_PERCENTAGE}:{ENTITY}"

    def increment(current: dict | None) -> dict:
        value = 0 if current is None else registry.value_of(current)
        return registry.definition(stored_id, int(value) + 1)

    def run(store: AzureFlagStore) -> None:
        for _ in range(15):
            store.update(stored_id, increment)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    final = appconfig.items[(FEATURE_FLAG_PREFIX + stored_id, None)]
    assert registry.value_of(json.loads(final.value or "")) == 30  # no increment lost
    puts = appconfig.statuses("PUT", FEATURE_FLAG_PREFIX.join(["/kv/", ""]))
    assert puts.count(200) == 30 and 412 in puts  # they did collide, and the 412s were retried


def test_concurrent_change_between_read_and_write_is_reapplied(
    appconfig: AppConfigServer, azure_store: AzureFlagStore
) -> None:
    """The classic lost update: another writer lands between our GET and our PUT → 412 → re-read → retry."""
    other = AzureAppConfigurationClient.from_connection_string(appconfig.connection_string)
    flags = MutableFeatureFlagService(azure_store)
    flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 5, actor="a", reason="r")
    seen: list[object] = []

    def change(current: dict | None) -> dict:
        seen.append(
            None
            if current is None
            else current["conditions"]["client_filters"][0]["parameters"]["Audience"]["DefaultRolloutPercentage"]
        )
        if len(seen) == 1:  # someone else moves it to 25 % in between
            key = FEATURE_FLAG_PREFIX + FLAG_ICEBERG_ROLL_PERCENTAGE
            setting = other.get_configuration_setting(key=key)
            setting.value = setting.value.replace('"DefaultRolloutPercentage": 5', '"DefaultRolloutPercentage": 25')
            other.set_configuration_setting(setting)
        assert current is not None
        updated = dict(current)
        updated["description"] = "touched"
        return updated

    before, after = azure_store.update(FLAG_ICEBERG_ROLL_PERCENTAGE, change)
    assert seen == [5, 25]  # re-read after the 412 and re-applied on the new value
    assert appconfig.statuses("PUT", f"/kv/{FEATURE_FLAG_PREFIX}")[-2:] == [412, 200]
    assert after["description"] == "touched" and '"DefaultRolloutPercentage": 25' in str(
        appconfig.items[(FEATURE_FLAG_PREFIX + FLAG_ICEBERG_ROLL_PERCENTAGE, None)].value
    )
    assert before is not None


def test_conflict_on_every_attempt_raises(appconfig: AppConfigServer) -> None:
    store = AzureFlagStore(connection_string=appconfig.connection_string, startup_timeout=2, max_attempts=2)
    other = AzureAppConfigurationClient.from_connection_string(appconfig.connection_string)
    MutableFeatureFlagService(store).enable(FLAG_USE_ICEBERG_BACKEND, actor="a", reason="r")
    key = FEATURE_FLAG_PREFIX + FLAG_USE_ICEBERG_BACKEND

    def always_intrude(current: dict | None) -> dict:
        setting = other.get_configuration_setting(key=key)
        other.set_configuration_setting(setting)  # new ETag every time
        return {**(current or {}), "enabled": False}

    with pytest.raises(FlagConflictError, match="412"):
        store.update(FLAG_USE_ICEBERG_BACKEND, always_intrude)
    store.close()
