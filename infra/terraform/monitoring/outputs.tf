output "prometheus_rules" {
  description = "The PrometheusRules, one per rule file."
  value       = module.observability.prometheus_rules
}

output "dashboards" {
  description = "The dashboard ConfigMaps."
  value       = module.observability.dashboards
}
