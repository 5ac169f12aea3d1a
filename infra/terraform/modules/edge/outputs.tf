output "ingress" {
  description = "Name of the storefront's Ingress."
  value       = kubernetes_ingress_v1.storefront.metadata[0].name
}

output "public_paths" {
  description = "What the ingress routes: the exact / and these prefixes."
  value       = concat(["/ (exact)"], var.public_paths)
}
