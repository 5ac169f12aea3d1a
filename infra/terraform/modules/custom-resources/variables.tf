variable "name" {
  description = "Name of the Helm release that holds the objects."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$", var.name))
    error_message = "A release name is at most 53 lowercase letters, digits and dashes."
  }
}

variable "namespace" {
  description = "Namespace of the release (and of namespaced objects that do not name one)."
  type        = string
}

variable "objects" {
  description = "Complete Kubernetes objects (apiVersion, kind, metadata, spec...), applied in order; a list of objects of any shape."
  # `any`, not list(any): the objects differ in type, and list(any) wants one.
  type = any
  validation {
    condition = alltrue([
      for object in var.objects :
      can(object.apiVersion) && can(object.kind) && can(object.metadata.name)
    ])
    error_message = "Every object needs apiVersion, kind and metadata.name."
  }
}

variable "wait" {
  description = "Wait until every object is ready (Helm's --wait) before the apply finishes."
  type        = bool
  default     = false
}

variable "timeout_seconds" {
  description = "How long Helm may take to apply (and wait for) the objects."
  type        = number
  default     = 600
  validation {
    condition     = var.timeout_seconds >= 30
    error_message = "Give Helm at least 30 seconds."
  }
}
