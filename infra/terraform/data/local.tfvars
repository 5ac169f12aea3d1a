# A local cluster (kind or k3d): one Kafka node, small volumes.
kubeconfig_path = "~/.kube/config"
kube_context    = "kind-spinshop"
namespace       = "spinshop"

kafka = {
  brokers      = 1
  storage_size = "2Gi"
  partitions   = 3
  replication  = 1
}

redis = {
  storage_size = "256Mi"
  max_memory   = "128mb"
}

redis_cache = {
  max_memory = "64mb"
}

sqlite_volume = {
  size = "1Gi"
}
