# Log Analytics workspace: one sink for Application Insights telemetry and for the diagnostic logs of the
# storage account, Key Vault, App Configuration and PostgreSQL, so one KQL query can join them.
resource "azurerm_log_analytics_workspace" "this" {
  name                = var.names.log_analytics_workspace
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days

  # Entra ID only: workspace shared keys would let anyone holding one write or read data unaudited.
  local_authentication_enabled = false
  internet_ingestion_enabled   = var.internet_ingestion_enabled
  internet_query_enabled       = var.internet_query_enabled

  tags = var.tags
}

# Workspace-based Application Insights (classic resources are retired). The OpenTelemetry exporter in
# cutover/telemetry.py sends cutover.* metrics here; they land in customMetrics.
resource "azurerm_application_insights" "this" {
  name                = var.names.application_insights
  location            = var.location
  resource_group_name = var.resource_group_name
  workspace_id        = azurerm_log_analytics_workspace.this.id
  application_type    = "other"

  # Entra-authenticated ingestion only: the connection string alone cannot write telemetry, so it may sit
  # in a ConfigMap. Workloads need "Monitoring Metrics Publisher" on this resource (root module grants it).
  local_authentication_disabled = true
  internet_ingestion_enabled    = var.internet_ingestion_enabled
  internet_query_enabled        = var.internet_query_enabled
  # Sampling would drop metric points the alerts count (a rollback is one point): keep everything.
  sampling_percentage = 100

  tags = var.tags
}
