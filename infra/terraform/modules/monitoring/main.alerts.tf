# Log search alerts on cutover's telemetry, one per entry of local.alerts (locals.alerts.tf).
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "this" {
  for_each = local.alerts

  name                = "${var.names.application_insights}-${replace(each.key, "_", "-")}"
  display_name        = each.value.display_name
  description         = each.value.description
  location            = var.location
  resource_group_name = var.resource_group_name
  scopes              = [azurerm_application_insights.this.id]
  severity            = each.value.severity

  # Five-minute evaluation over fifteen minutes of data: the exporter flushes every 60 s by default and
  # ingestion adds a few minutes of latency; a shorter window would miss late points.
  evaluation_frequency = "PT5M"
  window_duration      = "PT15M"

  # Resolve by itself once the condition clears, so a fixed table does not leave a stale alert open.
  auto_mitigation_enabled = true

  criteria {
    query                   = each.value.query
    time_aggregation_method = each.value.time_aggregation_method
    metric_measure_column   = each.value.metric_measure_column
    operator                = each.value.operator
    threshold               = each.value.threshold

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.this.id]
    custom_properties = {
      system = "cutover"
      alert  = each.key
    }
  }

  tags = var.tags
}
