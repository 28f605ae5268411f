variable "log_retention_days" {
  type        = number
  description = "Retention of logs and telemetry in the Log Analytics workspace."
  default     = 90
  nullable    = false

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be between 30 and 730."
  }
}

variable "alert_email_receivers" {
  type        = map(string)
  description = "People e-mailed by every cutover alert: receiver name => address."
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for email in values(var.alert_email_receivers) : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "Every alert_email_receivers value must be an e-mail address."
  }
}

variable "validation_success_ratio_threshold" {
  type        = number
  description = "Alert when a validation's success ratio falls below this (1 = any differing row)."
  default     = 1
  nullable    = false

  validation {
    condition     = var.validation_success_ratio_threshold > 0 && var.validation_success_ratio_threshold <= 1
    error_message = "validation_success_ratio_threshold must be greater than 0 and at most 1."
  }
}

variable "tier_mismatch_rate_threshold" {
  type        = number
  description = "Alert when shadow-compare mismatches per Iceberg read exceed this rate."
  default     = 0.001
  nullable    = false

  validation {
    condition     = var.tier_mismatch_rate_threshold >= 0 && var.tier_mismatch_rate_threshold < 1
    error_message = "tier_mismatch_rate_threshold must be at least 0 and below 1."
  }
}
