module "monitoring" {
  source = "./modules/monitoring"

  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
  names = {
    log_analytics_workspace = local.names.log_analytics_workspace
    application_insights    = local.names.application_insights
    action_group            = local.names.action_group
    action_group_short_name = local.names.action_group_short_name
    dashboard               = local.names.dashboard
  }

  log_retention_days                 = var.log_retention_days
  alert_email_receivers              = var.alert_email_receivers
  validation_success_ratio_threshold = var.validation_success_ratio_threshold
  tier_mismatch_rate_threshold       = var.tier_mismatch_rate_threshold
}

# Entra-authenticated telemetry ingestion (local auth is off on Application Insights).
resource "azurerm_role_assignment" "telemetry_publisher" {
  for_each = {
    api    = azurerm_user_assigned_identity.api.principal_id
    worker = azurerm_user_assigned_identity.worker.principal_id
  }

  scope                            = module.monitoring.application_insights_id
  role_definition_name             = "Monitoring Metrics Publisher"
  principal_id                     = each.value
  skip_service_principal_aad_check = true
}
