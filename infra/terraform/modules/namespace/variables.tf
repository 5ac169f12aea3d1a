variable "name" {
  description = "The namespace."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.name)) && length(var.name) <= 63
    error_message = "A namespace is a DNS label: lowercase letters, digits and dashes, at most 63."
  }
}

variable "pod_security" {
  description = "Pod Security Standard enforced in the namespace (privileged, baseline or restricted)."
  type        = string
  default     = "baseline"
  validation {
    condition     = contains(["privileged", "baseline", "restricted"], var.pod_security)
    error_message = "Use privileged, baseline or restricted."
  }
}
