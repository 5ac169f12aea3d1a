output "pod_labels" {
  description = "Labels of the bridge's pods, for NetworkPolicies and monitors."
  value       = local.labels
}

output "service" {
  description = "The Service of the bridge's /health and /metrics: name and port name."
  value       = { name = kubernetes_service_v1.metrics.metadata[0].name, port = "metrics" }
}
