variable "namespace" {
  description = "Namespace of the claim."
  type        = string
}

variable "name" {
  description = "Name of the PersistentVolumeClaim."
  type        = string
}

variable "size" {
  description = "Requested size, e.g. 5Gi."
  type        = string
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi|Ti)$", var.size))
    error_message = "Give a size such as 512Mi or 5Gi."
  }
}

variable "storage_class" {
  description = "StorageClass; null for the cluster's default."
  type        = string
  default     = null
}
