resource "helm_release" "cert_manager" {
  name             = "cert-manager"
  namespace        = var.namespace
  create_namespace = true
  repository       = "https://charts.jetstack.io"
  chart            = "cert-manager"
  version          = var.chart_version
  # spin-operator's webhook certificates need the CRDs and a running
  # webhook before its chart installs.
  values = [yamlencode({ crds = { enabled = true } })]
  wait   = true
}
