data "azurerm_client_config" "current" {}

# Key Vault holding the credentials the lake needs (catalog database password, connection strings the
# root module adds). Workloads read them through the Secrets Store CSI driver with workload identity.
resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_189:Public access is off unless allowed_ip_ranges is non-empty (default empty), and then the firewall denies everything but those deployer IPs; checkov cannot evaluate the expression

  name                = var.names.key_vault
  location            = var.location
  resource_group_name = var.resource_group_name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  sku_name            = "standard"

  # RBAC instead of access policies: one permission model for every resource here, auditable in IAM.
  rbac_authorization_enabled = true
  # Secrets cannot be purged before the retention ends, even by an owner: a deleted password can always
  # be recovered while the catalog still needs it.
  purge_protection_enabled   = true
  soft_delete_retention_days = 90

  public_network_access_enabled = local.public_network_access_enabled

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.allowed_ip_ranges
  }

  tags = var.tags
}

# Secrets expire (Key Vault reports it) and are rotated by the next apply after the rotation date.
resource "time_rotating" "secrets" {
  rotation_days = var.secret_expiration_days
}

resource "azurerm_role_assignment" "deployer_secrets_officer" {
  count = var.grant_deployer_secrets_officer ? 1 : 0

  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}
