# Stage 2 of 4: the state the app keeps. The namespace is the
# cluster-addons stage's; Kafka resources need its Strimzi operator.

module "redis" {
  source        = "../modules/redis"
  namespace     = var.namespace
  storage_size  = var.redis.storage_size
  storage_class = var.redis.storage_class
  max_memory    = var.redis.max_memory
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
}

module "sqlite_volume" {
  source        = "../modules/volume"
  count         = var.sqlite_volume == null ? 0 : 1
  namespace     = var.namespace
  name          = "spinshop-sqlite"
  size          = try(var.sqlite_volume.size, null)
  storage_class = try(var.sqlite_volume.storage_class, null)
}
