locals {
  name   = "kafka-bridge"
  labels = { "app.kubernetes.io/name" = local.name, "app.kubernetes.io/part-of" = "spinshop" }
  config = "/etc/kafka-bridge"
  # The bridge reads these on start-up and sets them on every Kafka client
  # it makes; the password comes from its Secret, never from the ConfigMap.
  kafka_env = var.kafka_credentials == null ? {} : {
    BRIDGE_KAFKA_SECURITY_PROTOCOL = var.kafka_credentials.protocol
    BRIDGE_KAFKA_SASL_MECHANISM    = var.kafka_credentials.mechanism
    BRIDGE_KAFKA_SASL_USERNAME     = var.kafka_credentials.username
  }
  # KEDA's names for the same mechanisms.
  keda_sasl = {
    "SCRAM-SHA-512" = "scram_sha512"
    "SCRAM-SHA-256" = "scram_sha256"
    "PLAIN"         = "plaintext"
  }
}

resource "kubernetes_config_map_v1" "config" {
  metadata {
    name      = local.name
    namespace = var.namespace
    labels    = local.labels
  }
  data = { "bridge.toml" = var.config_toml }
}

resource "kubernetes_deployment_v1" "bridge" {
  metadata {
    name      = local.name
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    # KEDA owns the replica count.
    replicas = 1
    selector {
      match_labels = local.labels
    }
    template {
      metadata {
        labels = local.labels
        # A new bridge.toml rolls the pods.
        annotations = { "spinshop.dev/config-sha256" = sha256(var.config_toml) }
      }
      spec {
        # In-flight deliveries drain within 30 s of SIGTERM.
        termination_grace_period_seconds = 45
        security_context {
          run_as_non_root = true
          run_as_user     = 65532
        }
        container {
          name  = local.name
          image = var.image
          args = [
            "--config", "${local.config}/bridge.toml",
            "--brokers", var.bootstrap_servers,
            "--platform-url", var.platform_url,
            "--listen", "0.0.0.0:9095",
          ]
          env {
            name = "BRIDGE_INTERNAL_TOKEN"
            value_from {
              secret_key_ref {
                name = var.internal_token.secret
                key  = var.internal_token.key
              }
            }
          }
          dynamic "env" {
            for_each = local.kafka_env
            content {
              name  = env.key
              value = env.value
            }
          }
          dynamic "env" {
            for_each = var.kafka_credentials == null ? [] : [var.kafka_credentials]
            content {
              name = "BRIDGE_KAFKA_SASL_PASSWORD"
              value_from {
                secret_key_ref {
                  name = env.value.secret
                  key  = env.value.key
                }
              }
            }
          }
          port {
            name           = "metrics"
            container_port = 9095
          }
          # /health checks Kafka and the app: right for readiness, wrong
          # for liveness, where either one's outage would restart a bridge
          # that only has to wait (librdkafka reconnects by itself, and
          # the outboxes keep every event meanwhile). Liveness asks only
          # that the process still serves its port.
          readiness_probe {
            http_get {
              path = "/health"
              port = "metrics"
            }
            period_seconds = 5
          }
          liveness_probe {
            tcp_socket {
              port = "metrics"
            }
            period_seconds    = 10
            failure_threshold = 6
          }
          resources {
            requests = var.resources.requests
            limits   = var.resources.limits
          }
          volume_mount {
            name       = "config"
            mount_path = local.config
            read_only  = true
          }
          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
          }
        }
        volume {
          name = "config"
          config_map {
            name = kubernetes_config_map_v1.config.metadata[0].name
          }
        }
      }
    }
  }
  lifecycle {
    ignore_changes = [spec[0].replicas]
  }
}

resource "kubernetes_service_v1" "metrics" {
  metadata {
    name      = local.name
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    selector = local.labels
    port {
      name        = "metrics"
      port        = 9095
      target_port = "metrics"
    }
  }
}

resource "kubernetes_pod_disruption_budget_v1" "bridge" {
  metadata {
    name      = local.name
    namespace = var.namespace
    labels    = local.labels
  }
  spec {
    max_unavailable = "1"
    selector {
      match_labels = local.labels
    }
  }
}

# KEDA reads the lag as the bridge's Kafka user: the user name from the
# bridge's own environment, the password from Strimzi's Secret.
locals {
  keda_authentication = var.kafka_credentials == null ? [] : [{
    apiVersion = "keda.sh/v1alpha1"
    kind       = "TriggerAuthentication"
    metadata   = { name = local.name, namespace = var.namespace, labels = local.labels }
    spec = {
      env = [{ parameter = "username", name = "BRIDGE_KAFKA_SASL_USERNAME", containerName = local.name }]
      secretTargetRef = [
        { parameter = "password", name = var.kafka_credentials.secret, key = var.kafka_credentials.key },
      ]
    }
  }]
  keda_sasl_metadata = var.kafka_credentials == null ? {} : {
    sasl = local.keda_sasl[var.kafka_credentials.mechanism]
    tls  = var.kafka_credentials.protocol == "SASL_SSL" ? "enable" : "disable"
  }
  keda_authentication_ref = var.kafka_credentials == null ? {} : { authenticationRef = { name = local.name } }
}

module "autoscaling" {
  source    = "../custom-resources"
  name      = "kafka-bridge-scaling"
  namespace = var.namespace
  objects = concat(local.keda_authentication, [{
    apiVersion = "keda.sh/v1alpha1"
    kind       = "ScaledObject"
    metadata   = { name = local.name, namespace = var.namespace, labels = local.labels }
    spec = {
      scaleTargetRef = { name = kubernetes_deployment_v1.bridge.metadata[0].name }
      # Never zero: the same bridge drains the outboxes and calls the ticks.
      minReplicaCount = 1
      maxReplicaCount = var.max_replicas
      triggers = [
        for topic in sort(keys(var.lag_topics)) : merge({
          type = "kafka"
          metadata = merge({
            bootstrapServers = var.bootstrap_servers
            consumerGroup    = "${var.consumer_group}.${var.lag_topics[topic]}"
            topic            = topic
            lagThreshold     = tostring(var.lag_threshold)
          }, local.keda_sasl_metadata)
        }, local.keda_authentication_ref)
      ]
    }
  }])
}
