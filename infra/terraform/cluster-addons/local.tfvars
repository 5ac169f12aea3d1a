# A local cluster (kind or k3d) with one node, labelled for the shim:
#   kubectl label node --all spin=true
kubeconfig_path = "~/.kube/config"
kube_context    = "kind-spinshop"
namespace       = "spinshop"
pod_security    = "baseline"
