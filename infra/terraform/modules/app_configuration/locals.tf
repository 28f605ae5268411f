locals {
  # Role assignments keyed "<role>/<principal key>" so adding a principal never re-creates another's.
  role_assignments = merge(
    { for key, principal_id in var.data_reader_principal_ids : "reader/${key}" => {
      role         = "App Configuration Data Reader"
      principal_id = principal_id
    } },
    { for key, principal_id in var.data_owner_principal_ids : "owner/${key}" => {
      role         = "App Configuration Data Owner"
      principal_id = principal_id
    } },
    var.grant_deployer_data_owner ? { "owner/deployer" = {
      role         = "App Configuration Data Owner"
      principal_id = data.azurerm_client_config.current.object_id
    } } : {},
  )
}
