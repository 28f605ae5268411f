locals {
  catalog_port          = 8181
  catalog_database_name = "iceberg_catalog"

  warehouse_uri = "abfss://${var.warehouse_filesystem_name}@${azurerm_storage_account.this.name}.dfs.core.windows.net/"

  # Public endpoints exist only when someone must reach them from outside (a Terraform runner's IP);
  # even then the firewalls deny everything not listed.
  public_network_access_enabled = length(var.allowed_ip_ranges) > 0

  # Secret names are shared with infra/k8s (SecretProviderClass objects); tests/infra checks they match.
  secret_names = {
    catalog_db_password = "catalog-db-password"
    prefect_database    = "prefect-database-connection-string"
  }

  warehouse_scope = azurerm_storage_container.warehouse.id

  role_assignments = merge(
    { for key, id in var.warehouse_writer_principal_ids : "warehouse-writer/${key}" => {
      scope = local.warehouse_scope, role = "Storage Blob Data Contributor", principal_id = id
    } },
    { for key, id in var.warehouse_reader_principal_ids : "warehouse-reader/${key}" => {
      scope = local.warehouse_scope, role = "Storage Blob Data Reader", principal_id = id
    } },
    { for key, id in var.secret_reader_principal_ids : "secrets-user/${key}" => {
      scope = azurerm_key_vault.this.id, role = "Key Vault Secrets User", principal_id = id
    } },
    {
      # The catalog writes table metadata (metadata.json, manifests) next to the data files.
      "warehouse-writer/catalog" = {
        scope = local.warehouse_scope, role = "Storage Blob Data Contributor", principal_id = azurerm_user_assigned_identity.catalog.principal_id
      }
    },
  )
}
