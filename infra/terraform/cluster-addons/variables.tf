variable "kubeconfig_path" {
  description = "kubeconfig that reaches the cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "Context of the kubeconfig to use; null for its current context."
  type        = string
  default     = null
}

variable "namespace" {
  description = "Namespace of the application (SpinApp, kafka-bridge, Redis, Kafka)."
  type        = string
  default     = "spinshop"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "A namespace is a DNS label: lowercase letters, digits and dashes, at most 63."
  }
}

variable "pod_security" {
  description = "Pod Security Standard enforced in the application namespace."
  type        = string
  default     = "baseline"
}

variable "chart_versions" {
  description = "Helm chart version of each add-on; unset ones take the version the module pins."
  type = object({
    cert_manager          = optional(string)
    runtime_class_manager = optional(string)
    spin_operator         = optional(string)
    strimzi               = optional(string)
    keda                  = optional(string)
    prometheus_stack      = optional(string)
  })
  default = {}
}

variable "shim_node_selector" {
  description = "Labels of the nodes that run Spin apps (runtime-class-manager installs the shim there)."
  type        = map(string)
  default     = { spin = "true" }
  validation {
    condition     = length(var.shim_node_selector) > 0
    error_message = "Select the nodes by at least one label."
  }
}

variable "monitoring_namespace" {
  description = "Namespace of Prometheus, Alertmanager and Grafana."
  type        = string
  default     = "monitoring"
}

variable "grafana_admin_secret" {
  description = "Existing Secret in the monitoring namespace with Grafana's admin-user and admin-password; null lets the chart make one."
  type        = string
  default     = null
}
