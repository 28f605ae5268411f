terraform {
  # 1.9 lets a variable's validation refer to other variables; 1.11 is what CI formats with.
  required_version = ">= 1.9, < 2.0"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.42 is the first release with the current argument names used here
      # (e.g. rbac_authorization_enabled); 5.x will rename more, so it is excluded until tested.
      version = ">= 4.42, < 5.0"
    }
  }
}
