output "id" {
  description = "Resource ID of the App Configuration store."
  value       = azurerm_app_configuration.this.id
}

output "endpoint" {
  description = "Endpoint URL of the store (https://<name>.azconfig.io); resolves to the private endpoint inside the VNet."
  value       = azurerm_app_configuration.this.endpoint
}

output "feature_flag_ids" {
  description = "IDs of the feature flags, by flag name."
  value       = { for name, flag in azurerm_app_configuration_feature.this : name => flag.id }
}

output "private_endpoint_ip" {
  description = "Private IP address of the store's private endpoint."
  value       = azurerm_private_endpoint.this.private_service_connection[0].private_ip_address
}
