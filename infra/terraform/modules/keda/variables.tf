variable "namespace" {
  description = "Namespace the KEDA operator runs in (created if missing)."
  type        = string
  nullable    = false
  default     = "keda"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "A namespace is a DNS label: lowercase letters, digits and dashes, at most 63."
  }
}

variable "chart_version" {
  description = "Version of the KEDA operator's Helm chart."
  type        = string
  nullable    = false
  default     = "2.17.2"
  validation {
    condition     = can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+", var.chart_version))
    error_message = "A chart version looks like 1.2.3 (or v1.2.3)."
  }
}
