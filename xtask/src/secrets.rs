//! Local secrets for `cargo xtask up`: an Ed25519 key pair that signs and
//! verifies access tokens, and the bridge's internal token. Generated on
//! first run under `.spinshop/secrets/` (ignored by git), reused after.
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
    let token_file = dir.join("internal-token");
    if !token_file.is_file() {
        fs::write(&token_file, random_hex(16)?)?;
    }
    let read =
        |p: &Path| fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let public_pem = read(&public)?;
    let values = [
        ("SPIN_VARIABLE_JWT_SIGNING_KEY", read(&private)?),
        ("SPIN_VARIABLE_JWT_KEY_ID", KEY_ID.to_string()),
        (
            "SPIN_VARIABLE_JWT_PUBLIC_KEYS",
            format!("{KEY_ID}={public_pem}"),
        ),
        (
            INTERNAL_TOKEN_VARIABLE,
            read(&token_file)?.trim().to_string(),
        ),
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
    variables
        .iter()
        .find(|(name, _)| name == INTERNAL_TOKEN_VARIABLE)
        .map(|(_, value)| value.clone())
        .or_else(|| std::env::var(INTERNAL_TOKEN_VARIABLE).ok())
        .with_context(|| format!("no internal token: {INTERNAL_TOKEN_VARIABLE} is not set"))
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
