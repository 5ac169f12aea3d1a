variable "namespace" {
  description = "Namespace of the SpinApp."
  type        = string
}

variable "name" {
  description = "Name of the SpinApp, and of the Service spin-operator makes for it."
  type        = string
  default     = "spinshop"
  nullable    = false
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.name)) && length(var.name) <= 40
    error_message = "Use at most 40 lowercase letters, digits and dashes."
  }
}

variable "image" {
  description = "The app's image, pinned by digest: what `cargo xtask push` prints (HOST/REPO@sha256:...)."
  type        = string
  validation {
    condition     = can(regex("^[^@\\s]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "Pin the image by digest (HOST/REPO@sha256:<64 hex digits>), as `cargo xtask push` prints it: a tag can move."
  }
}

variable "executor" {
  description = "SpinAppExecutor that runs the app (the cluster-addons stage makes containerd-shim-spin)."
  type        = string
  default     = "containerd-shim-spin"
  nullable    = false
}

variable "replicas" {
  description = "Pods when autoscaling is off."
  type        = number
  default     = 1
  nullable    = false
  validation {
    condition     = var.replicas >= 1 && floor(var.replicas) == var.replicas
    error_message = "At least one whole replica."
  }
}

variable "autoscaling" {
  description = "Let spin-operator scale the app on CPU (SpinApp enableAutoscaling); needs resources.requests and libSQL databases."
  type        = bool
  default     = false
  nullable    = false
}

variable "resources" {
  description = "Requests and limits of each pod, e.g. { requests = { cpu = \"100m\", memory = \"128Mi\" } }."
  type = object({
    requests = optional(map(string), {})
    limits   = optional(map(string), {})
  })
  default  = { requests = { cpu = "100m", memory = "128Mi" }, limits = { memory = "512Mi" } }
  nullable = false
}

variable "settings" {
  description = "Plain values of spin.toml variables, by variable name (e.g. psp_url, admin_email). Never put a secret here: it would be stored in the state."
  type        = map(string)
  default     = {}
  nullable    = false
  validation {
    condition     = alltrue([for name in keys(var.settings) : can(regex("^[a-z][a-z0-9_]*$", name))])
    error_message = "spin.toml variable names are lowercase letters, digits and underscores."
  }
}

variable "secret_settings" {
  description = "spin.toml variables read from existing Kubernetes Secrets: variable name => { secret, key, optional }. Values never pass through OpenTofu. optional = true: the pod starts without the key, and the variable keeps spin.toml's default."
  type = map(object({
    secret   = string
    key      = string
    optional = optional(bool, false)
  }))
  default  = {}
  nullable = false
  validation {
    condition     = alltrue([for name in keys(var.secret_settings) : can(regex("^[a-z][a-z0-9_]*$", name))])
    error_message = "spin.toml variable names are lowercase letters, digits and underscores."
  }
}

variable "databases" {
  description = "Backend of each SQLite label of spin.toml: sqlite (a file on the volume sqlite_volume_claim, one pod only) or libsql (a libSQL server at url, its token in a Secret)."
  type = map(object({
    backend = string
    url     = optional(string)
    token   = optional(object({ secret = string, key = string }))
  }))
  nullable = false
  validation {
    condition = alltrue([
      for label, db in var.databases :
      can(regex("^[a-z][a-z0-9_]*$", label)) && (
        db.backend == "sqlite" ||
        (db.backend == "libsql" && can(regex("^(https?|libsql)://", db.url)) && db.token != null)
      )
    ])
    error_message = "Each database is { backend = \"sqlite\" } or { backend = \"libsql\", url = \"https://...\", token = { secret, key } }."
  }
}

variable "sqlite_volume_claim" {
  description = "PersistentVolumeClaim (from the data stage) that holds the sqlite-backed databases."
  type        = string
  default     = "spinshop-sqlite"
  nullable    = false
}

variable "health_path" {
  description = "Route the kubelet probes for liveness: 200 whenever the app answers, whatever its dependencies do, so an outage of Redis or a database never restarts the pods."
  type        = string
  default     = "/health"
  nullable    = false
}

variable "ready_path" {
  description = "Route the kubelet probes for readiness: 503 while SQLite or Redis fail, which only takes the pod out of its Service until they recover."
  type        = string
  default     = "/ready"
  nullable    = false
  validation {
    condition     = startswith(var.ready_path, "/")
    error_message = "Give a path such as /ready."
  }
}
