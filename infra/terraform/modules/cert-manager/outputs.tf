output "namespace" {
  description = "Namespace cert-manager runs in."
  value       = helm_release.cert_manager.namespace
}
