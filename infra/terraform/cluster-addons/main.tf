# Stage 1 of 4: operators and their CRDs. Everything later stages create
# (SpinApp, Kafka, ScaledObject, ServiceMonitor...) needs these first.

module "namespace" {
  source       = "../modules/namespace"
  name         = var.namespace
  pod_security = var.pod_security
}

module "cert_manager" {
  source        = "../modules/cert-manager"
  chart_version = var.chart_versions.cert_manager
}

module "spinkube" {
  source                        = "../modules/spinkube"
  app_namespace                 = module.namespace.name
  spin_operator_version         = var.chart_versions.spin_operator
  runtime_class_manager_version = var.chart_versions.runtime_class_manager
  shim_node_selector            = var.shim_node_selector
  depends_on                    = [module.cert_manager]
}

module "strimzi" {
  source           = "../modules/strimzi-operator"
  chart_version    = var.chart_versions.strimzi
  watch_namespaces = [module.namespace.name]
}

module "keda" {
  source        = "../modules/keda"
  chart_version = var.chart_versions.keda
}

module "prometheus_stack" {
  source               = "../modules/prometheus-stack"
  namespace            = var.monitoring_namespace
  chart_version        = var.chart_versions.prometheus_stack
  grafana_admin_secret = var.grafana_admin_secret
}
