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
  description = "The state Redis (noeviction, append-only file): volume size and class (null: the cluster's default), maxmemory."
  type = object({
    storage_size  = optional(string, "1Gi")
    storage_class = optional(string)
    max_memory    = optional(string, "256mb")
  })
  default = {}
}

variable "redis_cache" {
  description = "The cache Redis (cached reads only, no volume): maxmemory and what it evicts at that size."
  type = object({
    max_memory        = optional(string, "128mb")
    max_memory_policy = optional(string, "allkeys-lru")
  })
  default = {}
  validation {
    condition     = var.redis_cache.max_memory_policy != "noeviction"
    error_message = "The cache Redis must evict (e.g. allkeys-lru): with noeviction a full cache makes every cached read fail."
  }
}

variable "kafka_bridge" {
  description = "The Kafka client: its KafkaUser name (also the Secret holding its password), consumer group prefix (bridge.toml's group), and pod labels (the only pods in the namespace let through to the client port)."
  type = object({
    user       = optional(string, "kafka-bridge")
    group      = optional(string, "spinshop-bridge")
    pod_labels = optional(map(string), { "app.kubernetes.io/name" = "kafka-bridge", "app.kubernetes.io/part-of" = "spinshop" })
  })
  default = {}
}

variable "keda_namespace" {
  description = "Namespace of KEDA, whose operator reads the bridge's consumer lag from Kafka."
  type        = string
  default     = "keda"
}

variable "sqlite_volume" {
  description = "Volume for the databases the app stage keeps as SQLite files (size, class); null when every database is on libSQL."
  type = object({
    size          = optional(string, "5Gi")
    storage_class = optional(string)
  })
  default = {}
}
