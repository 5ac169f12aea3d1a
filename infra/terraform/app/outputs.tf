output "app_url" {
  description = "The app inside the cluster."
  value       = module.spin_app.url
}

output "public_paths" {
  description = "What the ingress routes to the app."
  value       = module.edge.public_paths
}

output "image" {
  description = "The image the SpinApp runs."
  value       = var.image
}
