//! Tests of `domain`.

use super::*;

fn envelope() -> Envelope {
    Envelope {
        id: "0193a1b2-0000-7000-8000-000000000001".into(),
        type_: "catalog.product_created".into(),
        topic: "catalog.events".into(),
        key: "p1".into(),
        occurred_at: "2026-11-22T10:00:00.250+01:00".into(),
        correlation_id: "req-1".into(),
        causation_id: None,
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        payload: r#"{"product_id":"p1"}"#.into(),
    }
}

fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
    q.iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn page(limit: u32, after: Option<&str>) -> PageRequest {
    PageRequest {
        limit,
        after: after.map(str::to_string),
    }
}

fn field_of(e: &ApiError) -> serde_json::Value {
    e.problem("r")["field"].clone()
}

#[test]
fn event_prefixes_name_their_aggregate() {
    assert_eq!(aggregate_type("order.created"), "order");
    assert_eq!(aggregate_type("payment.refund_requested"), "payment");
    assert_eq!(aggregate_type("inventory.low_stock"), "inventory");
    assert_eq!(aggregate_type("catalog.product_deleted"), "product");
    assert_eq!(aggregate_type("user.registered"), "user");
    assert_eq!(aggregate_type("marketplace.item_synced"), "marketplace");
    assert_eq!(aggregate_type("notification.requested"), "notification");
    assert_eq!(aggregate_type("shipment.sent"), "other");
    assert_eq!(aggregate_type("order"), "other");
    for t in ["order", "product", "other"] {
        assert!(AGGREGATE_TYPES.contains(&t));
    }
}

#[test]
fn a_record_keeps_the_envelope_as_given() {
    let r = AuditRecord::from_envelope(&envelope()).expect("valid");
    assert_eq!(r.aggregate_type, "product");
    assert_eq!(r.aggregate_id, "p1");
    assert_eq!(r.occurred_at, "2026-11-22T10:00:00.250+01:00");
    assert_eq!(r.occurred_at_ms, 1_795_338_000_250);
    assert_eq!(r.payload, r#"{"product_id":"p1"}"#);
}

#[test]
fn malformed_envelopes_name_the_field() {
    type Mutation = Box<dyn Fn(&mut Envelope)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("id", Box::new(|e| e.id = String::new())),
        ("type", Box::new(|e| e.type_ = "has space".into())),
        ("topic", Box::new(|e| e.topic = "t".repeat(250))),
        ("key", Box::new(|e| e.key = String::new())),
        (
            "occurred_at",
            Box::new(|e| e.occurred_at = "yesterday".into()),
        ),
        ("payload", Box::new(|e| e.payload = "{not json".into())),
        (
            "correlation_id",
            Box::new(|e| e.correlation_id = "a\nb".into()),
        ),
    ];
    for (field, mutate) in cases {
        let mut e = envelope();
        mutate(&mut e);
        let err = AuditRecord::from_envelope(&e).expect_err(field);
        assert_eq!(err.status(), 422, "{field}");
        assert_eq!(field_of(&err), field);
    }
}

#[test]
fn queries_read_every_filter() {
    let q = LogQuery::parse(
        &pairs(&[
            ("aggregate_id", "o1"),
            ("aggregate_type", "order"),
            ("type", "order.created"),
            ("correlation_id", "req-1"),
            ("from", "2026-11-22T00:00:00Z"),
            ("to", "2026-11-22T02:00:00 01:00"),
            ("limit", "500"),
            ("cursor", "c2VxOjQx"),
        ]),
        page(500, Some("seq:41")),
    )
    .expect("valid");
    assert_eq!(q.aggregate_id.as_deref(), Some("o1"));
    assert_eq!(q.aggregate_type, Some("order"));
    assert_eq!(q.event_type.as_deref(), Some("order.created"));
    assert_eq!(q.from_ms, Some(1_795_305_600_000));
    assert_eq!(q.to_ms, Some(1_795_309_200_000), "+01:00 sent unencoded");
    assert_eq!(q.limit, 500);
    assert_eq!(q.after.map(|a| a.seq), Some(41));
    let recorded = LogQuery::default();
    let occurred = LogQuery {
        by_occurred: true,
        ..LogQuery::default()
    };
    let at = Position {
        occurred_at_ms: 1_700_000_000_000,
        seq: 41,
    };
    assert_eq!(cursor_key(&recorded, at), "seq:41");
    assert_eq!(
        decode_cursor(&cursor_key(&occurred, at)).expect("round trip"),
        at
    );
    assert_eq!(decode_cursor("seq:41").expect("ours").seq, 41);
    assert_eq!(decode_cursor("occ:1700000000000:41").expect("ours"), at);
    for bad in ["41", "seq:x", "seq:-1"] {
        assert_eq!(field_of(&decode_cursor(bad).expect_err(bad)), "cursor");
    }
}

#[test]
fn bad_queries_name_the_parameter() {
    for (q, field, status) in [
        (vec![("from", "yesterday")], "from", 422),
        (vec![("to", "2026-13-01T00:00:00Z")], "to", 422),
        (vec![("aggregate_type", "spaceship")], "aggregate_type", 422),
        (vec![("type", "")], "type", 422),
        (vec![("aggregateid", "o1")], "aggregateid", 400),
        (vec![("type", "a"), ("type", "b")], "type", 400),
        (
            vec![
                ("from", "2026-11-22T01:00:00Z"),
                ("to", "2026-11-22T00:00:00Z"),
            ],
            "to",
            422,
        ),
    ] {
        let err = LogQuery::parse(&pairs(&q), page(10, None)).expect_err(field);
        assert_eq!(
            (err.status(), field_of(&err)),
            (status, field.into()),
            "{q:?}"
        );
    }
}
