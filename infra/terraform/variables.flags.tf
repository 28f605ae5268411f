variable "initial_rollout_percentage" {
  type        = number
  description = "Percentage of contexts reading from Iceberg when the flags are first created. Afterwards the rollout flow owns it; Terraform never changes it again."
  default     = 0
  nullable    = false

  validation {
    condition     = var.initial_rollout_percentage >= 0 && var.initial_rollout_percentage <= 100
    error_message = "initial_rollout_percentage must be between 0 and 100."
  }
}

variable "feature_flag_label" {
  type        = string
  description = "App Configuration label for the flags; null (no label) is what the library reads unless configured otherwise."
  default     = null

  validation {
    condition     = var.feature_flag_label == null || can(regex("^[A-Za-z0-9._-]{1,64}$", coalesce(var.feature_flag_label, "x")))
    error_message = "feature_flag_label must be null or 1-64 letters, digits, '.', '_' or '-'."
  }
}

variable "api_app_configuration_role" {
  type        = string
  description = <<-DESC
    App Configuration data role of the API's identity. "App Configuration Data Owner" (default) because the
    migration controller's own POST /rollback and PUT /flags must work while Prefect is down (design §8).
    "App Configuration Data Reader" makes the API read-only for flags: rollbacks then go through the worker
    (Prefect) or the CLI.
  DESC
  default     = "App Configuration Data Owner"
  nullable    = false

  validation {
    condition     = contains(["App Configuration Data Reader", "App Configuration Data Owner"], var.api_app_configuration_role)
    error_message = "api_app_configuration_role must be \"App Configuration Data Reader\" or \"App Configuration Data Owner\"."
  }
}
