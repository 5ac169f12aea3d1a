locals {
  labels = { "app.kubernetes.io/name" = var.name, "app.kubernetes.io/part-of" = "spinshop" }
  # Redis says mb/gb; Kubernetes says Mi/Gi (close enough for a request).
  memory = replace(replace(var.max_memory, "mb", "Mi"), "gb", "Gi")
}

resource "kubernetes_service_v1" "redis" {
  metadata {
    name      = var.name
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    selector = local.labels
    port {
      name        = "redis"
      port        = 6379
      target_port = "redis"
    }
  }
}

# One node with an append-only file: carts and sessions survive a restart.
# No password: spin.toml's redis_host is host:port, so access is limited by
# the app stage's NetworkPolicies instead.
resource "kubernetes_stateful_set_v1" "redis" {
  metadata {
    name      = var.name
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    service_name = kubernetes_service_v1.redis.metadata[0].name
    replicas     = 1
    selector {
      match_labels = local.labels
    }
    template {
      metadata {
        labels = local.labels
      }
      spec {
        security_context {
          run_as_non_root = true
          run_as_user     = 999
          fs_group        = 999
        }
        container {
          name  = "redis"
          image = var.image
          args  = ["--appendonly", "yes", "--maxmemory", var.max_memory, "--maxmemory-policy", "noeviction", "--dir", "/data"]
          port {
            name           = "redis"
            container_port = 6379
          }
          resources {
            requests = { memory = local.memory, cpu = "50m" }
          }
          readiness_probe {
            exec {
              command = ["redis-cli", "ping"]
            }
            period_seconds = 5
          }
          volume_mount {
            name       = "data"
            mount_path = "/data"
          }
          security_context {
            allow_privilege_escalation = false
          }
        }
      }
    }
    volume_claim_template {
      metadata {
        name = "data"
      }
      spec {
        access_modes       = ["ReadWriteOnce"]
        storage_class_name = var.storage_class
        resources {
          requests = { storage = var.storage_size }
        }
      }
    }
  }
}
