output "prometheus_rules" {
  description = "Names of the PrometheusRules, one per rule file."
  value       = [for file in sort(keys(var.rule_files)) : local.slug[file]]
}

output "dashboards" {
  description = "Names of the dashboard ConfigMaps."
  value       = sort([for cm in kubernetes_config_map_v1.dashboard : cm.metadata[0].name])
}
