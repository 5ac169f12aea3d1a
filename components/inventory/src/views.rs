//! What clients see of inventory beyond its records: the types the
//! handlers answer with, which also give the OpenAPI document its
//! schemas.

use platform::events::{Line, LineFailure};
use platform::problem::Problem;
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::Status;

/// A hold just made.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReservationCreated<'a> {
    pub reservation_id: String,
    pub status: Status,
    /// When it lapses unless renewed (milliseconds since the epoch).
    pub expires_at_ms: i64,
    /// What it holds, one line per product.
    pub lines: &'a [Line],
}

/// A 409 of a reservation: some line cannot be had (`failures`), or a
/// hold cap is reached (`limit`, `max`), or the state forbids it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ShortageProblem<'a> {
    #[serde(flatten)]
    pub problem: Problem,
    /// Each failing line, with how many units it could have (absent when
    /// no line failed).
    #[serde(skip_serializing_if = "<[LineFailure]>::is_empty")]
    pub failures: &'a [LineFailure],
}
