output "redis_host" {
  description = "The app stage's redis_host."
  value       = module.redis.host
}

output "cache_redis_host" {
  description = "The app stage's cache_redis_host."
  value       = module.redis_cache.host
}

output "kafka_bootstrap_servers" {
  description = "The app stage's kafka_bootstrap_servers."
  value       = module.kafka.bootstrap_servers
}

output "topics" {
  description = "Every topic, .dlq twins included."
  value       = module.kafka.topics
}

output "sqlite_volume_claim" {
  description = "The app stage's sqlite_volume_claim (null without one)."
  value       = one(module.sqlite_volume[*].name)
}

output "kafka_bridge_user" {
  description = "The app stage's kafka_user: the bridge's SCRAM user and the Secret (key password) Strimzi keeps its password in."
  value       = module.kafka.bridge_user
}
