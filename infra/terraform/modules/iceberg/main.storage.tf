# ADLS Gen2 account holding the Iceberg warehouse.
resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure (double) encryption; customer-managed keys are a compliance choice that adds key rotation and a Key Vault availability dependency to every read, left to the caller
  #checkov:skip=CKV_AZURE_33:No queues exist or are used; queue logging would also need shared-key data-plane access, which is disabled

  name                     = var.names.storage_account
  resource_group_name      = var.resource_group_name
  location                 = var.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication_type
  access_tier              = "Hot"

  # Hierarchical namespace: atomic directory renames and ACLs, and the dfs endpoint that Iceberg's
  # ADLSFileIO and adlfs (abfss://) use.
  is_hns_enabled = true

  # Entra ID only. Shared keys and account SAS would bypass RBAC and leave no identity in the logs;
  # pyiceberg (adlfs) and ADLSFileIO both authenticate with managed identity.
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  local_user_enabled              = false
  sftp_enabled                    = false
  nfsv3_enabled                   = false

  https_traffic_only_enabled        = true
  min_tls_version                   = "TLS1_2"
  allow_nested_items_to_be_public   = false
  cross_tenant_replication_enabled  = false
  infrastructure_encryption_enabled = true
  public_network_access_enabled     = local.public_network_access_enabled

  # Deny by default; private endpoints are not subject to these rules. AzureServices lets trusted
  # services (e.g. Azure Monitor, backup) through on their managed identity.
  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
    ip_rules       = [for range in var.allowed_ip_ranges : trimsuffix(range, "/32")]
  }

  # Soft delete is the undo for a wrong DROP TABLE or an over-eager snapshot expiry. (Blob versioning is
  # not available on hierarchical-namespace accounts.)
  blob_properties {
    delete_retention_policy {
      days = var.soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  # Shared keys are off, so account SAS cannot be issued; this caps any that a policy change re-enables.
  sas_policy {
    expiration_period = "0.01:00:00"
    expiration_action = "Log"
  }

  tags = var.tags
}

# The warehouse filesystem. azurerm_storage_container with storage_account_id is created through Azure
# Resource Manager, not the data plane, so it works with shared keys off and the firewall closed (on an
# HNS account a container is a filesystem).
resource "azurerm_storage_container" "warehouse" {
  #checkov:skip=CKV2_AZURE_21:Blob reads, writes and deletes are logged by azurerm_monitor_diagnostic_setting.blob (StorageRead/StorageWrite/StorageDelete to Log Analytics); the check only recognizes classic storage insights

  name                  = var.warehouse_filesystem_name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}
