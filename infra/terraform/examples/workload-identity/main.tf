# An existing AKS cluster (OIDC issuer and workload identity enabled) runs the migration controller API,
# the Prefect server and worker, and the flow runs. Its service accounts get federated credentials on the
# API and worker identities; the outputs are what infra/k8s/overlays/*/cutover.env needs.
data "azurerm_kubernetes_cluster" "this" {
  name                = var.aks.name
  resource_group_name = var.aks.resource_group_name
}

module "cutover" {
  source = "../../"

  environment = var.environment
  location    = var.location

  kubernetes_workload_identity = {
    oidc_issuer_url = data.azurerm_kubernetes_cluster.this.oidc_issuer_url
    namespace       = var.aks.namespace
  }

  # Let the API's own POST /rollback work while Prefect is down (design: rollback must not depend on it).
  api_app_configuration_role = "App Configuration Data Owner"

  allowed_deployer_ip_ranges = var.allowed_deployer_ip_ranges
}
