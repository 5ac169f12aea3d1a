output "redis_host" {
  description = "The app stage's redis_host."
  value       = module.redis.host
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
