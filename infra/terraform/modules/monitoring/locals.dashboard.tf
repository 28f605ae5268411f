# Tiles of the cutover dashboard. Like the alerts, each query names metrics exactly as cutover/names.py;
# the test also checks that every metric in ALL_METRICS is charted here.
locals {
  dashboard_tiles = [
    {
      title    = "Rows migrated per hour"
      subtitle = "cutover.rows.migrated"
      chart    = "Line"
      query    = <<-KQL
        customMetrics
        | where name == "cutover.rows.migrated"
        | summarize rows = sum(valueSum) by bin(timestamp, 1h)
        | render timechart
      KQL
    },
    {
      title    = "Batch duration (s)"
      subtitle = "cutover.batch.duration: mean and max per hour"
      chart    = "Line"
      query    = <<-KQL
        customMetrics
        | where name == "cutover.batch.duration"
        | summarize mean_s = sum(valueSum) / sum(valueCount), max_s = max(valueMax) by bin(timestamp, 1h)
        | render timechart
      KQL
    },
    {
      title    = "Validation success ratio"
      subtitle = "cutover.validation.success_ratio: worst per hour"
      chart    = "Line"
      query    = <<-KQL
        customMetrics
        | where name == "cutover.validation.success_ratio"
        | summarize worst_ratio = min(valueMin) by bin(timestamp, 1h)
        | render timechart
      KQL
    },
    {
      title    = "Rollbacks"
      subtitle = "cutover.rollbacks per day"
      chart    = "StackedColumn"
      query    = <<-KQL
        customMetrics
        | where name == "cutover.rollbacks"
        | summarize rollbacks = sum(valueSum) by bin(timestamp, 1d)
        | render columnchart
      KQL
    },
    {
      title    = "Read latency by backend (ms)"
      subtitle = "cutover.tier.latency{backend}"
      chart    = "Line"
      query    = <<-KQL
        customMetrics
        | where name == "cutover.tier.latency"
        | extend backend = tostring(customDimensions["backend"])
        | summarize mean_ms = sum(valueSum) / sum(valueCount) by bin(timestamp, 15m), backend
        | render timechart
      KQL
    },
    {
      title    = "Shadow-compare mismatches"
      subtitle = "cutover.tier.mismatches per hour"
      chart    = "StackedColumn"
      query    = <<-KQL
        customMetrics
        | where name == "cutover.tier.mismatches"
        | summarize mismatches = sum(valueSum) by bin(timestamp, 1h)
        | render columnchart
      KQL
    },
  ]
}
