output "namespace" {
  description = "Namespace the Strimzi operator runs in."
  value       = helm_release.strimzi.namespace
}
