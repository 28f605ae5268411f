"""Infrastructure is checked against the names the code defines (cutover/names.py).

Terraform (parsed with python-hcl2), the Kubernetes manifests, the Prefect Helm values and the Dockerfile
all repeat a few names: feature flags, metric names in alert and dashboard queries, probe paths, Key Vault
secret names, service accounts. Each test here pins one of those to its single source, so a rename in
code fails CI instead of silently leaving an alert blind or a flag missing in App Configuration.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from hcl2 import SerializationOptions

from cutover import names
from cutover.orchestration.cluster import NANNY_KEEPS_MALLOC_ADAPTIVE

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "infra" / "terraform"
K8S = REPO / "infra" / "k8s"

_HCL_OPTIONS = SerializationOptions(strip_string_quotes=True, preserve_heredocs=False, with_comments=False)

# `name == "cutover.x"` in KQL; python-hcl2 keeps heredoc quotes escaped, hence the optional backslashes.
_KQL_METRIC_NAME = re.compile(r'\bname\s*==\s*\\?"([^"\\]+)\\?"')


@functools.cache
def _hcl(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=_HCL_OPTIONS)


def _locals(path: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in _hcl(path).get("locals", []):
        merged.update(block)
    return merged


def _resources(resource_type: str) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """Every `resource "<resource_type>" "<name>"` block in infra/terraform, with its file and name."""
    for path in sorted(TERRAFORM.rglob("*.tf")):
        for block in _hcl(path).get("resource", []):
            for name, body in block.get(resource_type, {}).items():
                yield path, name, body


def _metric_names(query: str) -> list[str]:
    return _KQL_METRIC_NAME.findall(query)


def _yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _alert_queries() -> dict[str, str]:
    """Every scheduled-query alert's KQL, by a readable id: the monitoring module's table of alerts plus
    any alert resource whose query is written inline (e.g. the App Configuration flag-change alert)."""
    queries = {
        f"monitoring/{key}": alert["query"]
        for key, alert in _locals(TERRAFORM / "modules" / "monitoring" / "locals.alerts.tf")["alerts"].items()
    }
    for path, name, body in _resources("azurerm_monitor_scheduled_query_rules_alert_v2"):
        query = body["criteria"][0]["query"]
        if not query.startswith("${"):  # not a reference to the table above
            queries[f"{path.relative_to(TERRAFORM)}/{name}"] = query
    return queries


def _api_container() -> dict[str, Any]:
    (container,) = _api_deployment()["spec"]["template"]["spec"]["containers"]
    return container


def _api_deployment() -> dict[str, Any]:
    (deployment,) = [doc for doc in _yaml_documents(K8S / "base" / "deployment.yaml") if doc["kind"] == "Deployment"]
    return deployment


def _worker_job_template() -> dict[str, Any]:
    values = yaml.safe_load((K8S / "prefect" / "worker-values.yaml").read_text())
    return json.loads(values["worker"]["config"]["baseJobTemplate"]["configuration"])


# --- feature flags -------------------------------------------------------------------------------------


def test_terraform_flag_list_matches_names_all_flags() -> None:
    flags = _locals(TERRAFORM / "locals.flags.tf")["feature_flags"]

    assert flags == list(names.ALL_FLAGS), (
        "infra/terraform/locals.flags.tf feature_flags must list cutover.names.ALL_FLAGS, in order"
    )


def test_terraform_rollout_percentage_flag_is_the_names_constant() -> None:
    flag = _locals(TERRAFORM / "locals.flags.tf")["rollout_percentage_flag"]

    assert flag == names.FLAG_ICEBERG_ROLL_PERCENTAGE


def test_terraform_flags_are_generated_from_the_one_list() -> None:
    (module,) = [block["app_configuration"] for block in _hcl(TERRAFORM / "main.app_configuration.tf")["module"]]
    features = list(_resources("azurerm_app_configuration_feature"))

    assert module["feature_flag_names"] == "${local.feature_flags}"
    assert module["rollout_percentage_flag_name"] == "${local.rollout_percentage_flag}"
    assert [(path.name, name) for path, name, _ in features] == [("main.feature_flags.tf", "this")], (
        "exactly one azurerm_app_configuration_feature resource, generated with for_each"
    )
    assert features[0][2]["for_each"] == "${toset(var.feature_flag_names)}"


# --- metrics in alerts and the dashboard ---------------------------------------------------------------


def test_alert_queries_name_only_known_metrics() -> None:
    unknown = {
        alert: sorted(set(_metric_names(query)) - set(names.ALL_METRICS))
        for alert, query in _alert_queries().items()
        if set(_metric_names(query)) - set(names.ALL_METRICS)
    }

    assert not unknown, f"alert queries name metrics missing from cutover.names.ALL_METRICS: {unknown}"


def test_every_metric_alert_names_a_metric() -> None:
    queries = _alert_queries()
    metric_alerts = {alert: query for alert, query in queries.items() if "customMetrics" in query}

    assert metric_alerts, "no metric-based alerts found: the parser no longer sees the queries"
    assert all(_metric_names(query) for query in metric_alerts.values()), {
        alert: query for alert, query in metric_alerts.items() if not _metric_names(query)
    }


@pytest.mark.parametrize(
    "metric",
    [names.METRIC_VALIDATION_SUCCESS_RATIO, names.METRIC_ROLLBACKS, names.METRIC_TIER_MISMATCHES],
)
def test_alerts_cover_the_cutover_safety_metrics(metric: str) -> None:
    alerted = {name for query in _alert_queries().values() for name in _metric_names(query)}

    assert metric in alerted


def test_dashboard_charts_every_metric() -> None:
    tiles = _locals(TERRAFORM / "modules" / "monitoring" / "locals.dashboard.tf")["dashboard_tiles"]
    charted = [name for tile in tiles for name in _metric_names(tile["query"])]

    assert set(charted) == set(names.ALL_METRICS)


# --- Kubernetes, Prefect and Docker ----------------------------------------------------------------------


def test_k8s_api_probes_use_healthz_and_readyz() -> None:
    container = _api_container()
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert port_names[container[probe]["httpGet"]["port"]] == 8080


def test_k8s_api_runs_serve_api_on_the_probed_port() -> None:
    assert _api_container()["command"] == ["cutover", "serve-api", "--host", "0.0.0.0", "--port", "8080"]


def test_dockerfile_healthcheck_and_default_command_match_the_api() -> None:
    dockerfile = (REPO / "infra" / "docker" / "Dockerfile").read_text()

    assert "http://127.0.0.1:8080/healthz" in dockerfile
    assert 'CMD ["cutover", "serve-api", "--host", "0.0.0.0", "--port", "8080"]' in dockerfile


def test_k8s_secret_objects_exist_in_terraform() -> None:
    terraform_secrets = set(_locals(TERRAFORM / "modules" / "iceberg" / "locals.tf")["secret_names"].values())
    terraform_secrets |= set(_locals(TERRAFORM / "locals.tf")["secret_names"].values())
    # The Azure provider's `objects` parameter is YAML holding a list of YAML strings, one per object.
    mounted = {
        yaml.safe_load(item)["objectName"]
        for doc in _yaml_documents(K8S / "base" / "secretproviderclasses.yaml")
        for item in yaml.safe_load(doc["spec"]["parameters"]["objects"])["array"]
    }

    assert mounted, "no Key Vault objects found in the SecretProviderClasses"
    missing = sorted(mounted - terraform_secrets)
    assert not missing, f"mounted by a SecretProviderClass but never written by Terraform: {missing}"


def test_workload_identity_subjects_match_the_k8s_service_accounts() -> None:
    (variable,) = [
        block["kubernetes_workload_identity"] for block in _hcl(TERRAFORM / "variables.identity.tf")["variable"]
    ]
    # Defaults live in the type: optional(string, "cutover-api"), optional(list(string), [...]).
    defaults = dict(re.findall(r'(\w+) = optional\(string, "([^"]+)"\)', variable["type"]))
    worker_default = re.search(r"worker_service_accounts = optional\(list\(string\), (\[[^]]*\])\)", variable["type"])
    assert worker_default is not None, variable["type"]
    worker_accounts = json.loads(worker_default[1])
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    service_accounts = {doc["metadata"]["name"] for doc in _yaml_documents(K8S / "base" / "serviceaccounts.yaml")}
    server_values = yaml.safe_load((K8S / "prefect" / "server-values.yaml").read_text())
    job_sa_default = _worker_job_template()["variables"]["properties"]["service_account_name"]["default"]

    assert defaults["namespace"] == kustomization["namespace"]
    assert defaults["api_service_account"] == _api_deployment()["spec"]["template"]["spec"]["serviceAccountName"]
    assert set(worker_accounts) == {job_sa_default, server_values["serviceAccount"]["name"]}
    assert {defaults["api_service_account"], job_sa_default} <= service_accounts


def test_telemetry_service_names_match_what_the_error_alert_filters_on() -> None:
    (variable,) = [
        block["telemetry_service_names"]
        for block in _hcl(TERRAFORM / "modules" / "monitoring" / "variables.tf")["variable"]
        if "telemetry_service_names" in block
    ]
    api_env = {env["name"]: env.get("value") for env in _api_container()["env"]}
    job_pod = _worker_job_template()["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    job_container = job_pod["containers"][0]
    worker_env = {env["name"]: env.get("value") for env in job_container["env"]}

    assert api_env["OTEL_SERVICE_NAME"] == variable["default"]["api"]
    assert worker_env["OTEL_SERVICE_NAME"] == variable["default"]["worker"]


def test_prefect_worker_polls_the_cutover_work_pool() -> None:
    values = yaml.safe_load((K8S / "prefect" / "worker-values.yaml").read_text())

    assert values["worker"]["config"]["workPool"] == "cutover-k8s"
    assert values["worker"]["config"]["type"] == "kubernetes"


def test_every_prefect_setting_in_the_helm_values_is_one_prefect_knows() -> None:
    """A misspelt PREFECT_* variable is ignored silently by the server; catch it offline."""
    from prefect.settings import Settings

    known = set(Settings().to_environment_variables(exclude_unset=False))
    for name in ("server-values.yaml", "worker-values.yaml"):
        text = (K8S / "prefect" / name).read_text()
        used = set(re.findall(r"\bPREFECT_[A-Z0-9_]+\b", text))
        assert used <= known, (name, sorted(used - known))


def test_the_dask_cluster_runs_as_the_federated_worker_and_flow_runs_find_its_scheduler() -> None:
    (cluster,) = _yaml_documents(K8S / "base" / "dask-cluster.yaml")
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    pods = [cluster["spec"]["scheduler"]["spec"], cluster["spec"]["worker"]["spec"]]
    job_sa_default = _worker_job_template()["variables"]["properties"]["service_account_name"]["default"]
    assert "dask-cluster.yaml" in kustomization["resources"]
    # The operator copies the DaskCluster's labels onto its pods: the webhook then injects the identity.
    assert cluster["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert {pod["serviceAccountName"] for pod in pods} == {job_sa_default}
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    assert {"configMapRef": {"name": "cutover-config"}} in worker["envFrom"]  # the catalog and warehouse
    assert not [e for e in worker.get("env", []) if "DSN" in e["name"]]  # workers read the source block
    # The nanny's environment for its worker, as dask reads it from the variable (a Python literal).
    (nanny_env,) = [e["value"] for e in worker["env"] if e["name"] == "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON"]
    assert {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in ast.literal_eval(nanny_env).items()} == (
        NANNY_KEEPS_MALLOC_ADAPTIVE
    )
    service = f"{cluster['metadata']['name']}-scheduler.{kustomization['namespace']}.svc.cluster.local"
    port = next(p["port"] for p in cluster["spec"]["scheduler"]["service"]["ports"] if p["name"] == "tcp-comm")
    azure = yaml.safe_load((REPO / "infra" / "prefect" / "prefect.azure.yaml").read_text())
    (dask,) = [d for d in azure["deployments"] if d["name"] == "migrate-dask"]
    assert dask["work_pool"]["job_variables"]["env"]["CUTOVER_DASK_ADDRESS"] == f"tcp://{service}:{port}"
