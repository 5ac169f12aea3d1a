variable "namespace" {
  description = "Namespace the Prometheus stack runs in (created if missing)."
  type        = string
  nullable    = false
  default     = "monitoring"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "A namespace is a DNS label: lowercase letters, digits and dashes, at most 63."
  }
}

variable "chart_version" {
  description = "Version of the Prometheus stack's Helm chart."
  type        = string
  nullable    = false
  default     = "75.15.1"
  validation {
    condition     = can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+", var.chart_version))
    error_message = "A chart version looks like 1.2.3 (or v1.2.3)."
  }
}

variable "grafana_admin_secret" {
  description = "Existing Secret (keys admin-user, admin-password) with Grafana's admin login; null lets the chart generate one."
  type        = string
  default     = null
}

variable "retention" {
  description = "How long Prometheus keeps samples (Prometheus duration, e.g. 15d)."
  type        = string
  default     = "15d"
  validation {
    condition     = can(regex("^[0-9]+(ms|s|m|h|d|w|y)$", var.retention))
    error_message = "Use a Prometheus duration such as 12h or 15d."
  }
}
