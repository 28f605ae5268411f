# Two workload identities, so the API (reads) and the workers (load, sync, rollout, rollback) get different
# rights. Kubernetes pods assume them through Entra Workload ID federated credentials; no secrets.
resource "azurerm_user_assigned_identity" "api" {
  name                = local.names.identity_api
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_user_assigned_identity" "worker" {
  name                = local.names.identity_worker
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

locals {
  federated_credentials = var.kubernetes_workload_identity == null ? {} : merge(
    { "api/${var.kubernetes_workload_identity.api_service_account}" = {
      identity_id     = azurerm_user_assigned_identity.api.id
      service_account = var.kubernetes_workload_identity.api_service_account
    } },
    { for sa in var.kubernetes_workload_identity.worker_service_accounts : "worker/${sa}" => {
      identity_id     = azurerm_user_assigned_identity.worker.id
      service_account = sa
    } },
  )
}

resource "azurerm_federated_identity_credential" "this" {
  for_each = local.federated_credentials

  name = "fic-${replace(each.key, "/", "-")}"
  # Deprecated in later 4.x releases (it is implied by parent_id) but still required by 4.42.
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = each.value.identity_id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.kubernetes_workload_identity.oidc_issuer_url
  subject             = "system:serviceaccount:${var.kubernetes_workload_identity.namespace}:${each.value.service_account}"
}
