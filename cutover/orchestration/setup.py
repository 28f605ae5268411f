"""`cutover prefect setup`: everything the deployments expect to exist on a Prefect server, made idempotently.

The `cutover-source` block, the `cutover-process` work pool and the global concurrency limits; with
``azure``, prefect-azure's blob-storage credentials block for the code container (``cutover-code``), the
Azure Container Instances pool and the AKS pool that `infra/prefect/prefect.azure.yaml` deploys to.
Existing objects are updated where the command holds their truth (blocks) and kept otherwise (pools,
limits: an operator may have tuned them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from cutover import names
from cutover.errors import ConfigError, CutoverError
from cutover.orchestration.limits import DEFAULT_LIMITS, ensure_concurrency_limits
from cutover.orchestration.source_block import save_source_block

K8S_WORKER_VALUES = Path(__file__).resolve().parents[2] / "infra" / "k8s" / "prefect" / "worker-values.yaml"
"""The Helm values of the AKS worker; its base job template is the `cutover-k8s` pool's."""

Outcome = Literal["created", "updated", "kept", "skipped"]


@dataclass(frozen=True)
class AzureCode:
    """Where the Azure deployments push their code: a connection string, or an account URL (workload identity)."""

    connection_string: str | None = None
    account_url: str | None = None

    def __post_init__(self) -> None:
        if not (self.connection_string or self.account_url):
            raise ConfigError(
                "--azure needs the code container's storage: --code-connection-string (env "
                "AZURE_STORAGE_CONNECTION_STRING) or --code-account-url (workload identity)"
            )


@dataclass
class SetupReport:
    """What the setup did, object by object (kind, name, outcome)."""

    steps: list[tuple[str, str, Outcome]] = field(default_factory=list)

    def add(self, kind: str, name: str, outcome: Outcome) -> None:
        self.steps.append((kind, name, outcome))


def prefect_api_url() -> str:
    """The configured server (PREFECT_API_URL or the active profile's).

    Raises:
        ConfigError: none is configured (Prefect would set up a throwaway in-process server instead).
    """
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise ConfigError("no Prefect server configured: set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)")
    return url


def prefect_setup(
    source_dsn: str | None, azure: AzureCode | None = None, source_block: str = names.BLOCK_SOURCE
) -> SetupReport:
    """Create or update what the deployments of `prefect.yaml` (and, with ``azure``, of the Azure file) need.

    ``source_block`` names the connection block (another name for a second source database; the job
    deployments then take it as their ``source_block`` parameter).

    Raises:
        ConfigError: a malformed source DSN, no server configured, or a pool of the same name but another type.
        CutoverError: the server cannot be reached.
    """
    import httpx

    from cutover.source.connection import check_dsn

    if source_dsn:  # refused before anything is saved; reaching it is the workers' business, not this machine's
        source_dsn = check_dsn(source_dsn)
    url = prefect_api_url()
    try:
        return _set_up(source_dsn, azure, source_block)
    except httpx.HTTPError as exc:
        raise CutoverError(f"cannot reach the Prefect server at {url}: {exc}") from None


def _set_up(source_dsn: str | None, azure: AzureCode | None, source_block: str) -> SetupReport:
    report = SetupReport()
    if source_dsn:
        existed = _block_exists("sqlalchemy-connector", source_block)
        save_source_block(source_block, source_dsn)
        report.add("block", source_block, "updated" if existed else "created")
    else:
        kept = _block_exists("sqlalchemy-connector", source_block)
        report.add("block", source_block, "kept" if kept else "skipped")
    report.add("work pool", names.POOL_PROCESS, _ensure_pool(names.POOL_PROCESS, "process", _process_template()))
    created = ensure_concurrency_limits()
    for limit in DEFAULT_LIMITS:
        report.add("concurrency limit", limit, "created" if limit in created else "kept")
    if azure is not None:
        report.add("block", names.BLOCK_CODE_STORAGE, _save_code_block(azure))
        report.add(
            "work pool", names.POOL_ACI, _ensure_pool(names.POOL_ACI, "azure-container-instance", _aci_template())
        )
        report.add(
            "work pool", names.POOL_KUBERNETES, _ensure_pool(names.POOL_KUBERNETES, "kubernetes", _k8s_template())
        )
    return report


def _block_exists(block_type: str, name: str) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_block_document_by_name(name, block_type_slug=block_type)
        except ObjectNotFound:
            return False
    return True


def _save_code_block(azure: AzureCode) -> Outcome:
    from prefect_azure import AzureBlobStorageCredentials

    existed = _block_exists("azure-blob-storage-credentials", names.BLOCK_CODE_STORAGE)
    block = AzureBlobStorageCredentials(
        connection_string=SecretStr(azure.connection_string) if azure.connection_string else None,
        account_url=None if azure.connection_string else azure.account_url,
    )  # fmt: skip
    block.save(names.BLOCK_CODE_STORAGE, overwrite=True)
    return "updated" if existed else "created"


def _ensure_pool(name: str, pool_type: str, template: dict[str, Any]) -> Outcome:
    """Create the pool when missing; an existing one keeps its (perhaps tuned) configuration."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            existing = client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type=pool_type, base_job_template=template))
            return "created"
    if existing.type != pool_type:
        raise ConfigError(f"work pool {name!r} exists with type {existing.type!r}, not {pool_type!r}; delete it first")
    return "kept"


def _process_template() -> dict[str, Any]:
    from prefect.workers.process import ProcessWorker

    return ProcessWorker.get_default_base_job_template()


def _aci_template() -> dict[str, Any]:
    from prefect_azure.workers.container_instance import AzureContainerWorker

    return AzureContainerWorker.get_default_base_job_template()


def _k8s_template() -> dict[str, Any]:
    """The AKS worker's own template (its Helm values), so the pool and the worker agree."""
    import yaml

    if not K8S_WORKER_VALUES.exists():
        raise ConfigError(f"{K8S_WORKER_VALUES} not found: run `cutover prefect setup --azure` from a checkout")
    values = yaml.safe_load(K8S_WORKER_VALUES.read_text())
    template: dict[str, Any] = json.loads(values["worker"]["config"]["baseJobTemplate"]["configuration"])
    return template
