variable "namespace" {
  description = "Namespace of the app."
  type        = string
}

variable "app_service" {
  description = "The SpinApp's Service: name and port."
  type        = object({ name = string, port = number })
}

variable "app_pod_labels" {
  description = "Labels of the SpinApp's pods."
  type        = map(string)
}

variable "bridge_pod_labels" {
  description = "Labels of kafka-bridge's pods."
  type        = map(string)
}

variable "redis_pod_labels" {
  description = "Labels of each Redis's pod, by Redis name (the state Redis and the cache): only the app may reach them."
  type        = map(map(string))
}

variable "kafka_pod_labels" {
  description = "Labels every pod of the Kafka cluster carries."
  type        = map(string)
}

variable "host" {
  description = "Host name the storefront answers on; null answers any host."
  type        = string
  default     = null
}

variable "ingress_class" {
  description = "IngressClass of the cluster's ingress controller (e.g. nginx, traefik)."
  type        = string
  default     = "nginx"
  nullable    = false
}

variable "tls_secret" {
  description = "Existing TLS Secret for host; null serves plain HTTP."
  type        = string
  default     = null
}

variable "public_paths" {
  description = "Path prefixes the ingress routes to the app (plus the exact path /). /internal/* is never among them."
  type        = list(string)
  default     = ["/api", "/api-docs", "/docs", "/health", "/assets", "/admin"]
  nullable    = false
  validation {
    condition = alltrue([
      for p in var.public_paths :
      startswith(p, "/") && p != "/" && !startswith(p, "/internal") && !endswith(p, "/")
    ])
    error_message = "Public paths start with / and are not / itself (it would include everything), nor under /internal, nor end in /."
  }
}

variable "ingress_namespace" {
  description = "Namespace of the ingress controller, the one source of outside traffic to the app."
  type        = string
  default     = "ingress-nginx"
  nullable    = false
}

variable "monitoring_namespace" {
  description = "Namespace of Prometheus, which scrapes the app and the bridge."
  type        = string
  default     = "monitoring"
  nullable    = false
}

variable "strimzi_namespace" {
  description = "Namespace of the Strimzi cluster operator, which manages the Kafka nodes (controller, replication and agent ports)."
  type        = string
  default     = "strimzi"
  nullable    = false
}

variable "keda_namespace" {
  description = "Namespace of KEDA, whose operator reads the bridge's consumer lag on the client port."
  type        = string
  default     = "keda"
  nullable    = false
}

variable "kafka_client_port" {
  description = "Kafka's client listener (the data stage's, SCRAM-authenticated)."
  type        = number
  default     = 9092
  nullable    = false
}

variable "app_max_unavailable" {
  description = "Pods of the app that a voluntary disruption (a node drain) may take at once."
  type        = number
  default     = 1
  nullable    = false
  validation {
    condition     = var.app_max_unavailable >= 1
    error_message = "Allow at least one, or a one-pod app could never be drained."
  }
}
