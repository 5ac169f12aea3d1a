output "name" {
  description = "The namespace, once it exists."
  value       = kubernetes_namespace_v1.this.metadata[0].name
}
