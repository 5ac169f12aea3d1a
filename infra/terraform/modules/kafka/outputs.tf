output "bootstrap_servers" {
  description = "host:port of the cluster's client listener (SASL_PLAINTEXT, SCRAM-SHA-512), for kafka-bridge's --brokers."
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

output "bridge_user" {
  description = "The bridge's SCRAM user name, and the Secret and key of its password (made by Strimzi's user operator)."
  value       = { username = var.bridge_user, secret = var.bridge_user, key = "password" }
}
