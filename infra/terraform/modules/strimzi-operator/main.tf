resource "helm_release" "strimzi" {
  name             = "strimzi"
  namespace        = var.namespace
  create_namespace = true
  repository       = "https://strimzi.io/charts/"
  chart            = "strimzi-kafka-operator"
  version          = var.chart_version
  values           = [yamlencode({ watchNamespaces = var.watch_namespaces })]
  wait             = true
}
