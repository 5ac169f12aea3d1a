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
  description = "Size of the volume that holds the append-only file and snapshots (with persistence)."
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
  description = "Redis maxmemory; also the container's memory request."
  type        = string
  default     = "256mb"
  nullable    = false
  validation {
    condition     = can(regex("^[0-9]+(mb|gb)$", var.max_memory))
    error_message = "Give Redis's own unit: e.g. 256mb or 1gb."
  }
}

variable "max_memory_policy" {
  description = "What Redis does at max_memory: noeviction (writes fail, nothing is lost: state) or an eviction policy such as allkeys-lru (a cache)."
  type        = string
  default     = "noeviction"
  nullable    = false
  validation {
    condition     = contains(["noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"], var.max_memory_policy)
    error_message = "Use one of Redis's maxmemory-policy values, e.g. noeviction or allkeys-lru."
  }
}

variable "persistence" {
  description = "Keep the data across restarts: an append-only file on a volume (storage_size, storage_class). False for a cache: no volume, nothing written."
  type        = bool
  default     = true
  nullable    = false
}
