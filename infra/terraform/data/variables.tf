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

variable "topics" {
  description = "Event topics: the names in kafka-bridge/bridge.toml's topics table; each gets a .dlq twin."
  type        = list(string)
  default = [
    "catalog.events",
    "inventory.commands",
    "inventory.events",
    "orders.events",
    "payments.commands",
    "payments.events",
    "users.events",
    "marketplace.events",
    "notifications.commands",
  ]
}

variable "kafka" {
  description = "The Kafka cluster: nodes, volume per node, and per topic partitions, replication and retention (events, and dead letters)."
  type = object({
    brokers             = optional(number, 1)
    storage_size        = optional(string, "10Gi")
    partitions          = optional(number, 3)
    replication         = optional(number, 1)
    retention_hours     = optional(number, 168)
    dlq_retention_hours = optional(number, 720)
  })
  default = {}
}

variable "redis" {
  description = "Redis: volume size and class (null: the cluster's default), maxmemory."
  type = object({
    storage_size  = optional(string, "1Gi")
    storage_class = optional(string)
    max_memory    = optional(string, "256mb")
  })
  default = {}
}

variable "sqlite_volume" {
  description = "Volume for the databases the app stage keeps as SQLite files (size, class); null when every database is on libSQL."
  type = object({
    size          = optional(string, "5Gi")
    storage_class = optional(string)
  })
  default = {}
}
