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

variable "image" {
  description = "The app's image by digest, as `cargo xtask push` prints it (HOST/REPO@sha256:...)."
  type        = string
}

variable "bridge_image" {
  description = "kafka-bridge's container image by digest (HOST/REPO@sha256:...)."
  type        = string
}

variable "replicas" {
  description = "SpinApp pods (1 while any database is a SQLite file)."
  type        = number
  default     = 1
}

variable "autoscaling" {
  description = "Let spin-operator scale the SpinApp (needs every database on libSQL)."
  type        = bool
  default     = false
}

variable "redis_host" {
  description = "host:port of Redis (the data stage's redis_host output)."
  type        = string
  default     = "redis.spinshop.svc.cluster.local:6379"
  validation {
    condition     = can(regex("^[^/:\\s]+:[0-9]+$", var.redis_host))
    error_message = "redis_host is host:port, as spin.toml uses it in redis://{{ redis_host }}."
  }
}

variable "cache_redis_host" {
  description = "host:port of the Redis for cached reads only, evicting at its limit (the data stage's cache_redis_host output)."
  type        = string
  default     = "redis-cache.spinshop.svc.cluster.local:6379"
  validation {
    condition     = can(regex("^[^/:\\s]+:[0-9]+$", var.cache_redis_host))
    error_message = "cache_redis_host is host:port, as spin.toml uses it in redis://{{ cache_redis_host }}."
  }
}

variable "kafka_bootstrap_servers" {
  description = "Kafka bootstrap servers (the data stage's kafka_bootstrap_servers output)."
  type        = string
  default     = "spinshop-kafka-bootstrap.spinshop.svc.cluster.local:9092"
}

variable "kafka_user" {
  description = "The bridge's Kafka user (the data stage's kafka_bridge_user output): SCRAM user name and the Secret and key Strimzi keeps its password in."
  type = object({
    username = string
    secret   = string
    key      = optional(string, "password")
  })
  default = { username = "kafka-bridge", secret = "kafka-bridge", key = "password" }
}

variable "secrets_name" {
  description = "Existing Secret with the app's secret variables (see README: internal_token, jwt_signing_key, psp_api_key, ml_client_secret, ml_token_key, and optionally admin_bootstrap_token)."
  type        = string
  default     = "spinshop-secrets"
}

variable "settings" {
  description = "Plain values of spin.toml variables by name, e.g. notify_allowed_hosts (redis_host and cache_redis_host are set from their own variables). Nothing secret: it would be stored in the state."
  type        = map(string)
  default     = {}
  validation {
    condition     = length(setintersection(keys(var.settings), ["internal_token", "jwt_signing_key", "psp_api_key", "ml_client_secret", "ml_token_key", "admin_bootstrap_token"])) == 0
    error_message = "internal_token, jwt_signing_key, psp_api_key, ml_client_secret, ml_token_key and admin_bootstrap_token are secrets: put them in the Secret and map them in secret_settings / optional_secret_settings, never in settings (the state would hold them)."
  }
}

variable "secret_settings" {
  description = "spin.toml variables read from a key of secrets_name, which must hold it: variable name => key. Required: internal_token, jwt_signing_key, psp_api_key, ml_client_secret, ml_token_key."
  type        = map(string)
  default = {
    internal_token   = "internal_token"
    jwt_signing_key  = "jwt_signing_key"
    psp_api_key      = "psp_api_key"
    ml_client_secret = "ml_client_secret"
    ml_token_key     = "ml_token_key"
  }
  validation {
    condition     = alltrue([for required in ["internal_token", "jwt_signing_key", "psp_api_key", "ml_client_secret", "ml_token_key"] : contains(keys(var.secret_settings), required)])
    error_message = "internal_token, jwt_signing_key, psp_api_key, ml_client_secret and ml_token_key are secrets spin.toml requires: map them to keys of the Secret."
  }
}

variable "optional_secret_settings" {
  description = "spin.toml variables read from a key of secrets_name that may be missing (the variable then keeps spin.toml's default): variable name => key. admin_bootstrap_token: present, it lets the first admin register; remove the key once one exists."
  type        = map(string)
  default = {
    admin_bootstrap_token = "admin_bootstrap_token"
  }
  validation {
    condition     = length(setintersection(keys(var.optional_secret_settings), keys(var.secret_settings))) == 0
    error_message = "A variable is in both secret_settings and optional_secret_settings."
  }
}

variable "databases" {
  description = "Backend of each SQLite label: { backend = \"sqlite\" } (a file on sqlite_volume_claim) or { backend = \"libsql\", url, token = { secret, key } }."
  type = map(object({
    backend = string
    url     = optional(string)
    token   = optional(object({ secret = string, key = string }))
  }))
  default = {
    audit         = { backend = "sqlite" }
    cart          = { backend = "sqlite" }
    catalog       = { backend = "sqlite" }
    inventory     = { backend = "sqlite" }
    marketplace   = { backend = "sqlite" }
    notifications = { backend = "sqlite" }
    ops           = { backend = "sqlite" }
    orders        = { backend = "sqlite" }
    payments      = { backend = "sqlite" }
    psp           = { backend = "sqlite" }
    sandbox_ml    = { backend = "sqlite" }
    search        = { backend = "sqlite" }
    users         = { backend = "sqlite" }
  }
}

variable "sqlite_volume_claim" {
  description = "The data stage's sqlite_volume_claim."
  type        = string
  default     = "spinshop-sqlite"
}

variable "ingress" {
  description = "The storefront's ingress: host (null: any), IngressClass, TLS Secret (null: plain HTTP), controller namespace."
  type = object({
    host      = optional(string)
    class     = optional(string, "nginx")
    tls       = optional(string)
    namespace = optional(string, "ingress-nginx")
  })
  default = {}
}

variable "monitoring_namespace" {
  description = "Namespace of Prometheus (allowed to scrape the app and the bridge)."
  type        = string
  default     = "monitoring"
}
