# A local cluster (kind or k3d) with a registry on localhost:5001 and
# ingress-nginx. The digests are what `cargo xtask push` printed; the ones
# here only make `tofu plan` complete.
kubeconfig_path = "~/.kube/config"
kube_context    = "kind-spinshop"
namespace       = "spinshop"

image        = "localhost:5001/spinshop@sha256:0000000000000000000000000000000000000000000000000000000000000000"
bridge_image = "localhost:5001/kafka-bridge@sha256:0000000000000000000000000000000000000000000000000000000000000000"

replicas = 1

# Plain spin.toml variables. jwt_public_keys is public: kid=PEM pairs.
# Secrets (internal_token, jwt_signing_key, psp_api_key, ml_client_secret,
# ml_token_key and, until the first admin exists, admin_bootstrap_token) are keys of the
# spinshop-secrets Secret, never here.
settings = {
  jwt_key_id      = "local-1"
  jwt_public_keys = "local-1=-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAexampleexampleexampleexampleexampleexamp=\n-----END PUBLIC KEY-----"
  # Where low-stock alerts go; it grants no role.
  admin_email = "admin@spinshop.local"
  # The sandbox PSP through service chaining (spin.toml's defaults).
  psp_url    = "http://sandbox-psp.spin.internal/sandbox/psp"
  psp_origin = "http://sandbox-psp.spin.internal"
  # Your notification providers (Spin's allowed_outbound_hosts syntax);
  # unset, notifications can reach no host.
  # notify_allowed_hosts = "https://api.mail.example:443"
}

ingress = {
  host  = "spinshop.localtest.me"
  class = "nginx"
}
