variable "environment" {
  type        = string
  description = "Environment name used in resource names."
  default     = "prod"

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

variable "hub" {
  type = object({
    subscription_id         = string
    resource_group_name     = string
    virtual_network_name    = string
    dns_resource_group_name = string
    dns_resolver_ips        = list(string)
    ingress_prefixes        = list(string)
  })
  description = "The hub network: its VNet (peered), where the central privatelink zones live, the DNS resolver's inbound IPs (two, for resilience), and the ranges of the internal ingress."

  validation {
    # Two resolver inbound endpoints (in two zones) so name resolution survives one of them failing.
    condition     = length(var.hub.dns_resolver_ips) >= 2 && alltrue([for ip in var.hub.dns_resolver_ips : can(cidrhost("${ip}/32", 0))]) && alltrue([for cidr in var.hub.ingress_prefixes : can(cidrhost(cidr, 0))])
    error_message = "hub.dns_resolver_ips must be at least two IPv4 addresses and hub.ingress_prefixes CIDR ranges."
  }
}

variable "alert_email_receivers" {
  type        = map(string)
  description = "Who receives cutover alerts: name => e-mail."
  default     = {}

  validation {
    condition     = alltrue([for email in values(var.alert_email_receivers) : strcontains(email, "@")])
    error_message = "Every receiver must be an e-mail address."
  }
}
