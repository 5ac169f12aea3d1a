output "release" {
  description = "Name and revision of the Helm release that holds the objects."
  value = {
    name     = helm_release.this.name
    revision = helm_release.this.metadata.revision
  }
}
