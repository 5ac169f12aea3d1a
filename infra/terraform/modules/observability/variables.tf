variable "namespace" {
  description = "Namespace of the app, its monitors and rules."
  type        = string
}

variable "dashboards_namespace" {
  description = "Namespace where Grafana's sidecar finds dashboard ConfigMaps (the monitoring namespace)."
  type        = string
}

variable "app_pod_labels" {
  description = "Labels of the SpinApp's pods."
  type        = map(string)
}

variable "app_port" {
  description = "Name of the SpinApp pods' HTTP port."
  type        = string
  default     = "http-app"
  nullable    = false
}

variable "bridge_service_labels" {
  description = "Labels of kafka-bridge's Service."
  type        = map(string)
}

variable "scrape_interval" {
  description = "How often Prometheus scrapes the app and the bridge."
  type        = string
  default     = "30s"
  nullable    = false
  validation {
    condition     = can(regex("^[0-9]+(s|m)$", var.scrape_interval))
    error_message = "Use seconds or minutes, e.g. 15s or 1m."
  }
}

variable "rule_files" {
  description = "Prometheus rule files (promtool's format: a top-level groups list), by name; each becomes a PrometheusRule."
  type        = map(string)
  default     = {}
  nullable    = false
  validation {
    condition     = alltrue([for name, text in var.rule_files : can(yamldecode(text).groups)])
    error_message = "Every rule file needs a top-level `groups` list."
  }
}

variable "dashboards" {
  description = "Grafana dashboards (JSON), by file name; each becomes a ConfigMap Grafana loads."
  type        = map(string)
  default     = {}
  nullable    = false
  validation {
    condition     = alltrue([for name, text in var.dashboards : can(jsondecode(text).panels)])
    error_message = "Every dashboard must be Grafana dashboard JSON (with panels)."
  }
}

variable "dashboard_label" {
  description = "Label that makes Grafana's sidecar load a ConfigMap."
  type        = map(string)
  default     = { grafana_dashboard = "1" }
  nullable    = false
}
