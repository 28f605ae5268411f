data "azurerm_client_config" "current" {}

# The store that holds cutover's feature flags: the switch that moves reads between PostgreSQL and Iceberg,
# so every default below leans towards "nobody flips it by accident, nothing loses it".
resource "azurerm_app_configuration" "this" {
  #checkov:skip=CKV_AZURE_186:Microsoft-managed encryption; flags are not confidential data, and a customer-managed key would make every flag read (and so every rollback) depend on Key Vault availability

  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = var.sku

  # Access keys would bypass RBAC and the audit trail of who changed a flag: Entra ID only.
  local_auth_enabled    = false
  public_network_access = var.public_network_access_enabled ? "Enabled" : "Disabled"

  # A deleted store (and its flags) can be recovered; purge protection stops anyone, us included, from
  # purging it early. Irreversible once set, which is the point.
  purge_protection_enabled   = true
  soft_delete_retention_days = var.soft_delete_retention_days

  tags = var.tags
}
