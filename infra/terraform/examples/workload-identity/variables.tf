variable "environment" {
  type        = string
  description = "Environment name used in resource names."
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,4}$", var.environment))
    error_message = "environment must be 2-5 lowercase letters or digits."
  }
}

variable "location" {
  type        = string
  description = "Azure region."
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be a region name such as westeurope."
  }
}

variable "aks" {
  type = object({
    name                = string
    resource_group_name = string
    namespace           = optional(string, "cutover")
  })
  description = "The AKS cluster (with --enable-oidc-issuer --enable-workload-identity) and the namespace the kustomize overlay deploys into."

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.aks.namespace))
    error_message = "aks.namespace must be a DNS-1123 label."
  }
}

variable "allowed_deployer_ip_ranges" {
  type        = list(string)
  description = "Public IP(s) of the machine running Terraform when it is outside the VNet."
  default     = []

  validation {
    condition     = !contains(var.allowed_deployer_ip_ranges, "0.0.0.0/0")
    error_message = "Never open the firewalls to 0.0.0.0/0."
  }
}
