"""Auth, problem documents, flags, rollback with Prefect down, readiness — against real PostgreSQL and Iceberg."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cutover.config import CatalogConfig
from cutover.rollout import ControlStore
from tests.api.conftest import AUTH, make_client

PROBLEM = "application/problem+json"


def _protected_routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    routes = []
    for path, operations in spec["paths"].items():
        for method in operations:
            if path not in ("/healthz", "/readyz"):
                routes.append((method.upper(), path.replace("{job_id}", str(uuid.uuid4())).replace(
                    "{validation_id}", str(uuid.uuid4()))))  # fmt: skip
    return routes


def test_readyz_needs_no_token_for_kubernetes_probes(client: TestClient) -> None:
    assert client.get("/readyz").status_code == 200


def test_healthz_needs_no_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}])
def test_every_other_route_refuses_a_missing_or_wrong_token(client: TestClient, headers: dict[str, str]) -> None:
    routes = _protected_routes(client)
    assert len(routes) == 8  # the 8 operations of design §10
    for method, path in routes:
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["title"] == "Unauthorized"


def test_malformed_bodies_are_422_problem_documents(client: TestClient) -> None:
    missing = client.post("/api/v1/migration/rollback", headers=AUTH, json={"actor": "ana"})
    assert missing.status_code == 422 and missing.headers["content-type"] == PROBLEM
    body = missing.json()
    assert body["status"] == 422 and body["instance"] == "/api/v1/migration/rollback"
    assert [e["loc"] for e in body["errors"]] == [["body", "reason"]]

    broken = client.post(
        "/api/v1/migration/jobs", headers={**AUTH, "Content-Type": "application/json"}, content=b'{"tables": ['
    )
    assert broken.status_code == 422 and broken.json()["errors"][0]["type"] == "json_invalid"

    extra = client.post("/api/v1/migration/jobs", headers=AUTH, json={"mode": "truncate", "source_dsn": "x"})
    assert extra.status_code == 422
    assert {e["loc"][-1] for e in extra.json()["errors"]} == {"mode", "source_dsn"}

    bad_id = client.get("/api/v1/migration/jobs/not-a-uuid", headers=AUTH)
    assert bad_id.status_code == 422 and bad_id.headers["content-type"] == PROBLEM


def test_flags_are_read_and_written_with_actor_and_reason(client: TestClient, source_dsn: str) -> None:
    change = client.put(
        "/api/v1/migration/flags", headers=AUTH,
        json={"flag": "iceberg-roll-percentage", "value": 25, "actor": "ana", "reason": "stage 25", "entity": "lake.orders"},
    )  # fmt: skip
    assert change.status_code == 200, change.text
    assert change.json() | {"at": None} == {
        "flag": "iceberg-roll-percentage", "scope": "lake.orders", "before": None, "after": 25, "actor": "ana",
        "reason": "stage 25", "at": None, "changed": True,
    }  # fmt: skip
    states = client.get("/api/v1/migration/flags", headers=AUTH, params={"entity": "lake.orders"}).json()
    assert {"flag": "iceberg-roll-percentage", "scope": "lake.orders", "kind": "percentage", "value": 25,
            "source": "scoped"} in states  # fmt: skip
    audit = ControlStore(source_dsn).audit_log(entity="lake.orders", action="flag.set", limit=1)[0]
    assert (audit.actor, audit.reason) == ("ana", "stage 25")

    refused = client.put(
        "/api/v1/migration/flags", headers=AUTH,
        json={"flag": "iceberg-roll-percentage", "value": 250, "actor": "ana", "reason": "oops"},
    )  # fmt: skip
    assert refused.status_code == 400 and "0-100" in refused.json()["detail"]
    unknown = client.put(
        "/api/v1/migration/flags", headers=AUTH, json={"flag": "nope", "value": True, "actor": "a", "reason": "r"}
    )
    assert unknown.status_code == 400 and "unknown flag 'nope'" in unknown.json()["detail"]


def test_rollback_works_with_prefect_down(client: TestClient, source_dsn: str) -> None:
    for flag, value in (("use-iceberg-backend", "on"), ("iceberg-roll-percentage", 50)):
        client.put(
            "/api/v1/migration/flags", headers=AUTH,
            json={"flag": flag, "value": value, "actor": "ana", "reason": "rollout", "entity": "lake.orders"},
        )  # fmt: skip
    jobs = client.post("/api/v1/migration/jobs", headers=AUTH, json={})
    assert jobs.status_code == 503 and "Prefect" in jobs.json()["detail"]  # Prefect really is down

    response = client.post(
        "/api/v1/migration/rollback",
        headers=AUTH,
        json={"reason": "mismatches", "actor": "ops", "entity": "lake.orders"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True and body["audit_id"] > 0
    states = {s["flag"]: s["value"] for s in client.get(
        "/api/v1/migration/flags", headers=AUTH, params={"entity": "lake.orders"}).json()}  # fmt: skip
    assert states["use-iceberg-backend"] is False and states["iceberg-roll-percentage"] == 0
    again = client.post("/api/v1/migration/rollback", headers=AUTH, json={"reason": "again", "actor": "ops",
                                                                         "entity": "lake.orders"})  # fmt: skip
    assert again.json()["changed"] is False  # idempotent


def test_readyz_names_the_failed_dependency(
    client: TestClient, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    ready = client.get("/readyz", headers=AUTH)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"postgres": "ok", "catalog": "ok", "flags": "ok"}}

    broken_catalog = CatalogConfig(uri="http://127.0.0.1:9/catalog", warehouse=catalog_config.warehouse)
    (tmp_path / "corrupt.json").write_text("{not json")
    with make_client(source_dsn, broken_catalog, tmp_path / "corrupt.json") as broken:
        response = broken.get("/readyz", headers=AUTH)
    assert response.status_code == 503 and response.headers["content-type"] == PROBLEM
    checks = response.json()["checks"]
    assert checks["postgres"] == "ok"
    assert checks["catalog"] != "ok" and checks["flags"] != "ok"
    assert response.json()["detail"] == "not ready: catalog, flags"


def test_text_postgresql_cannot_store_is_refused_as_422(client: TestClient) -> None:
    """Found by the fuzzer: a NUL in the reason reached the audit INSERT and became a 500."""
    response = client.post("/api/v1/migration/rollback", headers=AUTH, json={"actor": "ops", "reason": "a\u0000b"})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "reason"]
