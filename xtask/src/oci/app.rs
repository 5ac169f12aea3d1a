//! What of a Spin application goes into its image: the manifest and every
//! file it names (each component's `source` and `files`), at the same paths
//! relative to the manifest, because containerd-shim-spin loads `/spin.toml`
//! and resolves those paths from `/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};

/// The manifest's path inside the image, where the shim looks for it.
pub const MANIFEST_IN_IMAGE: &str = "spin.toml";

/// A Spin application read from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// `[application] name`.
    pub name: String,
    /// `[application] version`, the image's default tag.
    pub version: String,
    /// The manifest first, then one group per component, in id order.
    pub groups: Vec<FileGroup>,
}

/// Files that share a layer: the manifest, or one component's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGroup {
    /// `spin.toml`, or `component <id>`.
    pub title: String,
    /// Sorted by path in the image; no path is in two groups.
    pub files: Vec<AppFile>,
}

/// One file of the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFile {
    /// Relative, `/`-separated, normal components only.
    pub path_in_image: String,
    /// Where it is read from.
    pub local: PathBuf,
}

/// Reads `manifest` and lists the files its application needs.
pub fn read(manifest: &Path) -> Result<App> {
    let text = fs::read_to_string(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
    let root = manifest
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let application = table
        .get("application")
        .and_then(toml::Value::as_table)
        .context("spin.toml has no [application] table")?;
    let text_field = |key: &str| {
        application
            .get(key)
            .and_then(toml::Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("spin.toml has no [application] {key}"))
    };
    let name = text_field("name")?;
    let version = text_field("version")?;

    let mut placed = BTreeSet::new();
    let mut groups = vec![FileGroup {
        title: MANIFEST_IN_IMAGE.to_owned(),
        files: vec![AppFile {
            path_in_image: MANIFEST_IN_IMAGE.to_owned(),
            local: manifest.to_path_buf(),
        }],
    }];
    placed.insert(MANIFEST_IN_IMAGE.to_owned());

    let components = table
        .get("component")
        .and_then(toml::Value::as_table)
        .context("spin.toml has no [component.*] tables")?;
    // toml::Table is ordered by key, so components come in id order.
    for (id, component) in components {
        let component = component
            .as_table()
            .with_context(|| format!("[component.{id}] is not a table"))?;
        let mut relative = Vec::new();
        match component.get("source") {
            Some(toml::Value::String(source)) => relative.push(source.clone()),
            Some(_) => bail!(
                "[component.{id}] source is not a local path; only files in the checkout can be packaged"
            ),
            None => bail!("[component.{id}] has no source"),
        }
        for entry in component
            .get("files")
            .and_then(toml::Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            relative.push(files_entry_source(id, entry)?);
        }
        let mut files = Vec::new();
        for path in relative {
            for file in expand(root, &path).with_context(|| format!("[component.{id}]"))? {
                if placed.insert(file.path_in_image.clone()) {
                    files.push(file);
                }
            }
        }
        files.sort_by(|a, b| a.path_in_image.cmp(&b.path_in_image));
        groups.push(FileGroup {
            title: format!("component {id}"),
            files,
        });
    }
    Ok(App {
        name,
        version,
        groups,
    })
}

/// The local side of a `files` entry: a path or glob, or a mapping's
/// `source` directory.
fn files_entry_source(id: &str, entry: &toml::Value) -> Result<String> {
    match entry {
        toml::Value::String(pattern) => Ok(pattern.clone()),
        toml::Value::Table(mapping) => mapping
            .get("source")
            .and_then(toml::Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("[component.{id}] has a files mapping without a source")),
        _ => bail!("[component.{id}] files entries are paths or {{ source, destination }} tables"),
    }
}

/// The files under `relative` (a file, a directory, or a glob whose part
/// before the first wildcard names one of those), for the image. A glob
/// brings its whole literal prefix: more than it matches, never less, and
/// Spin still applies the pattern when it loads the app.
fn expand(root: &Path, relative: &str) -> Result<Vec<AppFile>> {
    let literal: Vec<&str> = relative
        .split('/')
        .take_while(|part| !part.contains(['*', '?', '[', '{']))
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    let literal = literal.join("/");
    let checked = Path::new(&literal);
    let escapes = checked.is_absolute()
        || checked
            .components()
            .any(|c| !matches!(c, Component::Normal(_)));
    if escapes || relative.starts_with('/') {
        bail!("{relative:?} is not a path inside the application's directory");
    }
    let local = root.join(checked);
    let mut files = Vec::new();
    collect(&local, &literal, &mut files)
        .with_context(|| format!("{relative:?} names nothing to package"))?;
    Ok(files)
}

fn collect(local: &Path, in_image: &str, files: &mut Vec<AppFile>) -> Result<()> {
    let meta = fs::metadata(local).with_context(|| format!("cannot read {}", local.display()))?;
    if meta.is_file() {
        if in_image.is_empty() {
            bail!("the application's directory itself is not a file");
        }
        files.push(AppFile {
            path_in_image: in_image.to_owned(),
            local: local.to_path_buf(),
        });
        return Ok(());
    }
    if !meta.is_dir() {
        bail!("{} is neither a file nor a directory", local.display());
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(local).with_context(|| format!("cannot list {}", local.display()))? {
        let name = entry?.file_name();
        let name = name
            .to_str()
            .with_context(|| format!("a file name in {} is not UTF-8", local.display()))?
            .to_owned();
        names.push(name);
    }
    names.sort();
    for name in names {
        let child = if in_image.is_empty() {
            name.clone()
        } else {
            format!("{in_image}/{name}")
        };
        collect(&local.join(&name), &child, files)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::testdata::ScratchDir;

    #[test]
    fn lists_the_manifest_then_each_component_with_its_files() -> Result<()> {
        let dir = ScratchDir::new("app-read")?;
        dir.write(
            "spin.toml",
            r#"spin_manifest_version = 2
[application]
name = "shop"
version = "1.2.3"
[component.web]
source = "target/web.wasm"
files = ["static/**/*.css", { source = "assets", destination = "/" }]
[component.api]
source = "target/api.wasm"
[component.api-again]
source = "target/api.wasm"
"#,
        )?;
        dir.write("target/web.wasm", "web")?;
        dir.write("target/api.wasm", "api")?;
        dir.write("static/css/site.css", "css")?;
        dir.write("assets/logo.svg", "svg")?;
        dir.write("assets/a/b.txt", "b")?;

        let app = read(&dir.path().join("spin.toml"))?;
        assert_eq!((app.name.as_str(), app.version.as_str()), ("shop", "1.2.3"));
        let listed: Vec<(&str, Vec<&str>)> = app
            .groups
            .iter()
            .map(|g| {
                (
                    g.title.as_str(),
                    g.files.iter().map(|f| f.path_in_image.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            vec![
                ("spin.toml", vec!["spin.toml"]),
                ("component api", vec!["target/api.wasm"]),
                ("component api-again", vec![]),
                (
                    "component web",
                    vec![
                        "assets/a/b.txt",
                        "assets/logo.svg",
                        "static/css/site.css",
                        "target/web.wasm"
                    ]
                ),
            ]
        );
        Ok(())
    }

    #[test]
    fn refuses_what_cannot_be_packaged() -> Result<()> {
        let dir = ScratchDir::new("app-refuse")?;
        let head = "[application]\nname = \"a\"\nversion = \"1\"\n";
        for (component, expected) in [
            ("source = \"../outside.wasm\"", "not a path inside"),
            ("source = \"/abs.wasm\"", "not a path inside"),
            ("source = \"missing.wasm\"", "names nothing to package"),
            (
                "source = { url = \"https://example.com/a.wasm\", digest = \"sha256:00\" }",
                "not a local path",
            ),
            (
                "source = \"ok.wasm\"\nfiles = [{ destination = \"/\" }]",
                "without a source",
            ),
        ] {
            dir.write("ok.wasm", "x")?;
            dir.write("spin.toml", &format!("{head}[component.c]\n{component}\n"))?;
            let error = format!(
                "{:#}",
                read(&dir.path().join("spin.toml"))
                    .err()
                    .context("should be refused")?
            );
            assert!(error.contains(expected), "{component}: {error}");
        }
        Ok(())
    }
}
