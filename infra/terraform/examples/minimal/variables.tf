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

variable "allowed_deployer_ip_ranges" {
  type        = list(string)
  description = "Public IP(s) of the machine running Terraform when it is outside the VNet."
  default     = []

  validation {
    condition     = !contains(var.allowed_deployer_ip_ranges, "0.0.0.0/0")
    error_message = "Never open the firewalls to 0.0.0.0/0."
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
