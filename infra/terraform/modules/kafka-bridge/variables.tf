variable "namespace" {
  description = "Namespace of the bridge (the app's)."
  type        = string
}

variable "image" {
  description = "kafka-bridge container image, pinned by digest (HOST/REPO@sha256:...)."
  type        = string
  validation {
    condition     = can(regex("^[^@\\s]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "Pin the bridge image by digest: a tag can move."
  }
}

variable "config_toml" {
  description = "The bridge's configuration (kafka-bridge/bridge.toml); brokers, platform URL and listen address are set by flags here."
  type        = string
  validation {
    condition     = can(regex("(?m)^\\[\\[subscription\\]\\]", var.config_toml))
    error_message = "This does not look like a bridge.toml (no [[subscription]])."
  }
}

variable "bootstrap_servers" {
  description = "Kafka bootstrap servers, host:port[,host:port]."
  type        = string
}

variable "platform_url" {
  description = "Where the components answer: the SpinApp's Service."
  type        = string
  validation {
    condition     = can(regex("^https?://", var.platform_url))
    error_message = "Give an http(s) URL."
  }
}

variable "internal_token" {
  description = "Existing Secret and key holding the components' internal_token (the same the SpinApp reads)."
  type        = object({ secret = string, key = string })
}

variable "kafka_credentials" {
  description = "The bridge's Kafka user: SCRAM user name, the existing Secret and key holding its password (Strimzi's KafkaUser Secret, key password), mechanism and protocol. null: connect without authentication."
  type = object({
    username  = string
    secret    = string
    key       = optional(string, "password")
    mechanism = optional(string, "SCRAM-SHA-512")
    protocol  = optional(string, "SASL_PLAINTEXT")
  })
  default = null
  validation {
    condition = var.kafka_credentials == null || (
      contains(["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"], try(var.kafka_credentials.mechanism, "")) &&
      contains(["SASL_PLAINTEXT", "SASL_SSL"], try(var.kafka_credentials.protocol, ""))
    )
    error_message = "mechanism is SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN; protocol is SASL_PLAINTEXT or SASL_SSL (credentials are not sent otherwise)."
  }
}

variable "consumer_group" {
  description = "The bridge's consumer group prefix (bridge.toml's group): components consume as <group>.<component>."
  type        = string
  default     = "spinshop-bridge"
  nullable    = false
}

variable "lag_topics" {
  description = "Topic => the component consuming it whose lag the autoscaler watches."
  type        = map(string)
  nullable    = false
}

variable "lag_threshold" {
  description = "Consumer lag per replica that makes KEDA add one."
  type        = number
  default     = 1000
  nullable    = false
  validation {
    condition     = var.lag_threshold >= 1
    error_message = "The lag threshold is a positive number of events."
  }
}

variable "max_replicas" {
  description = "Most bridge replicas KEDA may run."
  type        = number
  default     = 1
  nullable    = false
  validation {
    # kafka-bridge splits partitions with --shard INDEX/COUNT, fixed at
    # start-up, not through the consumer group protocol: identical extra
    # replicas would each relay every partition again.
    condition     = var.max_replicas == 1
    error_message = "kafka-bridge assigns partitions by --shard, not by the group protocol, so replicas of one Deployment would each relay everything: keep max_replicas = 1 until it shares partitions through the group."
  }
}

variable "resources" {
  description = "Requests and limits of the bridge container."
  type = object({
    requests = optional(map(string), {})
    limits   = optional(map(string), {})
  })
  default  = { requests = { cpu = "100m", memory = "64Mi" }, limits = { memory = "256Mi" } }
  nullable = false
}
