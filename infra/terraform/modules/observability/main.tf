locals {
  labels = { "app.kubernetes.io/part-of" = "spinshop" }
  # Object names from file names: rules/saga-alerts.yaml -> saga-alerts.
  slug = { for file in setunion(keys(var.rule_files), keys(var.dashboards)) : file => trim(replace(lower(replace(file, "/\\.[a-z]+$/", "")), "/[^a-z0-9]+/", "-"), "-") }
}

module "monitors" {
  source    = "../custom-resources"
  name      = "spinshop-monitoring"
  namespace = var.namespace
  objects = concat(
    [
      # ops serves GET /metrics for every component (service chaining);
      # spin-operator's Service has no named port, so the pods are scraped.
      {
        apiVersion = "monitoring.coreos.com/v1"
        kind       = "PodMonitor"
        metadata   = { name = "spinapp", namespace = var.namespace, labels = local.labels }
        spec = {
          selector            = { matchLabels = var.app_pod_labels }
          podMetricsEndpoints = [{ port = var.app_port, path = "/metrics", interval = var.scrape_interval }]
        }
      },
      {
        apiVersion = "monitoring.coreos.com/v1"
        kind       = "ServiceMonitor"
        metadata   = { name = "kafka-bridge", namespace = var.namespace, labels = local.labels }
        spec = {
          selector  = { matchLabels = var.bridge_service_labels }
          endpoints = [{ port = "metrics", path = "/metrics", interval = var.scrape_interval }]
        }
      },
    ],
    [
      for file in sort(keys(var.rule_files)) : {
        apiVersion = "monitoring.coreos.com/v1"
        kind       = "PrometheusRule"
        metadata   = { name = local.slug[file], namespace = var.namespace, labels = local.labels }
        spec       = { groups = yamldecode(var.rule_files[file]).groups }
      }
    ],
  )
}

resource "kubernetes_config_map_v1" "dashboard" {
  for_each = var.dashboards
  metadata {
    name      = "dashboard-${local.slug[each.key]}"
    namespace = var.dashboards_namespace
    labels    = merge(local.labels, var.dashboard_label)
  }
  data = { (each.key) = each.value }
}
