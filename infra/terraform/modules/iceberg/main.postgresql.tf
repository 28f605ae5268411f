# The catalog database password: generated, never typed, rotated with the secret expiry.
resource "random_password" "catalog_db" {
  length           = 40
  special          = true
  override_special = "-_.~"
  min_lower        = 4
  min_upper        = 4
  min_numeric      = 4

  keepers = {
    rotation = time_rotating.secrets.id
  }
}

# PostgreSQL Flexible Server for the Iceberg REST catalog's JDBC tables. VNet-injected into a delegated
# subnet: it has no public endpoint at all, and only the catalog subnet may reach 5432 (root NSG).
resource "azurerm_postgresql_flexible_server" "this" {
  #checkov:skip=CKV2_AZURE_57:VNet-injected server (delegated subnet, private DNS zone, public access off): it has no public endpoint, and private endpoints do not apply to VNet-integrated servers

  name                = var.names.postgresql_server
  resource_group_name = var.resource_group_name
  location            = var.location
  version             = var.postgresql.version
  sku_name            = var.postgresql.sku_name
  storage_mb          = var.postgresql.storage_mb
  auto_grow_enabled   = true

  delegated_subnet_id           = var.postgresql.delegated_subnet_id
  private_dns_zone_id           = var.postgresql.private_dns_zone_id
  public_network_access_enabled = false

  # Password authentication is required by the catalog's JDBC driver (it cannot fetch Entra tokens).
  # Entra authentication is on as well, so operators can sign in with their own identities once an Entra
  # administrator is assigned (azurerm_postgresql_flexible_server_active_directory_administrator).
  authentication {
    password_auth_enabled         = true
    active_directory_auth_enabled = true
    tenant_id                     = data.azurerm_client_config.current.tenant_id
  }
  administrator_login    = var.postgresql.administrator_login
  administrator_password = random_password.catalog_db.result

  backup_retention_days        = var.postgresql.backup_retention_days
  geo_redundant_backup_enabled = var.postgresql.geo_redundant_backup_enabled

  dynamic "high_availability" {
    for_each = var.postgresql.high_availability_mode == null ? [] : [var.postgresql.high_availability_mode]

    content {
      mode = high_availability.value
    }
  }

  tags = var.tags

  lifecycle {
    # Azure moves the primary to the standby zone on failover; Terraform must not move it back.
    ignore_changes = [zone, high_availability[0].standby_availability_zone]
  }
}

# TLS only, 1.2 or newer, for every connection (the catalog connects with sslmode=require).
resource "azurerm_postgresql_flexible_server_configuration" "require_secure_transport" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"
}

resource "azurerm_postgresql_flexible_server_configuration" "ssl_min_protocol_version" {
  name      = "ssl_min_protocol_version"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "TLSv1.2"
}

# Connection logging, so a catalog outage can be told apart from a network or credential problem.
resource "azurerm_postgresql_flexible_server_configuration" "log_connections" {
  name      = "log_connections"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"
}

resource "azurerm_postgresql_flexible_server_database" "catalog" {
  name      = local.catalog_database_name
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"

  lifecycle {
    # Dropping this database drops every table's pointer to its current metadata file.
    prevent_destroy = true
  }
}

resource "azurerm_postgresql_flexible_server_database" "additional" {
  for_each = toset(var.postgresql.additional_databases)

  name      = each.value
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}
