# The scheduled query alerts on cutover's own telemetry.
#
# Queries run against Application Insights (table customMetrics, column name) and name each metric exactly
# as cutover/names.py does: tests/infra/test_infra_names.py fails when a metric name here is not in
# cutover.names.ALL_METRICS, so a rename in code cannot silently blind an alert.
#
# Column use follows what the Azure Monitor OpenTelemetry exporter writes: counters land as valueSum per
# export interval, histograms and gauges also fill valueMin/valueMax/valueCount.
locals {
  alerts = {
    validation_failed = {
      display_name            = "cutover: validation below parity"
      description             = "A parity validation reported fewer matching rows than source rows. Rollout gates will hold; the rollback trigger may already have fired. See the validation report artifact in Prefect."
      severity                = 1
      query                   = <<-KQL
        customMetrics
        | where name == "cutover.validation.success_ratio"
        | summarize worst_ratio = min(valueMin)
      KQL
      time_aggregation_method = "Minimum"
      metric_measure_column   = "worst_ratio"
      operator                = "LessThan"
      threshold               = var.validation_success_ratio_threshold
    }

    rollback = {
      display_name            = "cutover: rollback executed"
      description             = "Reads were switched back to PostgreSQL (master flag off, percentage 0). Check the audit trail for actor and reason."
      severity                = 1
      query                   = <<-KQL
        customMetrics
        | where name == "cutover.rollbacks"
        | summarize rollbacks = sum(valueSum)
      KQL
      time_aggregation_method = "Total"
      metric_measure_column   = "rollbacks"
      operator                = "GreaterThan"
      threshold               = 0
    }

    tier_mismatch_rate = {
      display_name            = "cutover: Iceberg/PostgreSQL mismatch rate"
      description             = "Shadow comparisons found Iceberg answers that differ from PostgreSQL more often than the threshold. Do not raise the roll percentage; run a validation."
      severity                = 2
      query                   = <<-KQL
        let iceberg_reads = toscalar(
            customMetrics
            | where name == "cutover.tier.latency"
            | where tostring(customDimensions["backend"]) == "iceberg"
            | summarize sum(valueCount));
        customMetrics
        | where name == "cutover.tier.mismatches"
        | summarize mismatches = sum(valueSum)
        | extend mismatch_rate = iff(iceberg_reads > 0, mismatches / todouble(iceberg_reads), 0.0)
      KQL
      time_aggregation_method = "Maximum"
      metric_measure_column   = "mismatch_rate"
      operator                = "GreaterThan"
      threshold               = var.tier_mismatch_rate_threshold
    }

    # Not metric-based: a failed batch surfaces as an exception on the worker's spans, and there is no
    # error counter in cutover.names. The filter is the worker's OpenTelemetry service name.
    migration_errors = {
      display_name            = "cutover: migration errors"
      description             = "Flow-run workers recorded exceptions (failed batches, commit conflicts that exhausted retries, extraction errors). Check the failed flow runs in Prefect."
      severity                = 2
      query                   = <<-KQL
        exceptions
        | where cloud_RoleName == "${var.telemetry_service_names.worker}"
      KQL
      time_aggregation_method = "Count"
      metric_measure_column   = null
      operator                = "GreaterThan"
      threshold               = 0
    }
  }
}
