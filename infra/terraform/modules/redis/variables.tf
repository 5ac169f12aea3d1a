variable "namespace" {
  description = "Namespace Redis runs in."
  type        = string
}

variable "name" {
  description = "Name of the StatefulSet and of the Service the app reaches it by."
  type        = string
  default     = "redis"
  nullable    = false
}

variable "image" {
  description = "Redis container image."
  type        = string
  default     = "redis:7.4-alpine"
  nullable    = false
}

variable "storage_size" {
  description = "Size of the volume that holds the append-only file and snapshots."
  type        = string
  default     = "1Gi"
  nullable    = false
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi|Ti)$", var.storage_size))
    error_message = "Give a size such as 512Mi or 1Gi."
  }
}

variable "storage_class" {
  description = "StorageClass of the volume; null for the cluster's default."
  type        = string
  default     = null
}

variable "max_memory" {
  description = "Redis maxmemory (carts, sessions, caches, rate limits, breakers); also the container's memory request."
  type        = string
  default     = "256mb"
  nullable    = false
  validation {
    condition     = can(regex("^[0-9]+(mb|gb)$", var.max_memory))
    error_message = "Give Redis's own unit: e.g. 256mb or 1gb."
  }
}
