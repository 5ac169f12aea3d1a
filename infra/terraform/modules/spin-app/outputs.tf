output "service" {
  description = "The Service spin-operator makes for the app: name and port."
  value       = { name = var.name, port = 80 }
}

output "url" {
  description = "The app's address inside the cluster."
  value       = "http://${var.name}.${var.namespace}.svc.cluster.local"
}

output "pod_labels" {
  description = "Labels spin-operator puts on the app's pods, for NetworkPolicies, PodDisruptionBudgets and monitors."
  value       = { "core.spinkube.dev/app-name" = var.name }
}

output "http_port_name" {
  description = "Name of the pods' HTTP port."
  value       = "http-app"
}
