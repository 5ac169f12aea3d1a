locals {
  cluster_label = { "strimzi.io/cluster" = var.cluster_name }
  hour_ms       = 3600 * 1000
  topics = merge(
    { for t in var.topics : t => var.retention_hours },
    { for t in var.topics : "${t}.dlq" => var.dlq_retention_hours },
  )
  # With one copy nothing can be in sync but the leader.
  min_insync = var.replication > 1 ? 2 : 1
}

module "cluster" {
  source    = "../custom-resources"
  name      = "kafka-${var.cluster_name}"
  namespace = var.namespace
  objects = concat(
    [
      {
        apiVersion = "kafka.strimzi.io/v1beta2"
        kind       = "KafkaNodePool"
        metadata   = { name = "${var.cluster_name}-nodes", namespace = var.namespace, labels = local.cluster_label }
        spec = {
          replicas = var.brokers
          roles    = ["controller", "broker"]
          storage = {
            type = "jbod"
            volumes = [{
              id            = 0
              type          = "persistent-claim"
              size          = var.storage_size
              deleteClaim   = false
              kraftMetadata = "shared"
            }]
          }
        }
      },
      {
        apiVersion = "kafka.strimzi.io/v1beta2"
        kind       = "Kafka"
        metadata = {
          name        = var.cluster_name
          namespace   = var.namespace
          annotations = { "strimzi.io/node-pools" = "enabled", "strimzi.io/kraft" = "enabled" }
        }
        spec = {
          kafka = {
            version   = var.kafka_version
            listeners = [{ name = "plain", port = 9092, type = "internal", tls = false }]
            config = {
              "offsets.topic.replication.factor"         = var.replication
              "transaction.state.log.replication.factor" = var.replication
              "transaction.state.log.min.isr"            = local.min_insync
              "default.replication.factor"               = var.replication
              "min.insync.replicas"                      = local.min_insync
              # Topics come from KafkaTopics below (and the bridge's start-up check).
              "auto.create.topics.enable" = false
            }
          }
          entityOperator = { topicOperator = {} }
        }
      },
    ],
    [
      for name, hours in local.topics : {
        apiVersion = "kafka.strimzi.io/v1beta2"
        kind       = "KafkaTopic"
        # Resource names cannot hold every topic name; spec.topicName can.
        metadata = { name = replace(name, ".", "-"), namespace = var.namespace, labels = local.cluster_label }
        spec = {
          topicName  = name
          partitions = var.partitions
          replicas   = var.replication
          config = {
            "retention.ms"        = hours * local.hour_ms
            "min.insync.replicas" = local.min_insync
          }
        }
      }
    ],
  )
}
