variable "name" {
  type        = string
  description = "Name of the App Configuration store (globally unique: it becomes <name>.azconfig.io)."
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{3,48}[A-Za-z0-9]$", var.name)) && !can(regex("--", var.name))
    error_message = "name must be 5-50 letters, digits or single '-', starting and ending with a letter or digit."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the store."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be a region name such as \"westeurope\"."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group that holds the store, its private endpoint and its alert."
  nullable    = false

  validation {
    condition     = length(var.resource_group_name) > 0 && length(var.resource_group_name) <= 90
    error_message = "resource_group_name must be 1-90 characters."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of this module."
  default     = {}
  nullable    = false
}

variable "sku" {
  type        = string
  description = "Store SKU. Purge protection, private endpoints and soft delete need at least \"standard\"; \"premium\" adds replicas and a higher request quota."
  default     = "standard"
  nullable    = false

  validation {
    condition     = contains(["standard", "premium"], var.sku)
    error_message = "sku must be \"standard\" or \"premium\": the free and developer SKUs have no purge protection or private endpoints."
  }
}

variable "soft_delete_retention_days" {
  type        = number
  description = "Days a deleted store stays recoverable. With purge protection on it can be set only once."
  default     = 7
  nullable    = false

  validation {
    condition     = var.soft_delete_retention_days >= 1 && var.soft_delete_retention_days <= 7
    error_message = "soft_delete_retention_days must be between 1 and 7."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  description = <<-DESC
    Whether the store answers on its public endpoint. Off by default: clients reach it through the private
    endpoint. Note that Terraform writes feature flags through the data plane too, so with this off Terraform
    must run from a network that resolves and reaches the private endpoint (e.g. a runner inside the VNet).
  DESC
  default     = false
  nullable    = false
}

variable "feature_flag_names" {
  type        = list(string)
  description = "The feature flags to create, one App Configuration feature each. The root module passes the single list that mirrors cutover.names.ALL_FLAGS."
  nullable    = false

  validation {
    condition     = length(var.feature_flag_names) > 0 && length(distinct(var.feature_flag_names)) == length(var.feature_flag_names)
    error_message = "feature_flag_names must be a non-empty list without duplicates."
  }

  validation {
    # App Configuration allows more, but ':' is cutover's entity-scope separator (flag:namespace.table)
    # and must not occur in a global flag name.
    condition     = alltrue([for flag in var.feature_flag_names : can(regex("^[a-z0-9][a-z0-9-]*$", flag))])
    error_message = "feature flag names must be lowercase letters, digits and '-' (':' is reserved for entity scoping)."
  }
}

variable "rollout_percentage_flag_name" {
  type        = string
  description = "Which of feature_flag_names carries a Microsoft.Targeting filter whose default rollout percentage is the share of contexts reading from Iceberg."
  nullable    = false

  validation {
    condition     = contains(var.feature_flag_names, var.rollout_percentage_flag_name)
    error_message = "rollout_percentage_flag_name must be one of feature_flag_names."
  }
}

variable "initial_rollout_percentage" {
  type        = number
  description = "Default rollout percentage the targeting flag is created with. Only used at creation: afterwards the rollout flow owns the value."
  default     = 0
  nullable    = false

  validation {
    condition     = var.initial_rollout_percentage >= 0 && var.initial_rollout_percentage <= 100 && floor(var.initial_rollout_percentage) == var.initial_rollout_percentage
    error_message = "initial_rollout_percentage must be a whole number from 0 to 100."
  }
}

variable "feature_flag_label" {
  type        = string
  description = "App Configuration label for the flags (e.g. an environment name when stores are shared). null means no label, which is what the library reads by default."
  default     = null

  validation {
    condition     = var.feature_flag_label == null || can(regex("^[A-Za-z0-9._-]{1,64}$", coalesce(var.feature_flag_label, "x")))
    error_message = "feature_flag_label must be null or 1-64 letters, digits, '.', '_' or '-'."
  }
}

variable "data_reader_principal_ids" {
  type        = map(string)
  description = "Principals granted App Configuration Data Reader, by a stable key (e.g. { api = <principal id> })."
  default     = {}
  nullable    = false
}

variable "data_owner_principal_ids" {
  type        = map(string)
  description = "Principals granted App Configuration Data Owner (they write flags: rollout and rollback), by a stable key."
  default     = {}
  nullable    = false
}

variable "grant_deployer_data_owner" {
  type        = bool
  description = "Grant the identity running Terraform Data Owner on the store. Needed because local auth is disabled and flags are created through the data plane with Entra ID."
  default     = true
  nullable    = false
}

variable "private_endpoint" {
  type = object({
    subnet_id           = string
    private_dns_zone_id = string
  })
  description = "Subnet for the store's private endpoint and the privatelink.azconfig.io zone its record is registered in."
  nullable    = false

  validation {
    condition     = can(regex("/subnets/[^/]+$", var.private_endpoint.subnet_id))
    error_message = "private_endpoint.subnet_id must be a subnet resource ID."
  }

  validation {
    condition     = can(regex("/privateDnsZones/privatelink\\.azconfig\\.io$", var.private_endpoint.private_dns_zone_id))
    error_message = "private_endpoint.private_dns_zone_id must be the ID of a privatelink.azconfig.io private DNS zone."
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace that receives the store's request and audit logs; the flag-change alert queries it."
  nullable    = false

  validation {
    condition     = can(regex("/providers/Microsoft.OperationalInsights/workspaces/[^/]+$", var.log_analytics_workspace_id))
    error_message = "log_analytics_workspace_id must be a Log Analytics workspace resource ID."
  }
}

variable "action_group_id" {
  type        = string
  description = "Action group notified when a feature flag changes."
  nullable    = false

  validation {
    condition     = can(regex("/providers/Microsoft.Insights/actionGroups/[^/]+$", var.action_group_id))
    error_message = "action_group_id must be an action group resource ID."
  }
}
