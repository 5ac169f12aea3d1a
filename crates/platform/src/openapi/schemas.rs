//! Named schemas from several sources in one `components.schemas`: a
//! name two sources give to different schemas is kept by the first, and
//! the other is renamed, with every reference to it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Where the document keeps its named schemas (the start of a `$ref`).
pub const PREFIX: &str = "#/components/schemas/";

/// Each incoming schema's name in the merged set, by its own name.
pub type Names = BTreeMap<String, String>;

/// Adds `incoming` (whose references start with `prefix`) to `into`. A
/// schema already there under the same name and identical is shared; a
/// different one keeps its name and the incoming one becomes
/// `<name><suffix>` (or `<name><suffix>2`, ...). Returns every incoming
/// schema's final name: rewrite what refers to them with [`rewrite`].
pub fn merge(
    into: &mut Map<String, Value>,
    incoming: Map<String, Value>,
    prefix: &str,
    suffix: &str,
) -> Names {
    let mut names: Names = incoming.keys().map(|k| (k.clone(), k.clone())).collect();
    // A rename changes the schemas that refer to the renamed one, which
    // may then differ from theirs: repeat until nothing changes. Each
    // round renames at least one schema to a name nothing else has, so it
    // ends within as many rounds as there are schemas.
    loop {
        let mut renamed = false;
        for (name, schema) in &incoming {
            let mut schema = schema.clone();
            rewrite(&mut schema, prefix, &names);
            let current = &names[name];
            if into.get(current).is_some_and(|there| *there != schema) {
                let fresh = fresh_name(&format!("{name}{suffix}"), into, &names);
                names.insert(name.clone(), fresh);
                renamed = true;
            }
        }
        if !renamed {
            break;
        }
    }
    for (name, mut schema) in incoming {
        rewrite(&mut schema, prefix, &names);
        into.insert(names[&name].clone(), schema);
    }
    names
}

/// `base`, or `base2`, `base3`, ...: the first that neither `into` nor
/// another incoming schema uses.
fn fresh_name(base: &str, into: &Map<String, Value>, names: &Names) -> String {
    let taken = |n: &str| into.contains_key(n) || names.values().any(|v| v == n);
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|i| format!("{base}{i}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_string())
}

/// Points every `$ref` of `value` that starts with `prefix` and names one
/// of `names` at [`PREFIX`] and its final name.
pub fn rewrite(value: &mut Value, prefix: &str, names: &Names) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key == "$ref" {
                    if let Some(target) = field
                        .as_str()
                        .and_then(|r| r.strip_prefix(prefix))
                        .and_then(|name| names.get(name))
                    {
                        *field = Value::String(format!("{PREFIX}{target}"));
                    }
                } else {
                    rewrite(field, prefix, names);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite(item, prefix, names)),
        _ => {}
    }
}

/// The names of `names` that changed.
pub fn renamed(names: &Names) -> Vec<(&str, &str)> {
    names
        .iter()
        .filter(|(from, to)| from != to)
        .map(|(from, to)| (from.as_str(), to.as_str()))
        .collect()
}
