output "namespace" {
  description = "Namespace KEDA runs in."
  value       = helm_release.keda.namespace
}
