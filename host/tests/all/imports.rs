//! Every component of the application imports only what Spin provides:
//! WASI 0.2 and Spin's own interfaces. A WIT package of ours used for
//! types must never become an import (Spin could not satisfy it).

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::harness::target_dir;

fn allowed(import: &str) -> bool {
    let wasi_02 = import.starts_with("wasi:") && import.contains("@0.2.");
    let spin = ["fermyon:spin/", "spin:sqlite/", "spin:postgres/"]
        .iter()
        .any(|p| import.starts_with(p));
    wasi_02 || spin
}

#[test]
fn components_import_only_wasi_and_spin_interfaces() {
    spinshop_testkit::build_all();
    let root = spinshop_testkit::repo_root();
    let manifest: toml::Table = std::fs::read_to_string(root.join("spin.toml"))
        .expect("spin.toml")
        .parse()
        .expect("valid TOML");
    let components = manifest["component"].as_table().expect("components");
    assert!(!components.is_empty());
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config).expect("engine");
    for (id, component) in components {
        let source = component["source"].as_str().expect("local source");
        let path = root.join(source);
        let path = if path.exists() {
            path
        } else {
            // CI points target/ elsewhere; the relative layout is the same.
            target_dir().join(source.trim_start_matches("target/"))
        };
        let compiled = Component::from_file(&engine, &path)
            .unwrap_or_else(|e| panic!("{id}: cannot load {}: {e:?}", path.display()));
        let imports: Vec<String> = compiled
            .component_type()
            .imports(&engine)
            .map(|(name, _)| name.to_string())
            .collect();
        assert!(!imports.is_empty(), "{id} imports nothing?");
        for import in &imports {
            assert!(
                allowed(import),
                "{id} imports {import}, which Spin does not provide"
            );
        }
        assert!(
            !imports.iter().any(|i| i.starts_with("spinshop:")),
            "{id} imports our own WIT package"
        );
    }
}

#[test]
fn the_import_filter_rejects_what_spin_lacks() {
    assert!(allowed("wasi:http/outgoing-handler@0.2.0"));
    assert!(allowed("fermyon:spin/sqlite@2.0.0"));
    assert!(allowed("spin:sqlite/sqlite@3.0.0"));
    assert!(!allowed("wasi:http/handler@0.3.0-rc-2026-01-06"));
    assert!(!allowed("spinshop:platform/events@0.1.0"));
    assert!(!allowed("wasi_snapshot_preview1"));
}
