locals {
  suffix = coalesce(var.unique_suffix, random_string.suffix.result)
  base   = "${var.name_prefix}-${var.environment}"

  # Globally unique names carry the suffix; storage and Key Vault names allow letters and digits only.
  names = {
    resource_group          = "rg-${local.base}"
    virtual_network         = "vnet-${local.base}"
    storage_account         = "st${var.name_prefix}${var.environment}${local.suffix}"
    key_vault               = "kv${var.name_prefix}${var.environment}${local.suffix}"
    postgresql_server       = "psql-${local.base}-${local.suffix}"
    container_group         = "ci-${local.base}-iceberg-rest"
    app_configuration       = "appcs-${local.base}-${local.suffix}"
    log_analytics_workspace = "log-${local.base}"
    application_insights    = "appi-${local.base}"
    action_group            = "ag-${local.base}"
    action_group_short_name = substr("cutover${var.environment}", 0, 12)
    dashboard               = "dash-${local.base}"
    identity_api            = "id-${local.base}-api"
    identity_worker         = "id-${local.base}-worker"
    identity_catalog        = "id-${local.base}-catalog"
  }

  tags = merge(var.tags, {
    system      = "cutover"
    environment = var.environment
  })

  # Key Vault secrets written by this root module (the lake module writes its own). Names are shared with
  # the SecretProviderClass objects in infra/k8s; tests/infra checks they agree.
  secret_names = {
    source_database_dsn = "source-database-dsn"
  }
}
