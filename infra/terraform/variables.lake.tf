variable "storage_replication_type" {
  type        = string
  description = "Replication of the ADLS Gen2 account holding the Iceberg warehouse."
  default     = "GZRS"
  nullable    = false

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be one of LRS, ZRS, GRS, RAGRS, GZRS or RAGZRS."
  }
}

variable "catalog_image" {
  type        = string
  description = "Iceberg REST catalog image, pinned (tag other than latest, or digest). It must bundle the PostgreSQL JDBC driver and iceberg-azure."
  default     = "tabulario/iceberg-rest:1.6.0"
  nullable    = false

  validation {
    condition     = can(regex("(:[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$", var.catalog_image)) && !endswith(var.catalog_image, ":latest")
    error_message = "catalog_image must be pinned to a tag other than latest, or to a sha256 digest."
  }
}

variable "catalog_image_registry" {
  type = object({
    id           = string
    login_server = string
  })
  description = "Private registry (Azure Container Registry) the catalog image is pulled from with the catalog's managed identity. null pulls anonymously from a public registry."
  default     = null

  validation {
    condition     = var.catalog_image_registry == null || can(regex("/providers/Microsoft.ContainerRegistry/registries/[^/]+$", try(var.catalog_image_registry.id, "")))
    error_message = "catalog_image_registry.id must be a container registry resource ID."
  }
}

variable "postgresql" {
  type = object({
    sku_name                     = optional(string, "GP_Standard_D2ds_v5")
    version                      = optional(string, "16")
    storage_mb                   = optional(number, 32768)
    backup_retention_days        = optional(number, 14)
    geo_redundant_backup_enabled = optional(bool, true)
    high_availability_mode       = optional(string)
  })
  description = "Size and resilience of the PostgreSQL Flexible Server that holds the Iceberg catalog and Prefect's own database. modules/iceberg validates the combinations (e.g. no HA on burstable SKUs)."
  default     = {}
  nullable    = false

  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_[A-Za-z0-9_]+$", var.postgresql.sku_name))
    error_message = "postgresql.sku_name must look like B_Standard_B1ms, GP_Standard_D2ds_v5 or MO_Standard_E4ds_v5."
  }
}

variable "source_database_dsn" {
  type        = string
  description = <<-DESC
    Connection string of the PostgreSQL system of record (CUTOVER_SOURCE_DSN). When set it is stored in Key
    Vault as "source-database-dsn" for the API and workers; when null an operator stores it there by hand
    (docs runbook), which keeps it out of Terraform state.
  DESC
  default     = null
  sensitive   = true

  validation {
    condition     = var.source_database_dsn == null || can(regex("^postgres(ql)?://", coalesce(var.source_database_dsn, "postgresql://")))
    error_message = "source_database_dsn must be a postgresql:// URL."
  }
}
