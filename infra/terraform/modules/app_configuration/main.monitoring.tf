# Request and audit logs go to the shared workspace: the flag-change alert below reads them, and they are
# the service-side record of who touched a flag (the library keeps its own audit trail too).
resource "azurerm_monitor_diagnostic_setting" "this" {
  name                       = "diag-${var.name}"
  target_resource_id         = azurerm_app_configuration.this.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "HttpRequest"
  }

  enabled_log {
    category = "Audit"
  }
}

# Flag changes are data-plane writes, which never appear in the Activity Log; the store's HttpRequest log
# has them. Any successful write or delete of a feature flag notifies the action group, so an unexpected
# flip (or a rollback) is seen by a person even when it was not made through cutover.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "flag_changes" {
  name                 = "${var.name}-feature-flag-changed"
  display_name         = "cutover: feature flag changed"
  description          = "A feature flag in ${var.name} was written or deleted. Expected during rollout steps and rollbacks; anything else needs a look at the audit trail."
  location             = var.location
  resource_group_name  = var.resource_group_name
  scopes               = [var.log_analytics_workspace_id]
  severity             = 3
  evaluation_frequency = "PT5M"
  window_duration      = "PT5M"

  criteria {
    query                   = <<-KQL
      AACHttpRequest
      | where _ResourceId =~ "${azurerm_app_configuration.this.id}"
      | where Method in ("PUT", "PATCH", "DELETE")
      | where RequestURI contains ".appconfig.featureflag"
      | where StatusCode between (200 .. 299)
      | summarize changes = sum(HitCount)
    KQL
    time_aggregation_method = "Total"
    metric_measure_column   = "changes"
    operator                = "GreaterThan"
    threshold               = 0

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [var.action_group_id]
    custom_properties = {
      system = "cutover"
      alert  = "feature_flag_changed"
    }
  }

  # The AACHttpRequest table exists only once the diagnostic setting has delivered a first record;
  # validating the query at create time would fail on a fresh workspace.
  skip_query_validation = true

  tags = var.tags

  depends_on = [azurerm_monitor_diagnostic_setting.this]
}
