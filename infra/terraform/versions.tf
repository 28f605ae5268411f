terraform {
  # 1.9 lets a variable's validation refer to other variables; 1.11 is what CI formats with.
  required_version = ">= 1.9, < 2.0"

  # This is a reusable root module: providers are configured by the caller (see examples/), which must set
  # `storage_use_azuread = true` because the storage account has shared keys disabled.
  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.42 is the first release with the current argument names used here; 5.x is untested.
      version = ">= 4.42, < 5.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
    time = {
      source  = "hashicorp/time"
      version = ">= 0.11, < 1.0"
    }
  }
}
