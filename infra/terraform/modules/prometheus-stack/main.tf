resource "helm_release" "kube_prometheus_stack" {
  name             = "kube-prometheus-stack"
  namespace        = var.namespace
  create_namespace = true
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.chart_version
  values = [yamlencode({
    prometheus = {
      prometheusSpec = {
        retention = var.retention
        # Pick up the monitors and rules of every release and namespace,
        # not only those labelled for this chart.
        serviceMonitorSelectorNilUsesHelmValues = false
        podMonitorSelectorNilUsesHelmValues     = false
        ruleSelectorNilUsesHelmValues           = false
      }
    }
    grafana = merge(
      {
        sidecar = {
          dashboards = {
            enabled         = true
            label           = "grafana_dashboard"
            labelValue      = "1"
            searchNamespace = "ALL"
          }
        }
      },
      var.grafana_admin_secret == null ? {} : {
        admin = {
          existingSecret = var.grafana_admin_secret
          userKey        = "admin-user"
          passwordKey    = "admin-password"
        }
      }
    )
  })]
  wait    = true
  timeout = 900
}
