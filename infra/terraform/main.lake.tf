module "iceberg" {
  source = "./modules/iceberg"

  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
  names = {
    storage_account   = local.names.storage_account
    key_vault         = local.names.key_vault
    postgresql_server = local.names.postgresql_server
    container_group   = local.names.container_group
    catalog_identity  = local.names.identity_catalog
  }

  storage_replication_type = var.storage_replication_type
  allowed_ip_ranges        = var.allowed_deployer_ip_ranges

  private_endpoints = {
    subnet_id                 = azurerm_subnet.this["private_endpoints"].id
    blob_private_dns_zone_id  = local.private_dns_zone_ids["blob"]
    dfs_private_dns_zone_id   = local.private_dns_zone_ids["dfs"]
    vault_private_dns_zone_id = local.private_dns_zone_ids["vault"]
  }

  postgresql = merge(var.postgresql, {
    delegated_subnet_id = azurerm_subnet.this["postgresql"].id
    private_dns_zone_id = local.private_dns_zone_ids["postgresql"]
    # Prefect's own database (the prefect-server chart) lives on the same private server.
    additional_databases = ["prefect"]
  })

  catalog = {
    subnet_id      = azurerm_subnet.this["catalog"].id
    image          = var.catalog_image
    image_registry = var.catalog_image_registry
  }

  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id

  warehouse_writer_principal_ids = { worker = azurerm_user_assigned_identity.worker.principal_id }
  warehouse_reader_principal_ids = { api = azurerm_user_assigned_identity.api.principal_id }
  secret_reader_principal_ids = {
    api    = azurerm_user_assigned_identity.api.principal_id
    worker = azurerm_user_assigned_identity.worker.principal_id
  }

  # The server needs its DNS zone linked to the VNet before it is created, and the NSGs should be in place
  # before anything listens.
  depends_on = [
    azurerm_private_dns_zone_virtual_network_link.this,
    azurerm_subnet_network_security_group_association.this,
  ]
}
