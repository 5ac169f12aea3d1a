# Stage 4 of 4: what Prometheus scrapes and alerts on, and Grafana's
# dashboards, from infra/monitoring/.

locals {
  rules_dir      = var.rules_dir != null ? pathexpand(var.rules_dir) : "${path.module}/../../monitoring/rules"
  dashboards_dir = var.dashboards_dir != null ? pathexpand(var.dashboards_dir) : "${path.module}/../../monitoring/dashboards"
}

module "observability" {
  source                = "../modules/observability"
  namespace             = var.namespace
  dashboards_namespace  = var.monitoring_namespace
  app_pod_labels        = { "core.spinkube.dev/app-name" = "spinshop" }
  bridge_service_labels = { "app.kubernetes.io/name" = "kafka-bridge", "app.kubernetes.io/part-of" = "spinshop" }
  rule_files            = { for f in fileset(local.rules_dir, "*.yaml") : f => file("${local.rules_dir}/${f}") }
  dashboards            = { for f in fileset(local.dashboards_dir, "*.json") : f => file("${local.dashboards_dir}/${f}") }
}
