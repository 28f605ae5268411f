variable "location" {
  type        = string
  description = "Azure region for every resource of the lake."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be a region name such as \"westeurope\"."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group that holds the lake."
  nullable    = false

  validation {
    condition     = length(var.resource_group_name) > 0 && length(var.resource_group_name) <= 90
    error_message = "resource_group_name must be 1-90 characters."
  }
}

variable "names" {
  type = object({
    storage_account   = string
    key_vault         = string
    postgresql_server = string
    container_group   = string
    catalog_identity  = string
  })
  description = "Names of the resources this module creates. Storage account, Key Vault and PostgreSQL server names are globally unique; the root module adds a suffix."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.names.storage_account))
    error_message = "names.storage_account must be 3-24 lowercase letters and digits."
  }

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$", var.names.key_vault)) && !can(regex("--", var.names.key_vault))
    error_message = "names.key_vault must be 3-24 letters, digits or single '-', starting with a letter."
  }

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.names.postgresql_server))
    error_message = "names.postgresql_server must be 3-63 lowercase letters, digits or '-'."
  }

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$", var.names.container_group))
    error_message = "names.container_group must be 2-63 lowercase letters, digits or '-'."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of this module."
  default     = {}
  nullable    = false
}

variable "warehouse_filesystem_name" {
  type        = string
  description = "ADLS Gen2 filesystem (container) holding Iceberg data and metadata files; the warehouse URI is abfss://<this>@<account>.dfs.core.windows.net/."
  default     = "warehouse"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", var.warehouse_filesystem_name))
    error_message = "warehouse_filesystem_name must be 3-63 lowercase letters, digits or single '-', starting and ending with a letter or digit."
  }
}

variable "storage_replication_type" {
  type        = string
  description = "Replication of the lake storage. Geo-zone-redundant by default: Iceberg is a second copy of PostgreSQL, but rebuilding it costs a full load."
  default     = "GZRS"
  nullable    = false

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be one of LRS, ZRS, GRS, RAGRS, GZRS or RAGZRS."
  }
}

variable "soft_delete_retention_days" {
  type        = number
  description = "Days deleted blobs and deleted containers stay recoverable (guards against a mistaken table drop or expire_snapshots)."
  default     = 14
  nullable    = false

  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 365
    error_message = "soft_delete_retention_days must be between 7 and 365."
  }
}

variable "allowed_ip_ranges" {
  type        = list(string)
  description = <<-DESC
    Public IPs (plain addresses, /32s or CIDR ranges up to /30; the storage firewall gets /32s as plain addresses) allowed through the storage and Key Vault firewalls,
    e.g. the Terraform runner writing Key Vault secrets. Empty (default) keeps both public endpoints off:
    everything goes through private endpoints.
  DESC
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for range in var.allowed_ip_ranges :
      can(regex("^(\\d{1,3}\\.){3}\\d{1,3}(/(\\d|[12]\\d|30|32))?$", range)) && !startswith(range, "0.0.0.0")
    ])
    error_message = "allowed_ip_ranges entries must be IPv4 addresses, /32s or CIDR ranges no smaller than /30 (the storage firewall rejects /31), never 0.0.0.0/0."
  }
}

variable "private_endpoints" {
  type = object({
    subnet_id                 = string
    blob_private_dns_zone_id  = string
    dfs_private_dns_zone_id   = string
    vault_private_dns_zone_id = string
  })
  description = "Subnet for the private endpoints of the storage account (blob and dfs) and the Key Vault, and the private DNS zones their records go into."
  nullable    = false

  validation {
    condition     = can(regex("/subnets/[^/]+$", var.private_endpoints.subnet_id))
    error_message = "private_endpoints.subnet_id must be a subnet resource ID."
  }

  validation {
    condition = alltrue([
      can(regex("/privateDnsZones/privatelink\\.blob\\.", var.private_endpoints.blob_private_dns_zone_id)),
      can(regex("/privateDnsZones/privatelink\\.dfs\\.", var.private_endpoints.dfs_private_dns_zone_id)),
      can(regex("/privateDnsZones/privatelink\\.vaultcore\\.", var.private_endpoints.vault_private_dns_zone_id)),
    ])
    error_message = "private_endpoints zone IDs must point at the privatelink.blob, privatelink.dfs and privatelink.vaultcore zones respectively."
  }
}

variable "postgresql" {
  type = object({
    delegated_subnet_id          = string
    private_dns_zone_id          = string
    sku_name                     = optional(string, "GP_Standard_D2ds_v5")
    version                      = optional(string, "16")
    storage_mb                   = optional(number, 32768)
    backup_retention_days        = optional(number, 14)
    geo_redundant_backup_enabled = optional(bool, true)
    high_availability_mode       = optional(string)
    administrator_login          = optional(string, "icebergadmin")
    additional_databases         = optional(list(string), [])
  })
  description = <<-DESC
    The Azure Database for PostgreSQL Flexible Server backing the Iceberg REST catalog (its JDBC catalog
    tables). It is injected into a delegated subnet with a private DNS zone: no public endpoint at all.
    additional_databases creates more databases on the same server (e.g. Prefect's own database).
    high_availability_mode is null (none), "SameZone" or "ZoneRedundant"; HA needs a non-burstable SKU.
  DESC
  nullable    = false

  validation {
    condition     = can(regex("/subnets/[^/]+$", var.postgresql.delegated_subnet_id))
    error_message = "postgresql.delegated_subnet_id must be a subnet resource ID (delegated to Microsoft.DBforPostgreSQL/flexibleServers)."
  }

  validation {
    condition     = can(regex("/privateDnsZones/[^/]+\\.postgres\\.database\\.azure\\.com$", var.postgresql.private_dns_zone_id))
    error_message = "postgresql.private_dns_zone_id must be a private DNS zone whose name ends in .postgres.database.azure.com."
  }

  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_[A-Za-z0-9_]+$", var.postgresql.sku_name))
    error_message = "postgresql.sku_name must look like B_Standard_B1ms, GP_Standard_D2ds_v5 or MO_Standard_E4ds_v5."
  }

  validation {
    condition     = contains(["14", "15", "16", "17"], var.postgresql.version)
    error_message = "postgresql.version must be 14, 15, 16 or 17."
  }

  validation {
    condition     = var.postgresql.backup_retention_days >= 7 && var.postgresql.backup_retention_days <= 35
    error_message = "postgresql.backup_retention_days must be between 7 and 35."
  }

  validation {
    condition     = var.postgresql.high_availability_mode == null || contains(["SameZone", "ZoneRedundant"], coalesce(var.postgresql.high_availability_mode, "none"))
    error_message = "postgresql.high_availability_mode must be null, \"SameZone\" or \"ZoneRedundant\"."
  }

  validation {
    condition     = var.postgresql.high_availability_mode == null || !startswith(var.postgresql.sku_name, "B_")
    error_message = "High availability is not available on burstable (B_) SKUs."
  }

  validation {
    condition     = alltrue([for db in var.postgresql.additional_databases : can(regex("^[a-z_][a-z0-9_]{0,62}$", db))])
    error_message = "postgresql.additional_databases must be lowercase identifiers (letters, digits, '_')."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{2,62}$", var.postgresql.administrator_login)) && !contains(["admin", "administrator", "root", "postgres", "azure_superuser", "azure_pg_admin", "guest", "public"], var.postgresql.administrator_login)
    error_message = "postgresql.administrator_login must be a lowercase identifier and not a name Azure reserves (admin, root, postgres, ...)."
  }
}

variable "catalog" {
  type = object({
    subnet_id = string
    image     = optional(string, "tabulario/iceberg-rest:1.6.0")
    image_registry = optional(object({
      id           = string
      login_server = string
    }))
    cpu                      = optional(number, 1)
    memory_gb                = optional(number, 2)
    additional_configuration = optional(map(string), {})
  })
  description = <<-DESC
    The Iceberg REST catalog: a container group in a subnet delegated to Microsoft.ContainerInstance/containerGroups,
    private IP only, listening on 8181. The image must bundle the PostgreSQL JDBC driver and iceberg-azure
    (ADLSFileIO) and read CATALOG_* environment variables as catalog properties, as tabulario/iceberg-rest and
    apache/iceberg-rest-fixture do. Pin a tag or digest and mirror it into a private registry for production:
    set image_registry to the registry's resource ID and login server, and the catalog identity is granted
    AcrPull on it and pulls without credentials.
    additional_configuration adds CATALOG_* variables (e.g. { CATALOG_JDBC_SCHEMA__VERSION = "V1" }).
  DESC
  nullable    = false

  validation {
    condition     = can(regex("/subnets/[^/]+$", var.catalog.subnet_id))
    error_message = "catalog.subnet_id must be a subnet resource ID (delegated to Microsoft.ContainerInstance/containerGroups)."
  }

  validation {
    condition     = can(regex("(:[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$", var.catalog.image)) && !endswith(var.catalog.image, ":latest")
    error_message = "catalog.image must be pinned to a tag other than latest, or to a sha256 digest, so a restart never changes the catalog version."
  }

  validation {
    condition     = var.catalog.cpu >= 0.5 && var.catalog.cpu <= 4 && var.catalog.memory_gb >= 1 && var.catalog.memory_gb <= 16
    error_message = "catalog.cpu must be 0.5-4 cores and catalog.memory_gb 1-16 GB."
  }

  validation {
    condition     = var.catalog.image_registry == null || can(regex("/providers/Microsoft.ContainerRegistry/registries/[^/]+$", try(var.catalog.image_registry.id, "")))
    error_message = "catalog.image_registry.id must be a container registry resource ID."
  }

  validation {
    condition     = alltrue([for key in keys(var.catalog.additional_configuration) : can(regex("^CATALOG_[A-Z0-9_]+$", key))])
    error_message = "catalog.additional_configuration keys must be CATALOG_* variable names."
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace receiving the storage, Key Vault and PostgreSQL diagnostic logs."
  nullable    = false

  validation {
    condition     = can(regex("/providers/Microsoft.OperationalInsights/workspaces/[^/]+$", var.log_analytics_workspace_id))
    error_message = "log_analytics_workspace_id must be a Log Analytics workspace resource ID."
  }
}

variable "warehouse_writer_principal_ids" {
  type        = map(string)
  description = "Principals that write Iceberg data files (the flow-run worker), by stable key: Storage Blob Data Contributor on the warehouse filesystem only."
  default     = {}
  nullable    = false
}

variable "warehouse_reader_principal_ids" {
  type        = map(string)
  description = "Principals that only read Iceberg tables (the API's data tier), by stable key: Storage Blob Data Reader on the warehouse filesystem."
  default     = {}
  nullable    = false
}

variable "secret_reader_principal_ids" {
  type        = map(string)
  description = "Principals that read Key Vault secrets (workloads through the Secrets Store CSI driver), by stable key: Key Vault Secrets User."
  default     = {}
  nullable    = false
}

variable "grant_deployer_secrets_officer" {
  type        = bool
  description = "Grant the identity running Terraform Key Vault Secrets Officer, needed to write secrets because the vault uses RBAC only."
  default     = true
  nullable    = false
}

variable "secret_expiration_days" {
  type        = number
  description = "Secrets written by Terraform expire after this many days, which forces a rotation (re-apply) instead of credentials living forever."
  default     = 365
  nullable    = false

  validation {
    condition     = var.secret_expiration_days >= 30 && var.secret_expiration_days <= 730
    error_message = "secret_expiration_days must be between 30 and 730."
  }
}
