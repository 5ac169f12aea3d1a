variable "namespace" {
  description = "Namespace the Strimzi operator runs in (created if missing)."
  type        = string
  nullable    = false
  default     = "strimzi"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "A namespace is a DNS label: lowercase letters, digits and dashes, at most 63."
  }
}

variable "chart_version" {
  description = "Version of the Strimzi operator's Helm chart."
  type        = string
  nullable    = false
  default     = "0.47.0"
  validation {
    condition     = can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+", var.chart_version))
    error_message = "A chart version looks like 1.2.3 (or v1.2.3)."
  }
}

variable "watch_namespaces" {
  description = "Namespaces whose Kafka resources the operator manages."
  type        = list(string)
  validation {
    condition     = length(var.watch_namespaces) > 0
    error_message = "Watch at least one namespace (the application's)."
  }
}
