variable "vnet_address_space" {
  type        = list(string)
  description = "Address space of the cutover virtual network."
  default     = ["10.40.0.0/16"]
  nullable    = false

  validation {
    condition     = length(var.vnet_address_space) > 0 && alltrue([for cidr in var.vnet_address_space : can(cidrhost(cidr, 0))])
    error_message = "vnet_address_space must be a non-empty list of CIDR ranges."
  }
}

variable "subnet_address_prefixes" {
  type = object({
    workload          = string
    private_endpoints = string
    catalog           = string
    postgresql        = string
  })
  description = <<-DESC
    One CIDR per subnet: workload (the AKS nodes running the API, Prefect and flow-run pods), private_endpoints
    (storage, Key Vault, App Configuration), catalog (delegated to Container Instances, the REST catalog) and
    postgresql (delegated to PostgreSQL Flexible Server, the catalog database).
  DESC
  default = {
    workload          = "10.40.0.0/20"
    private_endpoints = "10.40.16.0/24"
    catalog           = "10.40.17.0/27"
    postgresql        = "10.40.18.0/28"
  }
  nullable = false

  validation {
    condition     = alltrue([for cidr in values(var.subnet_address_prefixes) : can(cidrhost(cidr, 0))])
    error_message = "Every subnet_address_prefixes value must be a CIDR range."
  }

  validation {
    # Container Instances need at least a /29; PostgreSQL Flexible Server documents /28 as the minimum.
    condition     = tonumber(split("/", var.subnet_address_prefixes.catalog)[1]) <= 29 && tonumber(split("/", var.subnet_address_prefixes.postgresql)[1]) <= 28
    error_message = "The catalog subnet must be /29 or larger and the postgresql subnet /28 or larger."
  }
}

variable "workload_inbound_allowed_prefixes" {
  type        = list(string)
  description = "Source ranges allowed to reach the workload subnet on 443 (e.g. an internal ingress fronting the migration controller API). Empty: only the Azure load balancer and the subnet itself get in."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for cidr in var.workload_inbound_allowed_prefixes : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "workload_inbound_allowed_prefixes must be CIDR ranges, never 0.0.0.0/0."
  }
}

variable "vnet_dns_servers" {
  type        = list(string)
  description = "Custom DNS servers for the VNet (e.g. a hub's DNS private resolver that serves central privatelink zones). Empty uses Azure-provided DNS and the zones linked below."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for ip in var.vnet_dns_servers : can(cidrhost("${ip}/32", 0))])
    error_message = "vnet_dns_servers must be IPv4 addresses."
  }
}

variable "existing_private_dns_zone_ids" {
  type = object({
    blob       = optional(string)
    dfs        = optional(string)
    vault      = optional(string)
    azconfig   = optional(string)
    postgresql = optional(string)
  })
  description = <<-DESC
    Private DNS zones that already exist (hub-and-spoke with central DNS), by purpose. Each zone not given
    here is created in the cutover resource group. The PostgreSQL zone name must end in
    .postgres.database.azure.com.
  DESC
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for id in values(var.existing_private_dns_zone_ids) :
      id == null || can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/privateDnsZones/[^/]+$", coalesce(id, "x")))
    ])
    error_message = "existing_private_dns_zone_ids values must be private DNS zone resource IDs."
  }
}

variable "link_existing_private_dns_zones" {
  type        = bool
  description = "Link the existing zones to the cutover VNet too. Set false when the zones live in another subscription or a central team links them (then vnet_dns_servers usually points at the hub resolver)."
  default     = true
  nullable    = false
}

variable "allowed_deployer_ip_ranges" {
  type        = list(string)
  description = <<-DESC
    Public IPv4 addresses or ranges (up to /30) of the machine running Terraform. Terraform writes Key Vault
    secrets and App Configuration flags through their data planes; with this empty (default) every public
    endpoint stays off and Terraform must run inside the VNet (or a peered one). When set, the Key Vault and
    storage firewalls admit only these, and the App Configuration public endpoint is enabled (it has no IP
    firewall; Entra ID and RBAC still apply).
  DESC
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for range in var.allowed_deployer_ip_ranges :
      can(regex("^(\\d{1,3}\\.){3}\\d{1,3}(/(\\d|[12]\\d|30|32))?$", range)) && !startswith(range, "0.0.0.0")
    ])
    error_message = "allowed_deployer_ip_ranges entries must be IPv4 addresses or CIDR ranges (no smaller than /30, or /32), never 0.0.0.0/0."
  }
}
