output "namespace" {
  description = "Namespace Prometheus and Grafana run in."
  value       = helm_release.kube_prometheus_stack.namespace
}

output "dashboard_label" {
  description = "Label (name and value) that makes Grafana load a ConfigMap as a dashboard."
  value       = { grafana_dashboard = "1" }
}
