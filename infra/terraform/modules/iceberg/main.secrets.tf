# The catalog database password, for operators and for rotation tooling; the catalog container receives
# it as a secure environment variable (Container Instances cannot read Key Vault by itself).
resource "azurerm_key_vault_secret" "catalog_db_password" {
  name            = local.secret_names.catalog_db_password
  value           = random_password.catalog_db.result
  key_vault_id    = azurerm_key_vault.this.id
  content_type    = "text/plain; postgresql password for ${var.postgresql.administrator_login}"
  expiration_date = time_rotating.secrets.rotation_rfc3339

  tags = var.tags

  depends_on = [azurerm_role_assignment.deployer_secrets_officer]
}

# Prefect's own database lives on the same server when "prefect" is among additional_databases; the
# prefect-server chart reads this connection string through the Secrets Store CSI driver.
resource "azurerm_key_vault_secret" "prefect_database" {
  count = contains(var.postgresql.additional_databases, "prefect") ? 1 : 0

  name            = local.secret_names.prefect_database
  value           = "postgresql+asyncpg://${var.postgresql.administrator_login}:${urlencode(random_password.catalog_db.result)}@${azurerm_postgresql_flexible_server.this.fqdn}:5432/prefect?ssl=require"
  key_vault_id    = azurerm_key_vault.this.id
  content_type    = "text/plain; sqlalchemy url"
  expiration_date = time_rotating.secrets.rotation_rfc3339

  tags = var.tags

  depends_on = [azurerm_role_assignment.deployer_secrets_officer]
}
