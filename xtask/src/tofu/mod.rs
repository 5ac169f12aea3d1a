//! OpenTofu for `infra/terraform`: the tools, built once per machine, and
//! the checks `cargo xtask test` runs with them.

pub mod check;
pub mod tools;
