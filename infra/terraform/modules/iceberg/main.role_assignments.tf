# Data-plane roles on the warehouse filesystem (not the whole account) and on the vault.
resource "azurerm_role_assignment" "this" {
  for_each = local.role_assignments

  scope                            = each.value.scope
  role_definition_name             = each.value.role
  principal_id                     = each.value.principal_id
  skip_service_principal_aad_check = true
}
