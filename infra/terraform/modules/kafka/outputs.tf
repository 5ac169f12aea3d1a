output "bootstrap_servers" {
  description = "host:port of the cluster's plain listener, for kafka-bridge's --brokers."
  value       = "${var.cluster_name}-kafka-bootstrap.${var.namespace}.svc.cluster.local:9092"
}

output "topics" {
  description = "Every topic created, .dlq twins included."
  value       = sort(keys(local.topics))
}

output "pod_labels" {
  description = "Labels every pod of the Kafka cluster carries, for NetworkPolicies."
  value       = local.cluster_label
}
