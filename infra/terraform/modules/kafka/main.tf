locals {
  cluster_label = { "strimzi.io/cluster" = var.cluster_name }
  hour_ms       = 3600 * 1000
  topics = merge(
    { for t in var.topics : t => var.retention_hours },
    { for t in var.topics : "${t}.dlq" => var.dlq_retention_hours },
  )
  # With one copy nothing can be in sync but the leader.
  min_insync = var.replication > 1 ? 2 : 1

  # What the bridge does, and nothing else: produce to and consume from the
  # topics, create any that are missing at start-up (Create on the topic
  # is enough since Kafka 2.0, KIP-277), and use consumer groups under its
  # prefix (`<group>.<component>`, `<group>.<component>.replay`). No
  # cluster-wide right: since Kafka 2.8 (KIP-679) Write on a topic lets an
  # idempotent producer get its producer id without IdempotentWrite.
  bridge_acls = concat(
    [
      for topic in sort(keys(local.topics)) : {
        resource   = { type = "topic", name = topic, patternType = "literal" }
        operations = ["Describe", "Read", "Write", "Create"]
      }
    ],
    [{
      resource   = { type = "group", name = var.bridge_group, patternType = "prefix" }
      operations = ["Describe", "Read"]
    }],
  )
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
            version = var.kafka_version
            # SCRAM proves who connects; Strimzi's own NetworkPolicy then
            # opens the port to client_peers only (empty would mean anyone).
            # Strimzi's operators and the nodes use their own TLS
            # listeners, so nothing else needs this one.
            listeners = [{
              name               = "plain"
              port               = 9092
              type               = "internal"
              tls                = false
              authentication     = { type = "scram-sha-512" }
              networkPolicyPeers = var.client_peers
            }]
            # Every principal but Strimzi's own (super users) needs an ACL.
            authorization = { type = "simple" }
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
          # The user operator turns KafkaUsers into SCRAM credentials
          # (a Secret per user) and ACLs.
          entityOperator = { topicOperator = {}, userOperator = {} }
        }
      },
      {
        apiVersion = "kafka.strimzi.io/v1beta2"
        kind       = "KafkaUser"
        metadata   = { name = var.bridge_user, namespace = var.namespace, labels = local.cluster_label }
        spec = {
          authentication = { type = "scram-sha-512" }
          authorization  = { type = "simple", acls = local.bridge_acls }
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
