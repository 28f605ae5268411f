output "catalog_uri" {
  description = "CUTOVER_CATALOG_URI for the workloads."
  value       = module.cutover.catalog_uri
}

output "warehouse_uri" {
  description = "CUTOVER_WAREHOUSE for the workloads."
  value       = module.cutover.warehouse_uri
}

output "app_configuration_endpoint" {
  description = "App Configuration endpoint holding the feature flags."
  value       = module.cutover.app_configuration_endpoint
}
