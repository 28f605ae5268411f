# The smallest deployment: one environment with every default (private endpoints, deny-by-default NSGs,
# Entra-only auth). Terraform writes Key Vault secrets and App Configuration flags through their data
# planes, so run it from inside the VNet, or pass your runner's public IP in allowed_deployer_ip_ranges.
module "cutover" {
  source = "../../"

  environment = var.environment
  location    = var.location

  allowed_deployer_ip_ranges = var.allowed_deployer_ip_ranges
  alert_email_receivers      = var.alert_email_receivers

  # A small catalog database for a first environment; production keeps the GP default and HA.
  postgresql = {
    sku_name = "B_Standard_B1ms"
  }
}
