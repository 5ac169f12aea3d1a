variable "namespace" {
  description = "Namespace cert-manager runs in (created if missing)."
  type        = string
  nullable    = false
  default     = "cert-manager"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "A namespace is a DNS label: lowercase letters, digits and dashes, at most 63."
  }
}

variable "chart_version" {
  description = "Version of the cert-manager Helm chart."
  type        = string
  nullable    = false
  default     = "v1.17.2"
  validation {
    condition     = can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+", var.chart_version))
    error_message = "A chart version looks like 1.2.3 (or v1.2.3)."
  }
}
