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

# Each Redis (state and cache): from the app only.
resource "kubernetes_network_policy_v1" "redis" {
  for_each = var.redis_pod_labels
  metadata {
    name      = "${each.key}-ingress"
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    pod_selector {
      match_labels = each.value
    }
    policy_types = ["Ingress"]
    ingress {
      from {
        pod_selector {
          match_labels = var.app_pod_labels
        }
      }
      ports {
        protocol = "TCP"
        port     = "6379"
      }
    }
  }
}

# The policy was one before the cache Redis had its own.
moved {
  from = kubernetes_network_policy_v1.redis
  to   = kubernetes_network_policy_v1.redis["redis"]
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

# Kafka, port by port (NetworkPolicies add up: this one only ever widens
# what Strimzi's own policy, made from the Kafka resource, allows).
# The client listener: the bridge, and KEDA's operator reading its lag.
# Strimzi's ports: 9090 (KRaft controllers) and 9091 (replication, and
# the TLS listener its operators use) from the cluster's own pods (nodes,
# entity operator) and the cluster operator; 8443 (the node agent) from
# the cluster operator; 9404 (metrics, once enabled) from Prometheus.
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
          match_labels = var.bridge_pod_labels
        }
      }
      from {
        namespace_selector {
          match_labels = { "kubernetes.io/metadata.name" = var.keda_namespace }
        }
      }
      ports {
        protocol = "TCP"
        port     = tostring(var.kafka_client_port)
      }
    }
    ingress {
      from {
        pod_selector {
          match_labels = var.kafka_pod_labels
        }
      }
      from {
        namespace_selector {
          match_labels = { "kubernetes.io/metadata.name" = var.strimzi_namespace }
        }
        pod_selector {
          match_labels = { "strimzi.io/kind" = "cluster-operator" }
        }
      }
      ports {
        protocol = "TCP"
        port     = "9090"
      }
      ports {
        protocol = "TCP"
        port     = "9091"
      }
    }
    ingress {
      from {
        namespace_selector {
          match_labels = { "kubernetes.io/metadata.name" = var.strimzi_namespace }
        }
        pod_selector {
          match_labels = { "strimzi.io/kind" = "cluster-operator" }
        }
      }
      ports {
        protocol = "TCP"
        port     = "8443"
      }
    }
    ingress {
      from {
        namespace_selector {
          match_labels = local.from_namespace.monitoring
        }
      }
      ports {
        protocol = "TCP"
        port     = "9404"
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
