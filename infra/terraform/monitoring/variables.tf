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

variable "monitoring_namespace" {
  description = "Namespace of Prometheus and Grafana (the cluster-addons stage's monitoring_namespace)."
  type        = string
  default     = "monitoring"
}

variable "rules_dir" {
  description = "Directory of Prometheus rule files (*.yaml); null for infra/monitoring/rules. Missing or empty is fine."
  type        = string
  default     = null
}

variable "dashboards_dir" {
  description = "Directory of Grafana dashboards (*.json); null for infra/monitoring/dashboards. Missing or empty is fine."
  type        = string
  default     = null
}
