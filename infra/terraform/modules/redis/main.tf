locals {
  labels = { "app.kubernetes.io/name" = var.name, "app.kubernetes.io/part-of" = "spinshop" }
  # Redis says mb/gb; Kubernetes says Mi/Gi (close enough for a request).
  memory = replace(replace(var.max_memory, "mb", "Mi"), "gb", "Gi")
  # Without persistence nothing is written: no append-only file and no
  # snapshots (`--save ""`), so a restart starts empty.
  persistence_args = var.persistence ? ["--appendonly", "yes"] : ["--appendonly", "no", "--save", ""]
  args = concat(
    local.persistence_args,
    ["--maxmemory", var.max_memory, "--maxmemory-policy", var.max_memory_policy, "--dir", "/data"],
  )
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

# One node. With persistence (the state Redis) an append-only file on a
# volume, so carts and sessions survive a restart; without it (the cache) a
# scratch directory. No password: spin.toml's redis_host is host:port, so
# access is limited by the app stage's NetworkPolicies instead.
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
          args  = local.args
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
        dynamic "volume" {
          for_each = var.persistence ? [] : ["data"]
          content {
            name = volume.value
            empty_dir {}
          }
        }
      }
    }
    dynamic "volume_claim_template" {
      for_each = var.persistence ? ["data"] : []
      content {
        metadata {
          name = volume_claim_template.value
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
}
