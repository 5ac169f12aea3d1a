resource "helm_release" "keda" {
  name             = "keda"
  namespace        = var.namespace
  create_namespace = true
  repository       = "https://kedacore.github.io/charts"
  chart            = "keda"
  version          = var.chart_version
  wait             = true
}
