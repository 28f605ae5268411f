resource "azurerm_virtual_network" "this" {
  name                = local.names.virtual_network
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  address_space       = var.vnet_address_space
  dns_servers         = var.vnet_dns_servers
  tags                = local.tags
}

resource "azurerm_subnet" "this" {
  for_each = local.subnets

  name                 = "snet-${replace(each.key, "_", "-")}"
  resource_group_name  = azurerm_resource_group.this.name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [each.value.address_prefix]

  # No implicit internet egress: Azure retires default outbound access, and nothing here should reach the
  # internet by accident. The AKS cluster brings its own egress (load balancer or NAT gateway).
  default_outbound_access_enabled = false

  # NSGs apply to private endpoints too (otherwise their traffic bypasses the subnet's rules).
  private_endpoint_network_policies = each.key == "private_endpoints" ? "Enabled" : "Disabled"

  dynamic "delegation" {
    for_each = each.value.delegation == null ? [] : [each.value.delegation]

    content {
      name = "delegation"

      service_delegation {
        name    = delegation.value.service
        actions = delegation.value.actions
      }
    }
  }
}

resource "azurerm_network_security_group" "this" {
  for_each = local.subnets

  name                = "nsg-${local.base}-${replace(each.key, "_", "-")}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_network_security_rule" "this" {
  for_each = local.nsg_rules

  name                        = each.value.name
  resource_group_name         = azurerm_resource_group.this.name
  network_security_group_name = azurerm_network_security_group.this[each.value.subnet].name
  direction                   = "Inbound"
  access                      = each.value.access
  priority                    = each.value.priority
  protocol                    = each.value.port == "*" ? "*" : "Tcp"
  source_port_range           = "*"
  destination_port_range      = each.value.port
  source_address_prefix       = each.value.source
  # Allow rules admit traffic to this subnet only, not to the whole VNet.
  destination_address_prefix = each.value.access == "Deny" ? "*" : local.subnets[each.value.subnet].address_prefix
}

resource "azurerm_subnet_network_security_group_association" "this" {
  for_each = local.subnets

  subnet_id                 = azurerm_subnet.this[each.key].id
  network_security_group_id = azurerm_network_security_group.this[each.key].id
}
