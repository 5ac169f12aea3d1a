locals {
  charts       = "oci://ghcr.io/spinframework/charts"
  runtime_name = "wasmtime-spin-v2"
  crds_url     = "https://github.com/spinframework/spin-operator/releases/download/v${var.spin_operator_version}/spin-operator.crds.yaml"
}

resource "helm_release" "runtime_class_manager" {
  name             = "runtime-class-manager"
  namespace        = var.namespace
  create_namespace = true
  repository       = local.charts
  chart            = "runtime-class-manager"
  version          = var.runtime_class_manager_version
  wait             = true
}

# spin-operator's chart leaves its CRDs out; they are published beside it.
data "http" "spin_operator_crds" {
  url = local.crds_url
  lifecycle {
    postcondition {
      condition     = self.status_code == 200
      error_message = "Could not fetch ${local.crds_url}."
    }
  }
}

resource "kubernetes_manifest" "spin_operator_crd" {
  for_each = {
    for crd in provider::kubernetes::manifest_decode_multi(data.http.spin_operator_crds.response_body) :
    crd.metadata.name => crd
  }
  manifest = each.value
}

resource "helm_release" "spin_operator" {
  name             = "spin-operator"
  namespace        = var.namespace
  create_namespace = true
  repository       = local.charts
  chart            = "spin-operator"
  version          = var.spin_operator_version
  wait             = true
  depends_on       = [kubernetes_manifest.spin_operator_crd]
}

# The shim on the labelled nodes (and the RuntimeClass that names it), and
# the executor SpinApps refer to.
module "runtime" {
  source    = "../custom-resources"
  name      = "spinkube-runtime"
  namespace = var.app_namespace
  objects = [
    {
      apiVersion = "runtime.spinkube.dev/v1alpha1"
      kind       = "Shim"
      metadata   = { name = "spin-v2" }
      spec = {
        nodeSelector = var.shim_node_selector
        fetchStrategy = {
          platforms = [
            for arch, sum in var.shim_sha256 : {
              os       = "linux"
              arch     = arch
              location = "https://github.com/spinframework/containerd-shim-spin/releases/download/v${var.shim_version}/containerd-shim-spin-v2-linux-${arch}.tar.gz"
              sha256   = sum
            }
          ]
        }
        containerdRuntimeOptions = { SystemdCgroup = "true" }
        runtimeClass             = { name = local.runtime_name, handler = "spin-v2" }
        rolloutStrategy          = { type = "recreate" }
      }
    },
    {
      apiVersion = "core.spinkube.dev/v1alpha1"
      kind       = "SpinAppExecutor"
      metadata   = { name = "containerd-shim-spin", namespace = var.app_namespace }
      spec = {
        createDeployment = true
        deploymentConfig = {
          runtimeClassName      = local.runtime_name
          installDefaultCACerts = true
        }
      }
    },
  ]
  depends_on = [helm_release.runtime_class_manager, helm_release.spin_operator]
}
