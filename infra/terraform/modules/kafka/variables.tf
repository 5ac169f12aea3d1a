variable "namespace" {
  description = "Namespace of the Kafka cluster (one the Strimzi operator watches)."
  type        = string
}

variable "cluster_name" {
  description = "Name of the Strimzi Kafka cluster; its bootstrap Service is <name>-kafka-bootstrap."
  type        = string
  default     = "spinshop"
  nullable    = false
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.cluster_name)) && length(var.cluster_name) <= 40
    error_message = "Use at most 40 lowercase letters, digits and dashes."
  }
}

variable "kafka_version" {
  description = "Apache Kafka version (one the Strimzi release supports; KRaft only)."
  type        = string
  default     = "4.0.0"
  nullable    = false
  validation {
    condition     = can(regex("^[4-9]\\.[0-9]+\\.[0-9]+$", var.kafka_version))
    error_message = "Kafka 4.x or later: KRaft, no ZooKeeper."
  }
}

variable "brokers" {
  description = "Kafka nodes, each both controller and broker."
  type        = number
  default     = 1
  nullable    = false
  validation {
    condition     = contains([1, 3, 5], var.brokers)
    error_message = "Use 1 (a local cluster), 3 or 5 nodes: a KRaft quorum wants an odd count."
  }
}

variable "storage_size" {
  description = "Volume per Kafka node."
  type        = string
  default     = "10Gi"
  nullable    = false
  validation {
    condition     = can(regex("^[0-9]+(Gi|Ti)$", var.storage_size))
    error_message = "Give a size such as 10Gi."
  }
}

variable "topics" {
  description = "Topic names (kafka-bridge/bridge.toml's [topics] names); each also gets a .dlq twin."
  type        = list(string)
  nullable    = false
  validation {
    condition     = length(var.topics) > 0 && alltrue([for t in var.topics : can(regex("^[a-z][a-z0-9]*(\\.[a-z][a-z0-9]*)+$", t)) && !endswith(t, ".dlq")])
    error_message = "Topics are dotted lowercase names such as orders.events, without .dlq (added here)."
  }
}

variable "partitions" {
  description = "Partitions per topic: the most bridge shards that can share a topic. Kafka cannot take partitions away later."
  type        = number
  default     = 3
  nullable    = false
  validation {
    condition     = var.partitions >= 1 && var.partitions <= 64 && floor(var.partitions) == var.partitions
    error_message = "Use a whole number of partitions between 1 and 64."
  }
}

variable "replication" {
  description = "Copies of each partition; at most the number of brokers."
  type        = number
  default     = 1
  nullable    = false
  validation {
    condition     = var.replication >= 1 && var.replication <= var.brokers
    error_message = "Replication must be between 1 and the number of brokers."
  }
}

variable "retention_hours" {
  description = "How long events stay on their topics (168 = a week)."
  type        = number
  default     = 168
  nullable    = false
  validation {
    condition     = var.retention_hours >= 1
    error_message = "Keep events at least an hour."
  }
}

variable "dlq_retention_hours" {
  description = "How long dead letters stay on the .dlq topics, for replay (720 = 30 days)."
  type        = number
  default     = 720
  nullable    = false
  validation {
    condition     = var.dlq_retention_hours >= 24
    error_message = "Keep dead letters at least a day: someone has to look at them."
  }
}

variable "bridge_user" {
  description = "KafkaUser of kafka-bridge: its SCRAM user name, and the name of the Secret Strimzi keeps its password in (key password)."
  type        = string
  default     = "kafka-bridge"
  nullable    = false
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.bridge_user)) && length(var.bridge_user) <= 63
    error_message = "A KafkaUser name is a DNS label: lowercase letters, digits and dashes."
  }
}

variable "bridge_group" {
  description = "The bridge's consumer group prefix (bridge.toml's group): its ACL covers every group whose name starts with it."
  type        = string
  default     = "spinshop-bridge"
  nullable    = false
  validation {
    condition     = length(var.bridge_group) >= 3
    error_message = "A prefix this short would cover other clients' groups."
  }
}

variable "client_peers" {
  description = "NetworkPolicy peers (podSelector / namespaceSelector objects) allowed to reach the client listener, e.g. the bridge's pods and KEDA's namespace."
  # `any`: peers differ in shape (podSelector or namespaceSelector).
  type     = any
  nullable = false
  validation {
    # Strimzi reads an empty list as "open to every pod in the cluster".
    condition     = length(var.client_peers) > 0
    error_message = "List at least one peer: Strimzi opens the client port to everyone when there is none."
  }
}
