locals {
  private_endpoints = {
    blob = {
      resource_id = azurerm_storage_account.this.id
      subresource = "blob"
      dns_zone_id = var.private_endpoints.blob_private_dns_zone_id
    }
    # ADLS Gen2 clients (abfss://) talk to the dfs endpoint; blob is still needed by SDK calls that use it.
    dfs = {
      resource_id = azurerm_storage_account.this.id
      subresource = "dfs"
      dns_zone_id = var.private_endpoints.dfs_private_dns_zone_id
    }
    vault = {
      resource_id = azurerm_key_vault.this.id
      subresource = "vault"
      dns_zone_id = var.private_endpoints.vault_private_dns_zone_id
    }
  }
}

resource "azurerm_private_endpoint" "this" {
  for_each = local.private_endpoints

  name                = "pe-${each.value.subresource == "vault" ? var.names.key_vault : var.names.storage_account}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoints.subnet_id

  private_service_connection {
    name                           = "psc-${each.key}"
    private_connection_resource_id = each.value.resource_id
    subresource_names              = [each.value.subresource]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [each.value.dns_zone_id]
  }

  tags = var.tags
}
