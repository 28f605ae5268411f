output "storage_account_id" {
  description = "Resource ID of the ADLS Gen2 account."
  value       = azurerm_storage_account.this.id
}

output "storage_account_name" {
  description = "Name of the ADLS Gen2 account (pyiceberg property adls.account-name)."
  value       = azurerm_storage_account.this.name
}

output "warehouse_uri" {
  description = "Iceberg warehouse location: abfss://<filesystem>@<account>.dfs.core.windows.net/ (CUTOVER_WAREHOUSE)."
  value       = local.warehouse_uri
}

output "catalog_uri" {
  description = "URI of the Iceberg REST catalog on its private IP (CUTOVER_CATALOG_URI)."
  value       = "http://${azurerm_container_group.catalog.ip_address}:${local.catalog_port}"
}

output "catalog_identity_principal_id" {
  description = "Principal ID of the catalog's managed identity (grant it AcrPull on a registry in another resource group)."
  value       = azurerm_user_assigned_identity.catalog.principal_id
}

output "key_vault_id" {
  description = "Resource ID of the Key Vault; the root module writes further secrets into it."
  value       = azurerm_key_vault.this.id
}

output "key_vault_name" {
  description = "Name of the Key Vault (SecretProviderClass keyvaultName)."
  value       = azurerm_key_vault.this.name
}

output "key_vault_uri" {
  description = "URI of the Key Vault."
  value       = azurerm_key_vault.this.vault_uri
}

output "secret_names" {
  description = "Names of the secrets this module writes, by purpose."
  value       = local.secret_names
}

output "secret_expiration_date" {
  description = "When the secrets written by Terraform expire; re-apply after this date to rotate them."
  value       = time_rotating.secrets.rotation_rfc3339
}

output "postgresql_server_fqdn" {
  description = "Private FQDN of the catalog's PostgreSQL server."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "postgresql_server_id" {
  description = "Resource ID of the catalog's PostgreSQL server."
  value       = azurerm_postgresql_flexible_server.this.id
}
