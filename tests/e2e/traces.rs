//! Traces end to end: the host and the bridge export OTLP to a receiver,
//! and an order placed without a `traceparent` becomes one trace across
//! the host, Kafka and the bridge, from `POST /api/orders` through the
//! saga to CONFIRMED, every span's parent in it except the root's.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use platform::auth::Role;
use spinshop_tests::{EventStack, OtlpReceiver, ProcessEnv, ReceivedSpan};

use crate::saga::{customer, place, settled};

const SERVER: u64 = 2;
const CLIENT: u64 = 3;
const PRODUCER: u64 = 4;
const CONSUMER: u64 = 5;

/// The exporter's settings: batches every 100 ms, so the test need not
/// wait for the default five seconds.
fn otlp(receiver: &OtlpReceiver, protocol: &str) -> Vec<(String, String)> {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_string()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The spans of one trace, and questions about them.
struct Trace<'a> {
    spans: &'a [ReceivedSpan],
    prefix: &'a str,
}

impl<'a> Trace<'a> {
    fn by_id(&self, id: &str) -> Option<&'a ReceivedSpan> {
        self.spans.iter().find(|s| s.span_id == id)
    }

    fn children(&self, parent: &ReceivedSpan) -> impl Iterator<Item = &'a ReceivedSpan> + '_ {
        let id = parent.span_id.clone();
        self.spans
            .iter()
            .filter(move |s| s.parent_span_id.as_deref() == Some(id.as_str()))
    }

    /// The bridge's deliveries of `topic` to `component`.
    fn deliveries(&self, topic: &str, component: &str) -> Vec<&'a ReceivedSpan> {
        let topic = format!("{}{topic}", self.prefix);
        self.spans
            .iter()
            .filter(|s| {
                s.kind == CONSUMER
                    && s.attr_str("messaging.destination.name") == Some(topic.as_str())
                    && s.attr_str("spinshop.component") == Some(component)
            })
            .collect()
    }

    /// A delivery whose POST the host served, that is with a server span
    /// of `component`'s event route as its child.
    fn delivered(&self, topic: &str, component: &str) -> bool {
        let route = format!("POST /internal/{component}/...");
        self.deliveries(topic, component).iter().any(|d| {
            self.children(d)
                .any(|c| c.kind == SERVER && c.name == route)
        })
    }

    /// An outbound call to `component` by service chaining, with the
    /// callee's execution under it.
    fn chained_to(&self, component: &str) -> bool {
        let host = format!("{component}.spin.internal");
        let execution = format!("execute_wasm_component {component}");
        self.spans.iter().any(|s| {
            s.kind == CLIENT
                && s.attr_str("server.address") == Some(host.as_str())
                && self.children(s).any(|c| c.name == execution)
        })
    }

    /// Spans whose parent is not in the trace (the root has none).
    fn orphans(&self) -> Vec<&'a ReceivedSpan> {
        let ids: HashSet<&str> = self.spans.iter().map(|s| s.span_id.as_str()).collect();
        self.spans
            .iter()
            .filter(|s| s.parent_span_id.as_deref().is_none_or(|p| !ids.contains(p)))
            .collect()
    }

    /// Everything the saga should have left by CONFIRMED.
    fn complete(&self) -> bool {
        self.delivered("inventory.commands", "inventory")
            && self.delivered("payments.commands", "payments")
            && self.delivered("inventory.events", "orders")
            && self.delivered("payments.events", "orders")
            && self.chained_to("sandbox-psp")
            && self.chained_to("catalog")
            && self.spans.iter().any(|s| s.kind == PRODUCER)
            && self.orphans().len() == 1
    }

    fn describe(&self) -> String {
        let mut lines: Vec<String> = self
            .spans
            .iter()
            .map(|s| {
                let parent = s
                    .parent_span_id
                    .as_deref()
                    .and_then(|p| self.by_id(p))
                    .map_or("-".to_string(), |p| p.name.clone());
                format!("{} {:?} <- {parent} [{}]", s.span_id, s.name, s.service)
            })
            .collect();
        lines.sort();
        lines.join("\n")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_one_trace_from_the_request_to_confirmed() {
    let receiver = OtlpReceiver::start();
    // Both encodings are in play: protobuf from the host, JSON from the bridge.
    let env = ProcessEnv {
        host: otlp(&receiver, "http/protobuf"),
        bridge: otlp(&receiver, "http/json"),
    };
    let es = EventStack::start_with_env(&[("rate_limit_default", "1000000/1000000")], &env, |c| c);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let (ann, _) = customer(stack, "ann@example.com").await;
    let product = stack.create_product(&admin, "Teapot", 20.0, 5).await;
    stack.wait_for_stock(&product).await;

    let (placed, request_id) = place(stack, &ann, &[(&product, 1)], None).await;
    let id = placed["id"].as_str().expect("order id").to_string();
    let order = settled(stack, &ann, &id).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");

    let root = receiver.wait_for(
        "the server span of POST /api/orders",
        Duration::from_secs(30),
        |spans| {
            spans
                .iter()
                .find(|s| {
                    s.kind == SERVER
                        && s.attr_str("http.request.method") == Some("POST")
                        && s.attr_str("url.path") == Some("/api/orders")
                })
                .cloned()
        },
    );
    // Named as Spin names it: the method and the manifest's route.
    assert_eq!(root.name, "POST /api/orders/...");
    assert_eq!(root.attr_str("http.route"), Some("/api/orders/..."));
    assert_eq!(root.attr_i64("http.response.status_code"), Some(202));
    assert_eq!(root.service, "spinshop");
    assert!(
        root.parent_span_id.is_none(),
        "the client sent no traceparent"
    );

    // Spans arrive as their work ends; wait until the saga's are all in.
    let deadline = Instant::now() + Duration::from_secs(60);
    let spans = loop {
        let spans: Vec<ReceivedSpan> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == root.trace_id)
            .collect();
        let trace = Trace {
            spans: &spans,
            prefix: &es.topic_prefix,
        };
        if trace.complete() || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let trace = Trace {
        spans: &spans,
        prefix: &es.topic_prefix,
    };
    let all = trace.describe();
    for (topic, component) in [
        ("inventory.commands", "inventory"),
        ("payments.commands", "payments"),
        ("inventory.events", "orders"),
        ("payments.events", "orders"),
    ] {
        assert!(
            trace.delivered(topic, component),
            "no delivery of {topic} to {component} served in the trace:\n{all}"
        );
    }
    assert!(
        trace.chained_to("sandbox-psp"),
        "no PSP call by service chaining in the trace:\n{all}"
    );
    assert!(
        trace.chained_to("catalog"),
        "no price lookup in the trace:\n{all}"
    );
    let orphans: Vec<&str> = trace.orphans().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        orphans,
        vec![root.name.as_str()],
        "only the root may lack its parent in the trace:\n{all}"
    );

    // The orders component's execution is the span its events name: the
    // bridge's relay spans hang under it.
    let execution = trace
        .children(&root)
        .find(|s| s.name == "execute_wasm_component orders")
        .unwrap_or_else(|| panic!("no execution under the request:\n{all}"));
    assert!(
        trace.children(execution).any(|s| s.kind == PRODUCER),
        "the relay of the order's events is the execution's child:\n{all}"
    );
    // The PSP call: payments' execution -> client span -> sandbox-psp.
    let psp_call = spans
        .iter()
        .find(|s| s.attr_str("server.address") == Some("sandbox-psp.spin.internal"))
        .expect("psp call");
    let caller = trace
        .by_id(psp_call.parent_span_id.as_deref().unwrap_or_default())
        .expect("the call's parent");
    assert_eq!(caller.name, "execute_wasm_component payments");

    // Every span of the bridge about this order is in this trace.
    let elsewhere: Vec<String> = receiver
        .spans()
        .into_iter()
        .filter(|s| {
            s.attr_str("messaging.message.conversation_id") == Some(request_id.as_str())
                && s.trace_id != root.trace_id
        })
        .map(|s| s.name)
        .collect();
    assert!(
        elsewhere.is_empty(),
        "spans of the order in other traces: {elsewhere:?}"
    );

    // Who sent what, how.
    let encodings: HashMap<&str, HashSet<&str>> = spans.iter().fold(HashMap::new(), |mut m, s| {
        m.entry(s.service.as_str()).or_default().insert(s.encoding);
        m
    });
    assert_eq!(encodings["spinshop"], HashSet::from(["protobuf"]));
    assert_eq!(encodings["kafka-bridge"], HashSet::from(["json"]));
}
