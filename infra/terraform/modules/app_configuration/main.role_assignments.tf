# Data-plane roles. The API reads flags (Data Reader); the worker identity runs rollout and rollback and
# writes them (Data Owner). Nobody gets keys: local auth is disabled.
resource "azurerm_role_assignment" "this" {
  for_each = local.role_assignments

  scope                = azurerm_app_configuration.this.id
  role_definition_name = each.value.role
  principal_id         = each.value.principal_id
  # Skipping the Graph lookup lets a managed identity created in the same apply be assigned right away.
  skip_service_principal_aad_check = each.key != "owner/deployer"
}
