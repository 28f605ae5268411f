variable "name_prefix" {
  type        = string
  description = "Short prefix of every resource name (letters and digits only, because storage account and Key Vault names allow nothing else)."
  default     = "cutover"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.name_prefix))
    error_message = "name_prefix must be 2-10 lowercase letters or digits, starting with a letter."
  }
}

variable "environment" {
  type        = string
  description = "Environment name used in resource names and tags (e.g. dev, test, prod)."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,4}$", var.environment))
    error_message = "environment must be 2-5 lowercase letters or digits, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region for every resource (e.g. westeurope)."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be a region name such as \"westeurope\" (lowercase, no spaces)."
  }
}

variable "unique_suffix" {
  type        = string
  description = "Suffix that makes globally unique names (storage account, Key Vault, PostgreSQL, App Configuration) unique. null generates a random one, kept in state."
  default     = null

  validation {
    condition     = var.unique_suffix == null || can(regex("^[a-z0-9]{4,6}$", coalesce(var.unique_suffix, "none")))
    error_message = "unique_suffix must be null or 4-6 lowercase letters or digits."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource, on top of system/environment tags set by this module."
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for key, value in var.tags : length(key) <= 512 && length(value) <= 256])
    error_message = "Tag names must be at most 512 characters and values at most 256 (Azure limits)."
  }
}
