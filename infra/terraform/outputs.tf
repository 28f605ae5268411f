output "resource_group_name" {
  description = "Resource group holding every cutover resource."
  value       = azurerm_resource_group.this.name
}

output "workload_subnet_id" {
  description = "Subnet for the AKS node pool running the API, Prefect and flow runs."
  value       = azurerm_subnet.this["workload"].id
}

output "virtual_network_id" {
  description = "Resource ID of the cutover VNet (for peering to a hub)."
  value       = azurerm_virtual_network.this.id
}

output "catalog_uri" {
  description = "CUTOVER_CATALOG_URI: the Iceberg REST catalog's private URL."
  value       = module.iceberg.catalog_uri
}

output "warehouse_uri" {
  description = "CUTOVER_WAREHOUSE: abfss:// URI of the Iceberg warehouse."
  value       = module.iceberg.warehouse_uri
}

output "storage_account_name" {
  description = "ADLS Gen2 account name (catalog property adls.account-name)."
  value       = module.iceberg.storage_account_name
}

output "key_vault_name" {
  description = "Key Vault name for the SecretProviderClass (keyvaultName)."
  value       = module.iceberg.key_vault_name
}

output "secret_names" {
  description = "Names of the Key Vault secrets the workloads mount, by purpose."
  value       = merge(module.iceberg.secret_names, local.secret_names)
}

output "app_configuration_endpoint" {
  description = "Endpoint of the App Configuration store holding the feature flags."
  value       = module.app_configuration.endpoint
}

output "feature_flags" {
  description = "Feature flags created in App Configuration, by name."
  value       = module.app_configuration.feature_flag_ids
}

output "application_insights_connection_string" {
  description = "APPLICATIONINSIGHTS_CONNECTION_STRING (ingestion needs Entra ID; sensitive to keep it out of logs)."
  value       = module.monitoring.application_insights_connection_string
  sensitive   = true
}

output "tenant_id" {
  description = "Entra tenant of the identities (SecretProviderClass tenantId)."
  value       = azurerm_user_assigned_identity.api.tenant_id
}

output "api_identity_client_id" {
  description = "Client ID for the cutover-api ServiceAccount annotation azure.workload.identity/client-id."
  value       = azurerm_user_assigned_identity.api.client_id
}

output "worker_identity_client_id" {
  description = "Client ID for the cutover-worker and prefect-server ServiceAccount annotations."
  value       = azurerm_user_assigned_identity.worker.client_id
}
