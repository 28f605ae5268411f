# The source DSN is stored only when given; otherwise an operator sets it in Key Vault by hand so it never
# passes through Terraform state.
resource "azurerm_key_vault_secret" "source_database_dsn" {
  count = var.source_database_dsn == null ? 0 : 1

  name            = local.secret_names.source_database_dsn
  value           = var.source_database_dsn
  key_vault_id    = module.iceberg.key_vault_id
  content_type    = "text/plain; postgresql url"
  expiration_date = module.iceberg.secret_expiration_date
  tags            = local.tags
}
