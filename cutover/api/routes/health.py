"""Liveness (no auth, no dependencies) and readiness (PostgreSQL, the catalog, the flag provider)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cutover.api.deps import ServicesDep
from cutover.api.models import Health, Readiness
from cutover.api.problems import problem, problem_responses
from cutover.api.services import Services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """The process answers: no authentication, touches nothing else."""
    return Health(status="ok")


def _check_postgres(services: Services) -> None:
    from cutover.source.connection import connect

    with connect(services.settings.control()) as conn:
        conn.execute("select 1")


def _check_catalog(services: Services) -> None:
    services.catalog().list_namespaces()


def _check_flags(services: Services) -> None:
    services.flags.refresh()
    services.flags.snapshot()


CHECKS = {"postgres": _check_postgres, "catalog": _check_catalog, "flags": _check_flags}


@router.get("/readyz", response_model=Readiness, responses=problem_responses(503))
def readyz(services: ServicesDep, request: Request) -> Readiness | JSONResponse:
    """PostgreSQL (control database), the Iceberg catalog and the flag provider answer; 503 names what failed.

    No authentication: Kubernetes probes cannot carry a secret. It reveals only which dependency is down.
    """
    timeout = services.api.readiness_timeout_seconds
    results: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        futures = {name: pool.submit(check, services) for name, check in CHECKS.items()}
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                results[name] = "ok"
            except FutureTimeout:
                results[name] = f"no answer within {timeout:g} s"
            except Exception as exc:  # a readiness probe reports every failure, whatever raised it
                results[name] = f"{type(exc).__name__}: {exc}"
    if all(v == "ok" for v in results.values()):
        return Readiness(status="ready", checks=results)
    failed = ", ".join(k for k, v in results.items() if v != "ok")
    return problem(503, f"not ready: {failed}", request, checks=results)
