output "host" {
  description = "host:port for spin.toml's redis_host."
  value       = "${kubernetes_service_v1.redis.metadata[0].name}.${var.namespace}.svc.cluster.local:6379"
}

output "pod_labels" {
  description = "Labels of the Redis pod, for NetworkPolicies."
  value       = local.labels
}
