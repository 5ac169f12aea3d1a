//! Spin variables: application `[variables]`, component templates and the
//! `SPIN_VARIABLE_<NAME>` environment provider, resolved once at start-up.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail, Result};

use crate::bindings::fermyon::spin::variables::Error as VariableError;
use crate::manifest::Manifest;

/// Resolved application variables (`None` = declared but without a value).
#[derive(Debug, Clone)]
pub struct AppVariables {
    values: BTreeMap<String, Option<String>>,
}

impl AppVariables {
    /// Resolves every application variable from `env` (the process
    /// environment in production) and the manifest defaults. A required
    /// variable without a value fails start-up, naming the variable and the
    /// environment variable that would provide it.
    pub fn resolve(manifest: &Manifest, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, decl) in &manifest.variables {
            let value = env(&env_key(name)).or_else(|| decl.default.clone());
            if value.is_none() && decl.required {
                missing.push(format!("{name} (set {})", env_key(name)));
            }
            values.insert(name.clone(), value);
        }
        if !missing.is_empty() {
            bail!(
                "missing required application variable(s): {}",
                missing.join(", ")
            );
        }
        Ok(Self { values })
    }

    /// Expands `{{ name }}` references in `template`.
    pub fn expand(&self, template: &str) -> Result<String> {
        let mut out = String::with_capacity(template.len());
        for part in parse_template(template)? {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Variable(name) => match self.values.get(name) {
                    Some(Some(value)) => out.push_str(value),
                    Some(None) => bail!("application variable {name:?} has no value"),
                    None => bail!("template refers to undeclared application variable {name:?}"),
                },
            }
        }
        Ok(out)
    }

    /// Checks that every reference in `template` names a declared variable.
    pub fn check_references(&self, template: &str) -> Result<()> {
        for part in parse_template(template)? {
            if let TemplatePart::Variable(name) = part {
                if !self.values.contains_key(name) {
                    bail!(
                        "template {template:?} refers to undeclared application variable {name:?}"
                    );
                }
            }
        }
        Ok(())
    }
}

/// A component's view of variables: what `fermyon:spin/variables.get` returns.
#[derive(Debug, Clone, Default)]
pub struct ComponentVariables {
    values: HashMap<String, Result<String, String>>,
}

impl ComponentVariables {
    /// Expands the component's `[component.<id>.variables]` templates.
    pub fn resolve(templates: &BTreeMap<String, String>, app: &AppVariables) -> Result<Self> {
        let mut values = HashMap::new();
        for (name, template) in templates {
            app.check_references(template)
                .map_err(|e| anyhow!("variable {name:?}: {e}"))?;
            values.insert(
                name.clone(),
                app.expand(template).map_err(|e| format!("{e}")),
            );
        }
        Ok(Self { values })
    }

    /// Looks a variable up the way Spin does: names are validated first, then
    /// an unknown or valueless variable is `undefined`.
    pub fn get(&self, name: &str) -> Result<String, VariableError> {
        if !is_valid_name(name) {
            return Err(VariableError::InvalidName(format!(
                "{name:?} is not a valid variable name: lower-case letters, digits and single underscores, starting with a letter"
            )));
        }
        match self.values.get(name) {
            Some(Ok(value)) => Ok(value.clone()),
            Some(Err(reason)) => Err(VariableError::Undefined(format!("{name}: {reason}"))),
            None => Err(VariableError::Undefined(format!(
                "no variable for {name:?}"
            ))),
        }
    }
}

fn env_key(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('_')
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

enum TemplatePart<'a> {
    Literal(&'a str),
    Variable(&'a str),
}

fn parse_template(template: &str) -> Result<Vec<TemplatePart<'_>>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(TemplatePart::Literal(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| anyhow!("unterminated `{{{{` in template {template:?}"))?;
        let name = after[..end].trim();
        if !is_valid_name(name) {
            bail!("invalid variable reference {name:?} in template {template:?}");
        }
        parts.push(TemplatePart::Variable(name));
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        bail!("stray `}}}}` in template {template:?}");
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
host = { default = "127.0.0.1:6379" }
token = { required = true, secret = true }
empty = {}
[component.c]
source = "c.wasm"
"#,
            PathBuf::from("."),
        )
        .expect("manifest")
    }

    #[test]
    fn environment_overrides_defaults_and_required_is_enforced() {
        let m = manifest();
        let err = AppVariables::resolve(&m, &|_| None).expect_err("token missing");
        assert!(format!("{err}").contains("SPIN_VARIABLE_TOKEN"));
        let env = |k: &str| match k {
            "SPIN_VARIABLE_TOKEN" => Some("s3cret".to_string()),
            "SPIN_VARIABLE_HOST" => Some("10.0.0.1:1".to_string()),
            _ => None,
        };
        let app = AppVariables::resolve(&m, &env).expect("resolves");
        assert_eq!(
            app.expand("redis://{{ host }}/0").expect("expands"),
            "redis://10.0.0.1:1/0"
        );
    }

    #[test]
    fn component_get_distinguishes_invalid_and_undefined() {
        let m = manifest();
        let app = AppVariables::resolve(&m, &|k| {
            (k == "SPIN_VARIABLE_TOKEN").then(|| "t".to_string())
        })
        .expect("resolves");
        let templates = BTreeMap::from([
            ("url".to_string(), "redis://{{host}}".to_string()),
            ("nothing".to_string(), "{{ empty }}".to_string()),
        ]);
        let vars = ComponentVariables::resolve(&templates, &app).expect("resolves");
        assert_eq!(vars.get("url").expect("defined"), "redis://127.0.0.1:6379");
        assert!(matches!(
            vars.get("nothing"),
            Err(VariableError::Undefined(_))
        ));
        assert!(matches!(
            vars.get("missing"),
            Err(VariableError::Undefined(_))
        ));
        assert!(matches!(
            vars.get("Bad-Name"),
            Err(VariableError::InvalidName(_))
        ));
        let bad = BTreeMap::from([("x".to_string(), "{{ nope }}".to_string())]);
        assert!(ComponentVariables::resolve(&bad, &app).is_err());
        assert!(app.expand("{{ host").is_err());
    }
}
