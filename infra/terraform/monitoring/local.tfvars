kubeconfig_path      = "~/.kube/config"
kube_context         = "kind-spinshop"
namespace            = "spinshop"
monitoring_namespace = "monitoring"
