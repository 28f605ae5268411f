# THE list of cutover feature flags that Terraform creates in App Configuration.
#
# It mirrors cutover/names.py ALL_FLAGS, in the same order. tests/infra/test_infra_names.py parses this file
# and fails when the two differ, so a flag added or renamed in code cannot go missing here (renaming a flag
# also reshuffles Microsoft.Targeting buckets: sha256(context + "\n" + flag id)).
locals {
  feature_flags = [
    "use-iceberg-backend",
    "iceberg-roll-percentage",
    "iceberg-partitioning",
    "iceberg-time-travel",
  ]

  # The one flag whose value is a percentage of contexts (a Microsoft.Targeting filter), not on/off.
  rollout_percentage_flag = "iceberg-roll-percentage"
}
