//! Moving the application's time: a stack started with [`MOVABLE`] lets a
//! test advance the time every component sees, so expiries, timeouts and a
//! breaker's open interval come due at once instead of after a sleep.

use std::time::Duration;

use serde_json::{json, Value};
use spinshop_tests::{client, Stack};

/// The variable that lets a stack's time be moved.
pub const MOVABLE: (&str, &str) = ("clock_override", "true");

/// Moves the application's time forward by `by`; returns the time it is now.
pub async fn advance(stack: &Stack, by: Duration) -> String {
    let r = client()
        .post(stack.url("/internal/inventory/clock"))
        .bearer_auth(&stack.internal_token)
        .json(&json!({ "advance_ms": by.as_millis() }))
        .send()
        .await
        .expect("clock");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "POST /internal/inventory/clock: {body}");
    body["now"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn time_moves_only_where_the_stack_allows_it() {
    let fixed = Stack::start();
    let r = client()
        .post(fixed.url("/internal/inventory/clock"))
        .bearer_auth(&fixed.internal_token)
        .json(&json!({ "advance_ms": 1000 }))
        .send()
        .await
        .expect("clock");
    assert_eq!(
        r.status(),
        404,
        "a stack without clock_override has no clock route"
    );

    let stack = Stack::start_with(&[MOVABLE]);
    let unauthorised = client()
        .post(stack.url("/internal/inventory/clock"))
        .json(&json!({ "advance_ms": 1000 }))
        .send()
        .await
        .expect("clock");
    assert_eq!(unauthorised.status(), 401);
    let day = Duration::from_secs(24 * 3600);
    let tomorrow = advance(&stack, day).await;
    let later = advance(&stack, Duration::from_secs(1)).await;
    assert!(later > tomorrow, "{later} after {tomorrow}");
    let r = client()
        .post(stack.url("/internal/inventory/clock"))
        .bearer_auth(&stack.internal_token)
        .json(&json!({ "advance_ms": -5 }))
        .send()
        .await
        .expect("clock");
    assert_eq!(r.status(), 400, "time does not go back");
}
