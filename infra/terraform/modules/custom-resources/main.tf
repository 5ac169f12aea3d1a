# Custom resources go through Helm rather than kubernetes_manifest: a plan
# then needs neither a running cluster nor the CRD, and CRDs installed by
# an earlier release or stage are there by the time Helm applies.
# The values are JSON, which Helm reads as YAML, so a saved plan's objects
# stay machine-readable (`tofu show -json`) for `cargo xtask infra`'s checks.
resource "helm_release" "this" {
  name      = var.name
  namespace = var.namespace
  chart     = "${path.module}/../../charts/resources"
  values    = [jsonencode({ objects = var.objects })]
  wait      = var.wait
  timeout   = var.timeout_seconds
  atomic    = false
}
