resource "kubernetes_namespace_v1" "this" {
  metadata {
    name = var.name
    labels = {
      "app.kubernetes.io/part-of"          = "spinshop"
      "pod-security.kubernetes.io/enforce" = var.pod_security
    }
  }
}
