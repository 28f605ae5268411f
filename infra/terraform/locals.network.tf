locals {
  # Inbound rules per subnet. Each subnet ends with an explicit deny-all at priority 4096, because Azure's
  # default rules would otherwise admit any traffic from inside the VNet (AllowVnetInBound).
  subnets = {
    workload = {
      address_prefix = var.subnet_address_prefixes.workload
      delegation     = null
      inbound_allow = merge(
        {
          # Health probes of the cluster's load balancers.
          load-balancer = { priority = 100, source = "AzureLoadBalancer", port = "*" }
          # Node-to-node and pod traffic inside the cluster.
          intra-subnet = { priority = 110, source = var.subnet_address_prefixes.workload, port = "*" }
        },
        { for index, cidr in var.workload_inbound_allowed_prefixes : "ingress-${index}" => {
          priority = 200 + index, source = cidr, port = "443"
        } },
      )
    }
    private_endpoints = {
      address_prefix = var.subnet_address_prefixes.private_endpoints
      delegation     = null
      inbound_allow = {
        # Storage (dfs/blob), Key Vault and App Configuration all speak HTTPS.
        https-from-workload = { priority = 100, source = var.subnet_address_prefixes.workload, port = "443" }
        https-from-catalog  = { priority = 110, source = var.subnet_address_prefixes.catalog, port = "443" }
      }
    }
    catalog = {
      address_prefix = var.subnet_address_prefixes.catalog
      delegation = {
        service = "Microsoft.ContainerInstance/containerGroups"
        actions = ["Microsoft.Network/virtualNetworks/subnets/action"]
      }
      inbound_allow = {
        # The REST catalog has no authentication of its own: only the cluster may call it.
        iceberg-rest-from-workload = { priority = 100, source = var.subnet_address_prefixes.workload, port = "8181" }
      }
    }
    postgresql = {
      address_prefix = var.subnet_address_prefixes.postgresql
      delegation = {
        service = "Microsoft.DBforPostgreSQL/flexibleServers"
        actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
      }
      inbound_allow = {
        postgres-from-catalog = { priority = 100, source = var.subnet_address_prefixes.catalog, port = "5432" }
        # Prefect server keeps its own database on the same server.
        postgres-from-workload = { priority = 110, source = var.subnet_address_prefixes.workload, port = "5432" }
      }
    }
  }

  nsg_rules = merge([
    for subnet_key, subnet in local.subnets : merge(
      { for rule_key, rule in subnet.inbound_allow : "${subnet_key}/${rule_key}" => {
        subnet   = subnet_key
        name     = "allow-${rule_key}"
        priority = rule.priority
        access   = "Allow"
        source   = rule.source
        port     = rule.port
      } },
      { "${subnet_key}/deny-all-inbound" = {
        subnet   = subnet_key
        name     = "deny-all-inbound"
        priority = 4096
        access   = "Deny"
        source   = "*"
        port     = "*"
      } },
    )
  ]...)

  # Private DNS zones by purpose. PostgreSQL Flexible Server with VNet injection needs a zone ending in
  # .postgres.database.azure.com; a name of our own avoids clashing with privatelink zones of other servers.
  private_dns_zone_names = {
    blob       = "privatelink.blob.core.windows.net"
    dfs        = "privatelink.dfs.core.windows.net"
    vault      = "privatelink.vaultcore.azure.net"
    azconfig   = "privatelink.azconfig.io"
    postgresql = "${local.base}.private.postgres.database.azure.com"
  }

  existing_private_dns_zone_ids = { for key, id in var.existing_private_dns_zone_ids : key => id if id != null }
  private_dns_zones_to_create   = { for key, name in local.private_dns_zone_names : key => name if !contains(keys(local.existing_private_dns_zone_ids), key) }

  private_dns_zone_ids = merge(
    { for key, zone in azurerm_private_dns_zone.this : key => zone.id },
    local.existing_private_dns_zone_ids,
  )

  # Zones to link to the VNet: the ones created here, plus existing ones when asked to.
  private_dns_zone_links = merge(
    { for key, zone in azurerm_private_dns_zone.this : key => {
      zone_name           = zone.name
      resource_group_name = zone.resource_group_name
    } },
    var.link_existing_private_dns_zones ? { for key, id in local.existing_private_dns_zone_ids : key => {
      zone_name           = element(split("/", id), 8)
      resource_group_name = element(split("/", id), 4)
    } } : {},
  )
}
