# Everything infra/k8s/overlays/<env>/cutover.env asks for.
output "cutover_env" {
  description = "Values for the kustomize overlay's cutover.env (KEY=value lines); read with terraform output -raw cutover_env."
  value = join("\n", [
    "AZURE_TENANT_ID=${module.cutover.tenant_id}",
    "AZURE_CLIENT_ID_API=${module.cutover.api_identity_client_id}",
    "AZURE_CLIENT_ID_WORKER=${module.cutover.worker_identity_client_id}",
    "AZURE_KEY_VAULT_NAME=${module.cutover.key_vault_name}",
    "CUTOVER_CATALOG_URI=${module.cutover.catalog_uri}",
    "CUTOVER_WAREHOUSE=${module.cutover.warehouse_uri}",
    "CUTOVER_CATALOG_PROPERTIES={\"adls.account-name\": \"${module.cutover.storage_account_name}\"}",
    "CUTOVER_APP_CONFIGURATION_ENDPOINT=${module.cutover.app_configuration_endpoint}",
    # Ingestion requires Entra ID (local auth is off), so this is configuration, not a credential.
    "APPLICATIONINSIGHTS_CONNECTION_STRING=${module.cutover.application_insights_connection_string}",
  ])
  sensitive = true
}
