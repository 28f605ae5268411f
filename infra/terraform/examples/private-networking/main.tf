# Hub-and-spoke: the privatelink DNS zones already live in a hub (central DNS), the spoke VNet resolves
# through the hub's DNS private resolver, and the spoke is peered to the hub. Nothing has a public endpoint
# and Terraform runs from a runner in the hub (allowed_deployer_ip_ranges stays empty).
data "azurerm_virtual_network" "hub" {
  name                = var.hub.virtual_network_name
  resource_group_name = var.hub.resource_group_name
}

locals {
  hub_zone_ids = {
    for key, name in {
      blob       = "privatelink.blob.core.windows.net"
      dfs        = "privatelink.dfs.core.windows.net"
      vault      = "privatelink.vaultcore.azure.net"
      azconfig   = "privatelink.azconfig.io"
      postgresql = "cutover.private.postgres.database.azure.com"
    } : key => "/subscriptions/${var.hub.subscription_id}/resourceGroups/${var.hub.dns_resource_group_name}/providers/Microsoft.Network/privateDnsZones/${name}"
  }
}

module "cutover" {
  source = "../../"

  environment = var.environment
  location    = var.location

  vnet_address_space = ["10.60.0.0/16"]
  subnet_address_prefixes = {
    workload          = "10.60.0.0/20"
    private_endpoints = "10.60.16.0/24"
    catalog           = "10.60.17.0/27"
    postgresql        = "10.60.18.0/28"
  }

  # Central zones and the hub resolver: the spoke resolves privatelink names through the hub. The zones live
  # in the hub subscription, which this root cannot write to, so the hub team links them; PostgreSQL Flexible
  # Server additionally requires its zone to be linked to the spoke VNet before the server is created.
  existing_private_dns_zone_ids   = local.hub_zone_ids
  link_existing_private_dns_zones = false
  vnet_dns_servers                = var.hub.dns_resolver_ips

  # An internal ingress in the hub fronts the migration controller API.
  workload_inbound_allowed_prefixes = var.hub.ingress_prefixes

  postgresql = {
    sku_name               = "GP_Standard_D2ds_v5"
    high_availability_mode = "ZoneRedundant"
  }

  alert_email_receivers = var.alert_email_receivers
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  name                      = "peer-cutover-to-hub"
  resource_group_name       = module.cutover.resource_group_name
  virtual_network_name      = element(split("/", module.cutover.virtual_network_id), 8)
  remote_virtual_network_id = data.azurerm_virtual_network.hub.id
  allow_forwarded_traffic   = true
}
