module "app_configuration" {
  source = "./modules/app_configuration"

  name                = local.names.app_configuration
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags

  # The one flag list (locals.flags.tf), mirrored from cutover.names.ALL_FLAGS.
  feature_flag_names           = local.feature_flags
  rollout_percentage_flag_name = local.rollout_percentage_flag
  initial_rollout_percentage   = var.initial_rollout_percentage
  feature_flag_label           = var.feature_flag_label

  # App Configuration has no IP firewall: its public endpoint opens only when the deployer is outside.
  public_network_access_enabled = length(var.allowed_deployer_ip_ranges) > 0

  data_reader_principal_ids = var.api_app_configuration_role == "App Configuration Data Reader" ? { api = azurerm_user_assigned_identity.api.principal_id } : {}
  data_owner_principal_ids = merge(
    { worker = azurerm_user_assigned_identity.worker.principal_id },
    var.api_app_configuration_role == "App Configuration Data Owner" ? { api = azurerm_user_assigned_identity.api.principal_id } : {},
  )

  private_endpoint = {
    subnet_id           = azurerm_subnet.this["private_endpoints"].id
    private_dns_zone_id = local.private_dns_zone_ids["azconfig"]
  }

  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  action_group_id            = module.monitoring.action_group_id

  depends_on = [azurerm_private_dns_zone_virtual_network_link.this]
}
