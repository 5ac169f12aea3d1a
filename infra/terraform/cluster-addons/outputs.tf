output "namespace" {
  description = "The application namespace the later stages use."
  value       = module.namespace.name
}

output "executor" {
  description = "SpinAppExecutor for the app stage's SpinApp."
  value       = module.spinkube.executor
}

output "monitoring_namespace" {
  description = "Where Prometheus and Grafana run (the monitoring stage's input)."
  value       = module.prometheus_stack.namespace
}
