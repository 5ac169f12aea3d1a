variable "namespace" {
  description = "Namespace runtime-class-manager and spin-operator run in (created if missing)."
  type        = string
  nullable    = false
  default     = "spinkube"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "A namespace is a DNS label: lowercase letters, digits and dashes, at most 63."
  }
}

variable "app_namespace" {
  description = "Namespace of the SpinApps, where the SpinAppExecutor must live."
  type        = string
}

variable "spin_operator_version" {
  description = "spin-operator release: its chart and the CRDs published with it."
  type        = string
  nullable    = false
  default     = "0.6.1"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.spin_operator_version))
    error_message = "A release looks like 0.6.1 (no leading v)."
  }
}

variable "runtime_class_manager_version" {
  description = "runtime-class-manager chart version (it brings the Shim CRD)."
  type        = string
  nullable    = false
  default     = "0.2.0"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.runtime_class_manager_version))
    error_message = "A chart version looks like 0.2.0."
  }
}

variable "shim_version" {
  description = "containerd-shim-spin release that runtime-class-manager installs on the nodes."
  type        = string
  default     = "0.23.0"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.shim_version))
    error_message = "A release looks like 0.23.0 (no leading v)."
  }
}

variable "shim_sha256" {
  description = "SHA-256 of the shim's release archive per node architecture (x86_64, aarch64), as published with the release."
  type        = map(string)
  default = {
    x86_64  = "eec8df96fa3a4fe5dbc57ffb706461692c055299dd6d22dff9444863a2a12281"
    aarch64 = "a923f08d91c110d2cda29fbc380273e6d0a97aa0bab455c55f613c8d5a8bfbe4"
  }
  validation {
    condition = length(var.shim_sha256) > 0 && alltrue([
      for arch, sum in var.shim_sha256 :
      contains(["x86_64", "aarch64"], arch) && can(regex("^[0-9a-f]{64}$", sum))
    ])
    error_message = "Map x86_64 and/or aarch64 to a 64-digit lowercase hex SHA-256."
  }
}

variable "shim_node_selector" {
  description = "Labels of the nodes that get the shim (label them, e.g. `kubectl label node --all spin=true`)."
  type        = map(string)
  default     = { spin = "true" }
}
