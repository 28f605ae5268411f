output "catalog_uri" {
  description = "CUTOVER_CATALOG_URI for the workloads."
  value       = module.cutover.catalog_uri
}

output "virtual_network_id" {
  description = "The spoke VNet; the hub side of the peering is created by the hub team."
  value       = module.cutover.virtual_network_id
}
