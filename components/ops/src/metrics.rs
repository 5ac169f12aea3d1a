//! `GET /metrics`: the whole application's metrics as one Prometheus
//! document. Each component renders its own at `/internal/<name>/metrics`
//! (its business figures and its request counters); ops gathers them
//! through local service chaining, all at once, and merges them so each
//! family appears once. A component that cannot answer costs its figures,
//! never the scrape: `spinshop_metrics_source_up{component}` says which.
//! With the `metrics_token` variable set, the route needs it as a bearer
//! token (Prometheus' `authorization` setting).

use std::time::Duration;

use futures::future::join_all;
use platform::outbound::{Client, Exchange};
use platform::{ApiError, Context, Request, Response};

use crate::{exposition, routes};

/// Each component's answer must come within this.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Answers `GET /metrics`.
pub async fn respond(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let token = spin_sdk::variables::get("metrics_token").unwrap_or_default();
    if !token.is_empty() {
        platform::internal::check_secret(req, &token, "metrics_token")?;
    }
    let internal = spin_sdk::variables::get("internal_token").unwrap_or_default();
    let client = Client::new().timeout(TIMEOUT);
    let names = routes::internal_components();
    let answers = join_all(names.iter().map(|name| {
        let exchange = Exchange::get(format!(
            "http://{name}.spin.internal/internal/{name}/metrics"
        ))
        .header("authorization", format!("Bearer {internal}"));
        let read = |status: u16, body: &[u8]| match status {
            200 => Ok(String::from_utf8_lossy(body).into_owned()),
            other => Err(format!("answered {other}")),
        };
        client.send(ctx, exchange, read)
    }))
    .await;
    let mut documents = Vec::with_capacity(names.len() + 2);
    let mut up = String::from(
        "# HELP spinshop_metrics_source_up Whether the component's metrics were gathered\n\
         # TYPE spinshop_metrics_source_up gauge\n",
    );
    for (name, answer) in names.iter().zip(answers) {
        let ok = match answer {
            Ok(text) => {
                documents.push(text.value);
                1
            }
            Err(e) => {
                platform::redis_store::log_warning(
                    "metrics_source_down",
                    &format!("{name}: {e:?}"),
                );
                0
            }
        };
        up.push_str(&format!(
            "spinshop_metrics_source_up{{component=\"{name}\"}} {ok}\n"
        ));
    }
    documents.push(up);
    // ops' own requests (it serves no internal routes of its own).
    if let Some(redis) = ctx.redis_if_up() {
        documents.push(platform::request_metrics::render(
            &platform::request_metrics::read(redis, "ops")?,
        ));
    }
    let text = exposition::merge(documents.iter().map(String::as_str));
    Ok(Response::prometheus(text))
}
