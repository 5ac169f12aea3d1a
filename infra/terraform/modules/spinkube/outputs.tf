output "executor" {
  description = "The SpinAppExecutor a SpinApp names in `executor`."
  value       = "containerd-shim-spin"
}

output "runtime_class" {
  description = "The RuntimeClass the shim registers."
  value       = local.runtime_name
}

output "namespace" {
  description = "Namespace the operators run in."
  value       = var.namespace
}
