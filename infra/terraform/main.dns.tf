resource "azurerm_private_dns_zone" "this" {
  for_each = local.private_dns_zones_to_create

  name                = each.value
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "this" {
  for_each = local.private_dns_zone_links

  name                  = "link-${local.names.virtual_network}"
  private_dns_zone_name = each.value.zone_name
  resource_group_name   = each.value.resource_group_name
  virtual_network_id    = azurerm_virtual_network.this.id
  # Records come from private endpoint DNS zone groups; VMs do not auto-register.
  registration_enabled = false
  tags                 = local.tags
}
