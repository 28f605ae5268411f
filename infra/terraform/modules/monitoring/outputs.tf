output "log_analytics_workspace_id" {
  description = "Resource ID of the Log Analytics workspace; other modules send diagnostic logs here."
  value       = azurerm_log_analytics_workspace.this.id
}

output "application_insights_id" {
  description = "Resource ID of Application Insights; workloads need Monitoring Metrics Publisher on it."
  value       = azurerm_application_insights.this.id
}

output "application_insights_connection_string" {
  description = "Connection string for APPLICATIONINSIGHTS_CONNECTION_STRING. Ingestion requires Entra ID, so it grants nothing alone; marked sensitive anyway to keep it out of logs."
  value       = azurerm_application_insights.this.connection_string
  sensitive   = true
}

output "action_group_id" {
  description = "Resource ID of the action group every cutover alert notifies."
  value       = azurerm_monitor_action_group.this.id
}

output "alert_ids" {
  description = "Resource IDs of the scheduled query alerts, by alert key."
  value       = { for key, alert in azurerm_monitor_scheduled_query_rules_alert_v2.this : key => alert.id }
}

output "dashboard_id" {
  description = "Resource ID of the portal dashboard."
  value       = azurerm_portal_dashboard.this.id
}
