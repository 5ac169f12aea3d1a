# ReadWriteOnce: SQLite locks a file on one node's filesystem; a shared
# (network) filesystem would not keep its locking promises.
resource "kubernetes_persistent_volume_claim_v1" "this" {
  metadata {
    name      = var.name
    namespace = var.namespace
    labels    = { "app.kubernetes.io/part-of" = "spinshop" }
  }
  spec {
    access_modes       = ["ReadWriteOnce"]
    storage_class_name = var.storage_class
    resources {
      requests = { storage = var.size }
    }
  }
  # A claim on a WaitForFirstConsumer class binds only once the app mounts it.
  wait_until_bound = false
}
