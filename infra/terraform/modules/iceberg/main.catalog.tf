# Identity of the catalog container: writes table metadata to the warehouse, pulls its image from a
# private registry when one is configured. No keys anywhere.
resource "azurerm_user_assigned_identity" "catalog" {
  name                = var.names.catalog_identity
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

# The Iceberg REST catalog. Private IP only in its delegated subnet; the root NSG admits port 8181 from
# the workload subnet alone, which is the catalog's only access control (the REST fixture has no auth).
resource "azurerm_container_group" "catalog" {
  #checkov:skip=CKV_AZURE_235:The only secret (CATALOG_JDBC_PASSWORD) is a secure environment variable; the plain ones are endpoints and IDs that operators need to see when debugging

  name                = var.names.container_group
  location            = var.location
  resource_group_name = var.resource_group_name
  os_type             = "Linux"
  restart_policy      = "Always"
  ip_address_type     = "Private"
  subnet_ids          = [var.catalog.subnet_id]

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.catalog.id]
  }

  dynamic "image_registry_credential" {
    for_each = var.catalog.image_registry == null ? [] : [var.catalog.image_registry.login_server]

    content {
      server                    = image_registry_credential.value
      user_assigned_identity_id = azurerm_user_assigned_identity.catalog.id
    }
  }

  container {
    name   = "iceberg-rest"
    image  = var.catalog.image
    cpu    = var.catalog.cpu
    memory = var.catalog.memory_gb

    ports {
      port     = local.catalog_port
      protocol = "TCP"
    }

    # CATALOG_* variables become catalog properties ("__" stands for "-", "_" for ".").
    environment_variables = merge({
      CATALOG_CATALOG__IMPL = "org.apache.iceberg.jdbc.JdbcCatalog"
      CATALOG_URI           = "jdbc:postgresql://${azurerm_postgresql_flexible_server.this.fqdn}:5432/${local.catalog_database_name}?sslmode=require"
      CATALOG_JDBC_USER     = var.postgresql.administrator_login
      CATALOG_WAREHOUSE     = local.warehouse_uri
      CATALOG_IO__IMPL      = "org.apache.iceberg.azure.adlsv2.ADLSFileIO"
      # DefaultAzureCredential in ADLSFileIO picks the user-assigned identity by its client ID.
      AZURE_CLIENT_ID = azurerm_user_assigned_identity.catalog.client_id
      AZURE_TENANT_ID = data.azurerm_client_config.current.tenant_id
    }, var.catalog.additional_configuration)

    secure_environment_variables = {
      CATALOG_JDBC_PASSWORD = random_password.catalog_db.result
    }

    readiness_probe {
      http_get {
        path   = "/v1/config"
        port   = local.catalog_port
        scheme = "Http"
      }
      initial_delay_seconds = 20
      period_seconds        = 10
      failure_threshold     = 3
    }

    liveness_probe {
      http_get {
        path   = "/v1/config"
        port   = local.catalog_port
        scheme = "Http"
      }
      initial_delay_seconds = 60
      period_seconds        = 30
      failure_threshold     = 3
    }
  }

  tags = var.tags

  depends_on = [
    azurerm_postgresql_flexible_server_database.catalog,
    azurerm_postgresql_flexible_server_configuration.require_secure_transport,
    azurerm_role_assignment.this,
    azurerm_role_assignment.catalog_acr_pull,
  ]
}

resource "azurerm_role_assignment" "catalog_acr_pull" {
  count = var.catalog.image_registry == null ? 0 : 1

  scope                            = var.catalog.image_registry.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_user_assigned_identity.catalog.principal_id
  skip_service_principal_aad_check = true
}
