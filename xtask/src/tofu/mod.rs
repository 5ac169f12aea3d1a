//! OpenTofu for `infra/terraform`: the tools, built once per machine, and
//! the checks `cargo xtask test` runs with them.

pub mod check;
mod plan_checks;
pub mod tools;
