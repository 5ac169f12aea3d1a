# Stage 3 of 4: the application. Secrets are created beforehand with
# kubectl (see README) and only referred to here, so the state holds none.

locals {
  bridge_config = file("${path.root}/../../../kafka-bridge/bridge.toml")
}

module "spin_app" {
  source      = "../modules/spin-app"
  namespace   = var.namespace
  image       = var.image
  replicas    = var.replicas
  autoscaling = var.autoscaling
  settings    = merge(var.settings, { redis_host = var.redis_host, cache_redis_host = var.cache_redis_host })
  secret_settings = merge(
    { for name, key in var.secret_settings : name => { secret = var.secrets_name, key = key } },
    # The pod starts without these keys; the variable is then spin.toml's
    # default (for admin_bootstrap_token: empty, no bootstrap).
    { for name, key in var.optional_secret_settings : name => { secret = var.secrets_name, key = key, optional = true } },
  )
  databases           = var.databases
  sqlite_volume_claim = var.sqlite_volume_claim
}

module "kafka_bridge" {
  source            = "../modules/kafka-bridge"
  namespace         = var.namespace
  image             = var.bridge_image
  config_toml       = local.bridge_config
  bootstrap_servers = var.kafka_bootstrap_servers
  platform_url      = module.spin_app.url
  internal_token    = { secret = var.secrets_name, key = var.secret_settings["internal_token"] }
  kafka_credentials = var.kafka_user
  # The saga's hops: where lag means orders wait.
  lag_topics = {
    "inventory.commands" = "inventory"
    "inventory.events"   = "orders"
    "payments.commands"  = "payments"
    "payments.events"    = "orders"
  }
}

module "edge" {
  source            = "../modules/edge"
  namespace         = var.namespace
  app_service       = module.spin_app.service
  app_pod_labels    = module.spin_app.pod_labels
  bridge_pod_labels = module.kafka_bridge.pod_labels
  redis_pod_labels = {
    redis         = { "app.kubernetes.io/name" = "redis", "app.kubernetes.io/part-of" = "spinshop" }
    "redis-cache" = { "app.kubernetes.io/name" = "redis-cache", "app.kubernetes.io/part-of" = "spinshop" }
  }
  kafka_pod_labels     = { "strimzi.io/cluster" = "spinshop" }
  host                 = var.ingress.host
  ingress_class        = var.ingress.class
  tls_secret           = var.ingress.tls
  ingress_namespace    = var.ingress.namespace
  monitoring_namespace = var.monitoring_namespace
}
