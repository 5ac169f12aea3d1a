# Stage 2 of 4: the state the app keeps. The namespace is the
# cluster-addons stage's; Kafka resources need its Strimzi operator.

# State: sessions, carts, rate limits, revocations. noeviction: at its
# limit writes fail loudly instead of silently dropping state.
module "redis" {
  source        = "../modules/redis"
  namespace     = var.namespace
  storage_size  = var.redis.storage_size
  storage_class = var.redis.storage_class
  max_memory    = var.redis.max_memory
}

# Cached reads only, apart from the state above: whatever anonymous
# traffic caches is evicted here and can never fill the state Redis.
module "redis_cache" {
  source            = "../modules/redis"
  namespace         = var.namespace
  name              = "redis-cache"
  max_memory        = var.redis_cache.max_memory
  max_memory_policy = var.redis_cache.max_memory_policy
  persistence       = false
}

module "kafka" {
  source              = "../modules/kafka"
  namespace           = var.namespace
  topics              = var.topics
  brokers             = var.kafka.brokers
  storage_size        = var.kafka.storage_size
  partitions          = var.kafka.partitions
  replication         = var.kafka.replication
  retention_hours     = var.kafka.retention_hours
  dlq_retention_hours = var.kafka.dlq_retention_hours
  bridge_user         = var.kafka_bridge.user
  bridge_group        = var.kafka_bridge.group
  client_peers = [
    { podSelector = { matchLabels = var.kafka_bridge.pod_labels } },
    # KEDA's operator reads the bridge's consumer lag.
    { namespaceSelector = { matchLabels = { "kubernetes.io/metadata.name" = var.keda_namespace } } },
  ]
}

module "sqlite_volume" {
  source        = "../modules/volume"
  count         = var.sqlite_volume == null ? 0 : 1
  namespace     = var.namespace
  name          = "spinshop-sqlite"
  size          = try(var.sqlite_volume.size, null)
  storage_class = try(var.sqlite_volume.storage_class, null)
}
