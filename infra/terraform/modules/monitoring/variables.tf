variable "location" {
  type        = string
  description = "Azure region for the workspace, Application Insights, alerts and dashboard."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be a region name such as \"westeurope\" (lowercase, no spaces)."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group that holds the monitoring resources."
  nullable    = false

  validation {
    condition     = can(regex("^[-\\w\\._\\(\\)]{1,90}$", var.resource_group_name))
    error_message = "resource_group_name must be 1-90 characters of letters, digits, '-', '_', '.', '(' or ')'."
  }
}

variable "names" {
  type = object({
    log_analytics_workspace = string
    application_insights    = string
    action_group            = string
    action_group_short_name = string
    dashboard               = string
  })
  description = "Names of the resources this module creates; the root module derives them from one prefix so they stay consistent."
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$", var.names.log_analytics_workspace))
    error_message = "names.log_analytics_workspace must be 4-63 letters, digits or '-', not starting or ending with '-'."
  }

  validation {
    condition     = length(var.names.action_group_short_name) >= 1 && length(var.names.action_group_short_name) <= 12
    error_message = "names.action_group_short_name must be 1-12 characters (an Azure limit: it appears in SMS and e-mail)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of this module."
  default     = {}
  nullable    = false
}

variable "log_retention_days" {
  type        = number
  description = "How long the workspace keeps logs and telemetry. Long enough to cover a whole cutover (weeks) plus the audit period after it."
  default     = 90
  nullable    = false

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be between 30 and 730 (the Log Analytics limits)."
  }
}

variable "internet_ingestion_enabled" {
  type        = bool
  description = <<-DESC
    Whether telemetry may be sent to the workspace and Application Insights over the public endpoint.
    Ingestion is authenticated with Microsoft Entra ID only (local auth is disabled), so a leaked connection
    string cannot be used to write data. Set to false only once an Azure Monitor Private Link Scope serves
    the cluster's network, which this module does not create.
  DESC
  default     = true
  nullable    = false
}

variable "internet_query_enabled" {
  type        = bool
  description = "Whether the workspace may be queried from the public endpoint (the Azure portal, the dashboard). Queries still require Entra ID and RBAC."
  default     = true
  nullable    = false
}

variable "alert_email_receivers" {
  type        = map(string)
  description = "Who the action group e-mails when an alert fires: a map of receiver name to e-mail address."
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for email in values(var.alert_email_receivers) : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "Every alert_email_receivers value must be an e-mail address."
  }
}

variable "validation_success_ratio_threshold" {
  type        = number
  description = "Alert when a parity validation reports a success ratio (matching rows / source rows) below this. 1 means any differing row alerts."
  default     = 1
  nullable    = false

  validation {
    condition     = var.validation_success_ratio_threshold > 0 && var.validation_success_ratio_threshold <= 1
    error_message = "validation_success_ratio_threshold is a ratio: greater than 0 and at most 1."
  }
}

variable "tier_mismatch_rate_threshold" {
  type        = number
  description = "Alert when shadow-compare mismatches divided by Iceberg reads exceeds this rate over the alert window."
  default     = 0.001
  nullable    = false

  validation {
    condition     = var.tier_mismatch_rate_threshold >= 0 && var.tier_mismatch_rate_threshold < 1
    error_message = "tier_mismatch_rate_threshold is a rate: at least 0 and below 1."
  }
}

variable "telemetry_service_names" {
  type = object({
    api    = string
    worker = string
  })
  description = "OpenTelemetry service.name of the API and of the flow-run workers; Application Insights reports it as cloud_RoleName, which the error alert filters on."
  default = {
    api    = "cutover-api"
    worker = "cutover-worker"
  }
  nullable = false

  validation {
    condition     = alltrue([for name in values(var.telemetry_service_names) : can(regex("^[a-z][a-z0-9-]{1,62}$", name))])
    error_message = "telemetry_service_names values must be lowercase names of letters, digits and '-'."
  }
}
