"""Schemathesis drives every operation of the OpenAPI document: no unexpected server error, documented answers.

The job routes talk to the session's real Prefect server but name deployments that do not exist (so the
fuzzer cannot start real runs): they answer their documented 503; everything else (flags, rollback,
readiness) runs against the real PostgreSQL, catalog and flag file and must never 5xx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")  # dev dependency: schemathesis>=4.3

from hypothesis import HealthCheck, given, settings  # noqa: E402

from cutover.config import CatalogConfig  # noqa: E402
from tests.api.conftest import AUTH, make_client  # noqa: E402

PREFECT_ROUTES = ("/api/v1/migration/jobs", "/api/v1/migration/validat")


@schemathesis.check
def no_unexpected_server_error(ctx: Any, response: Any, case: Any) -> None:
    """5xx only where documented and meant: 503 from the Prefect-backed routes while Prefect is down."""
    status = response.status_code
    if status >= 500 and not (status == 503 and case.path.startswith(PREFECT_ROUTES)):
        raise AssertionError(f"{case.method} {case.path} answered {status}: {response.text[:300]}")


@pytest.mark.slow
def test_api_fuzz_finds_no_server_error(
    prefect_api: str, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    client = make_client(
        source_dsn, catalog_config, tmp_path / "flags.json", prefect_api,
        migrate_deployment="cutover-fuzz/absent", validate_deployment="cutover-fuzz/absent",
    )  # fmt: skip
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    checks = [no_unexpected_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]  # fmt: skip
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case: Any) -> None:
            case.call_and_validate(
                headers=AUTH, checks=checks, excluded_checks=[schemathesis.checks.not_a_server_error]
            )

        exercise()
