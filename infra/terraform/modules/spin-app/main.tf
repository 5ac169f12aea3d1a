locals {
  sqlite_labels = sort([for label, db in var.databases : label if db.backend == "sqlite"])
  uses_volume   = length(local.sqlite_labels) > 0
  mount_path    = "/var/lib/spinshop"

  # SpinKube hands each variable to the app as SPIN_VARIABLE_<NAME>.
  variables = concat(
    [for name in sort(keys(var.settings)) : { name = name, value = var.settings[name] }],
    [
      for name in sort(keys(var.secret_settings)) : {
        name = name
        valueFrom = {
          secretKeyRef = merge(
            { name = var.secret_settings[name].secret, key = var.secret_settings[name].key },
            var.secret_settings[name].optional ? { optional = true } : {},
          )
        }
      }
    ],
  )

  # Spin's runtime config per label: a file on the volume, or a libSQL
  # server whose token stays in its Secret.
  sqlite_databases = [
    for label in sort(keys(var.databases)) : [
      {
        name    = label
        type    = "spin"
        options = [{ name = "path", value = "${local.mount_path}/${label}.db" }]
      },
      {
        name = label
        type = "libsql"
        options = [
          { name = "url", value = var.databases[label].url },
          {
            name = "token"
            valueFrom = {
              secretKeyRef = { name = try(var.databases[label].token.secret, ""), key = try(var.databases[label].token.key, "") }
            }
          },
        ]
      },
    ][var.databases[label].backend == "sqlite" ? 0 : 1]
  ]

  spec = merge(
    {
      image     = var.image
      executor  = var.executor
      resources = var.resources
      variables = local.variables
      runtimeConfig = {
        sqliteDatabases = local.sqlite_databases
      }
      # Liveness must not depend on Redis or SQLite: a restart cures
      # neither and kills the sagas in flight. Readiness does, and only
      # stops traffic until they answer again.
      checks = {
        liveness  = { httpGet = { path = var.health_path }, periodSeconds = 10 }
        readiness = { httpGet = { path = var.ready_path }, periodSeconds = 5 }
      }
    },
    # A conditional would need both sides of one type; a tuple does not.
    [{ replicas = var.replicas }, { enableAutoscaling = true }][var.autoscaling ? 1 : 0],
    [{}, {
      volumes      = [{ name = "sqlite", persistentVolumeClaim = { claimName = var.sqlite_volume_claim } }]
      volumeMounts = [{ name = "sqlite", mountPath = local.mount_path }]
    }][local.uses_volume ? 1 : 0],
  )
}

resource "terraform_data" "sqlite_single_pod" {
  input = local.sqlite_labels
  lifecycle {
    precondition {
      condition     = !local.uses_volume || (var.replicas == 1 && !var.autoscaling)
      error_message = "SQLite files on a volume (${join(", ", local.sqlite_labels)}) take one pod: set replicas = 1 and autoscaling = false, or move those databases to libsql."
    }
    precondition {
      condition     = var.health_path != var.ready_path
      error_message = "Liveness and readiness probe the same route (${var.health_path}): a dependency outage would then restart the pods. Liveness is /health, readiness /ready."
    }
    precondition {
      condition     = length(setintersection(keys(var.settings), keys(var.secret_settings))) == 0
      error_message = "A variable is in both settings and secret_settings: ${join(", ", setintersection(keys(var.settings), keys(var.secret_settings)))}."
    }
  }
}

module "spin_app" {
  source    = "../custom-resources"
  name      = "spinapp-${var.name}"
  namespace = var.namespace
  objects = [{
    apiVersion = "core.spinkube.dev/v1alpha1"
    kind       = "SpinApp"
    metadata   = { name = var.name, namespace = var.namespace, labels = { "app.kubernetes.io/part-of" = "spinshop" } }
    spec       = local.spec
  }]
  depends_on = [terraform_data.sqlite_single_pod]
}
