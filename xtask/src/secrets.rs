//! Local secrets for `cargo xtask up`: an Ed25519 key pair that signs and
//! verifies access tokens, the bridge's internal token, the sandbox
//! payment provider's API key, the MercadoLibre application's client
//! secret (which the sandbox MercadoLibre API checks) and the admin
//! bootstrap token. Generated on first run under `.spinshop/secrets/`
//! (ignored by git), reused after.
//! A `SPIN_VARIABLE_*` already set in the environment wins.

use std::fs;
use std::io::Read as _;
use std::path::Path;

use anyhow::{bail, Context as _, Result};

use crate::process;
use crate::repo::Repo;

/// The key id local tokens carry.
const KEY_ID: &str = "local-1";

/// The variable that carries the bridge's internal token to the host.
const INTERNAL_TOKEN_VARIABLE: &str = "SPIN_VARIABLE_INTERNAL_TOKEN";
/// The variable that carries the admin bootstrap token to the host.
const ADMIN_BOOTSTRAP_VARIABLE: &str = "SPIN_VARIABLE_ADMIN_BOOTSTRAP_TOKEN";
/// Where the admin bootstrap token is kept, under `.spinshop/secrets/`
/// (the README's walk-through reads it from there).
pub const ADMIN_BOOTSTRAP_FILE: &str = "admin-bootstrap-token";

/// `(environment variable, value)` pairs for the host.
pub fn local(repo: &Repo) -> Result<Vec<(String, String)>> {
    let dir = repo.root().join(".spinshop/secrets");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let private = dir.join("jwt-signing-key.pem");
    let public = dir.join("jwt-public-key.pem");
    if !private.is_file() || !public.is_file() {
        generate_key_pair(&private, &public)?;
        eprintln!("generated a local signing key in {}", dir.display());
    }
    let read =
        |p: &Path| fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    // 16 random bytes as hex: the 32 bytes the app requires of a secret.
    let random = |name: &str| -> Result<String> {
        let file = dir.join(name);
        if !file.is_file() {
            fs::write(&file, random_hex(16)?)?;
        }
        Ok(read(&file)?.trim().to_string())
    };
    let public_pem = read(&public)?;
    let values = [
        ("SPIN_VARIABLE_JWT_SIGNING_KEY", read(&private)?),
        ("SPIN_VARIABLE_JWT_KEY_ID", KEY_ID.to_string()),
        (
            "SPIN_VARIABLE_JWT_PUBLIC_KEYS",
            format!("{KEY_ID}={public_pem}"),
        ),
        (INTERNAL_TOKEN_VARIABLE, random("internal-token")?),
        ("SPIN_VARIABLE_PSP_API_KEY", random("psp-api-key")?),
        (
            "SPIN_VARIABLE_ML_CLIENT_SECRET",
            random("ml-client-secret")?,
        ),
        ("SPIN_VARIABLE_ML_TOKEN_KEY", random("ml-token-key")?),
        (ADMIN_BOOTSTRAP_VARIABLE, random(ADMIN_BOOTSTRAP_FILE)?),
    ];
    Ok(values
        .into_iter()
        .filter(|(k, _)| std::env::var_os(k).is_none())
        .map(|(k, v)| (k.to_string(), v))
        .collect())
}

/// The internal token the host gets, for the bridge: from `variables`
/// (what [`local`] returned), else from the environment, where a
/// `SPIN_VARIABLE_INTERNAL_TOKEN` set by the user wins over the local one.
pub fn internal_token(variables: &[(String, String)]) -> Result<String> {
    host_variable(variables, INTERNAL_TOKEN_VARIABLE)
}

/// The admin bootstrap token the host gets (as [`internal_token`]).
pub fn admin_bootstrap_token(variables: &[(String, String)]) -> Result<String> {
    host_variable(variables, ADMIN_BOOTSTRAP_VARIABLE)
}

fn host_variable(variables: &[(String, String)], variable: &str) -> Result<String> {
    variables
        .iter()
        .find(|(name, _)| name == variable)
        .map(|(_, value)| value.clone())
        .or_else(|| std::env::var(variable).ok())
        .with_context(|| format!("{variable} is not set"))
}

fn generate_key_pair(private: &Path, public: &Path) -> Result<()> {
    process::run(
        std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(private),
    )
    .context("openssl genpkey (is openssl installed? `cargo xtask setup` installs it)")?;
    process::run(
        std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(private)
            .arg("-out")
            .arg(public),
    )?;
    Ok(())
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("cannot read /dev/urandom")?;
    if buf.iter().all(|b| *b == 0) {
        bail!("/dev/urandom returned zeros");
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_gets_the_token_the_host_gets() -> Result<()> {
        let variables = vec![
            ("SPIN_VARIABLE_JWT_KEY_ID".to_owned(), KEY_ID.to_owned()),
            (INTERNAL_TOKEN_VARIABLE.to_owned(), "0123abcd".to_owned()),
        ];
        assert_eq!(internal_token(&variables)?, "0123abcd");
        Ok(())
    }
}
