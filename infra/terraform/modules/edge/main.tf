locals {
  labels = { "app.kubernetes.io/part-of" = "spinshop" }
  from_namespace = {
    ingress    = { "kubernetes.io/metadata.name" = var.ingress_namespace }
    monitoring = { "kubernetes.io/metadata.name" = var.monitoring_namespace }
  }
}

# Only listed prefixes and the exact root reach the app: a Prefix "/" rule
# would also route /internal/*, the bridge's credentialed routes.
resource "kubernetes_ingress_v1" "storefront" {
  metadata {
    name      = "spinshop"
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    ingress_class_name = var.ingress_class
    dynamic "tls" {
      for_each = var.tls_secret == null ? [] : [var.tls_secret]
      content {
        hosts       = [var.host]
        secret_name = tls.value
      }
    }
    rule {
      host = var.host
      http {
        path {
          path      = "/"
          path_type = "Exact"
          backend {
            service {
              name = var.app_service.name
              port {
                number = var.app_service.port
              }
            }
          }
        }
        dynamic "path" {
          for_each = var.public_paths
          content {
            path      = path.value
            path_type = "Prefix"
            backend {
              service {
                name = var.app_service.name
                port {
                  number = var.app_service.port
                }
              }
            }
          }
        }
      }
    }
  }
}

# Nothing reaches a pod of the namespace unless a policy below lets it.
resource "kubernetes_network_policy_v1" "default_deny" {
  metadata {
    name      = "default-deny-ingress"
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    pod_selector {}
    policy_types = ["Ingress"]
  }
}

# The app: from the ingress controller, the bridge and Prometheus.
resource "kubernetes_network_policy_v1" "app" {
  metadata {
    name      = "spinapp-ingress"
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    pod_selector {
      match_labels = var.app_pod_labels
    }
    policy_types = ["Ingress"]
    ingress {
      from {
        namespace_selector {
          match_labels = local.from_namespace.ingress
        }
      }
      from {
        pod_selector {
          match_labels = var.bridge_pod_labels
        }
      }
      from {
        namespace_selector {
          match_labels = local.from_namespace.monitoring
        }
      }
    }
  }
}

# Redis: from the app only.
resource "kubernetes_network_policy_v1" "redis" {
  metadata {
    name      = "redis-ingress"
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    pod_selector {
      match_labels = var.redis_pod_labels
    }
    policy_types = ["Ingress"]
    ingress {
      from {
        pod_selector {
          match_labels = var.app_pod_labels
        }
      }
    }
  }
}

# The bridge's /metrics: from Prometheus only.
resource "kubernetes_network_policy_v1" "bridge" {
  metadata {
    name      = "kafka-bridge-ingress"
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    pod_selector {
      match_labels = var.bridge_pod_labels
    }
    policy_types = ["Ingress"]
    ingress {
      from {
        namespace_selector {
          match_labels = local.from_namespace.monitoring
        }
      }
    }
  }
}

# Kafka: its own nodes, the Strimzi operators, the bridge, and KEDA (lag).
resource "kubernetes_network_policy_v1" "kafka" {
  metadata {
    name      = "kafka-ingress"
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    pod_selector {
      match_labels = var.kafka_pod_labels
    }
    policy_types = ["Ingress"]
    ingress {
      from {
        pod_selector {
          match_labels = var.kafka_pod_labels
        }
      }
      from {
        pod_selector {
          match_labels = var.bridge_pod_labels
        }
      }
      from {
        namespace_selector {
          match_expressions {
            key      = "kubernetes.io/metadata.name"
            operator = "In"
            values   = concat(var.operator_namespaces, [var.monitoring_namespace])
          }
        }
      }
    }
  }
}

resource "kubernetes_pod_disruption_budget_v1" "app" {
  metadata {
    name      = "spinapp"
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    max_unavailable = tostring(var.app_max_unavailable)
    selector {
      match_labels = var.app_pod_labels
    }
  }
}
