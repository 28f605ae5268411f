# One App Configuration feature per flag name, all generated from the one list the root module passes
# (infra/terraform/locals.flags.tf, checked against cutover.names.ALL_FLAGS by tests/infra).
#
# Terraform creates the flags in their safe state; after that the rollout and rollback flows own them
# (they write with ETag If-Match and record actor and reason). ignore_changes keeps a later
# `terraform apply` from silently reverting a rollout or, worse, undoing a rollback.
resource "azurerm_app_configuration_feature" "this" {
  for_each = toset(var.feature_flag_names)

  configuration_store_id = azurerm_app_configuration.this.id
  name                   = each.value
  label                  = var.feature_flag_label
  description            = "cutover feature flag ${each.value}; managed by the cutover rollout/rollback flows after creation."

  # Off everywhere: the master switch off means every read goes to PostgreSQL. The percentage flag is
  # enabled so its targeting filter is evaluated, but at 0 % it selects nobody.
  enabled = each.value == var.rollout_percentage_flag_name

  dynamic "targeting_filter" {
    for_each = each.value == var.rollout_percentage_flag_name ? [var.initial_rollout_percentage] : []

    content {
      # Microsoft.Targeting: sticky per context (sha256 bucketing) and monotonic as the percentage rises.
      default_rollout_percentage = targeting_filter.value
    }
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [enabled, targeting_filter, locked]
  }

  # Local auth is off, so Terraform itself needs Data Owner before it can write a flag.
  depends_on = [azurerm_role_assignment.this]
}
