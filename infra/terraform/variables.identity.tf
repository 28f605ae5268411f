variable "kubernetes_workload_identity" {
  type = object({
    oidc_issuer_url         = string
    namespace               = optional(string, "cutover")
    api_service_account     = optional(string, "cutover-api")
    worker_service_accounts = optional(list(string), ["cutover-worker", "prefect-server"])
  })
  description = <<-DESC
    The AKS cluster's OIDC issuer and the Kubernetes service accounts that act as the API and worker
    identities (Microsoft Entra Workload ID). null creates no federated credentials (e.g. before the cluster
    exists). The defaults match infra/k8s (ServiceAccounts cutover-api and cutover-worker) and the
    prefect-server chart values.
  DESC
  default     = null

  validation {
    condition     = var.kubernetes_workload_identity == null || startswith(try(var.kubernetes_workload_identity.oidc_issuer_url, ""), "https://")
    error_message = "kubernetes_workload_identity.oidc_issuer_url must be an https:// URL (az aks show --query oidcIssuerProfile.issuerUrl)."
  }

  validation {
    condition = var.kubernetes_workload_identity == null || alltrue([
      for name in concat([try(var.kubernetes_workload_identity.api_service_account, "")], try(var.kubernetes_workload_identity.worker_service_accounts, []), [try(var.kubernetes_workload_identity.namespace, "")]) :
      can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name))
    ])
    error_message = "Namespace and service account names must be DNS-1123 labels."
  }
}
