//! Tests of `saga`.

use super::*;
use OrderStatus as S;
use SagaStep as P;

fn state(status: OrderStatus, step: SagaStep) -> SagaState {
    SagaState {
        status,
        step,
        reservation_id: (step != P::Reserving).then(|| "r1".to_string()),
        payment_id: None,
    }
}

fn change(d: Decision) -> Change {
    match d {
        Decision::Apply(c) => c,
        other => panic!("expected a change, got {other:?}"),
    }
}

fn reserved(id: &str) -> SagaInput {
    SagaInput::StockReserved {
        reservation_id: id.into(),
        lines: vec![("p1".into(), 1)],
    }
}

fn priced(product_id: &str, quantity: u32) -> PricedLine {
    PricedLine {
        product_id: product_id.into(),
        quantity,
        unit_price_cents: 100,
    }
}

#[test]
fn only_a_reservation_of_the_orders_own_lines_is_taken() {
    let order = [priced("a", 1), priced("b", 2)];
    let answer = |lines: &[(&str, u32)]| SagaInput::StockReserved {
        reservation_id: "r9".into(),
        lines: lines.iter().map(|(p, q)| ((*p).to_string(), *q)).collect(),
    };
    assert!(matches!(
        check_reservation(answer(&[("b", 2), ("a", 1)]), &order),
        SagaInput::StockReserved { .. }
    ));
    for wrong in [
        &[("a", 7), ("b", 2)][..],
        &[("a", 1)],
        &[("a", 1), ("b", 2), ("c", 1)],
    ] {
        assert_eq!(
            check_reservation(answer(wrong), &order),
            SagaInput::ReservationMismatch {
                reservation_id: "r9".into()
            },
            "{wrong:?}"
        );
    }
    let c = change(decide(
        &state(S::Pending, P::Reserving),
        &SagaInput::ReservationMismatch {
            reservation_id: "r9".into(),
        },
    ));
    assert_eq!(c.next, Some((S::Cancelled, P::Cancelled)));
    assert_eq!(
        c.commands,
        vec![
            Command::ReleaseStock {
                reservation_id: Some("r9".into()),
                reason: "reservation_mismatch".into()
            },
            Command::AnnounceCancelled {
                reason: "reservation_mismatch".into()
            }
        ],
        "the stray reservation is given back, never sold"
    );
    assert_eq!(
        decide(
            &state(S::Pending, P::Charging),
            &SagaInput::ReservationMismatch {
                reservation_id: "r9".into()
            }
        ),
        Decision::Ignore
    );
}

fn paid(id: &str) -> SagaInput {
    SagaInput::PaymentSucceeded {
        payment_id: id.into(),
    }
}

#[test]
fn the_happy_path_reserves_then_charges_then_confirms() {
    let c = change(decide(&state(S::Pending, P::Reserving), &reserved("r1")));
    assert_eq!(c.next, Some((S::Pending, P::Charging)));
    assert_eq!(c.reservation_id.as_deref(), Some("r1"));
    assert_eq!(c.commands, vec![Command::RequestPayment]);

    let c = change(decide(&state(S::Pending, P::Charging), &paid("pay1")));
    assert_eq!(c.next, Some((S::Confirmed, P::Confirmed)));
    assert_eq!(c.payment_id.as_deref(), Some("pay1"));
    assert_eq!(
        c.commands,
        vec![
            Command::CommitStock {
                reservation_id: Some("r1".into())
            },
            Command::AnnounceConfirmed {
                payment_id: "pay1".into()
            }
        ]
    );
}

#[test]
fn failures_cancel_with_a_reason_and_release_what_is_held() {
    let c = change(decide(
        &state(S::Pending, P::Reserving),
        &SagaInput::ReservationFailed {
            product_ids: vec!["a".into(), "b".into()],
        },
    ));
    assert_eq!(c.next, Some((S::Cancelled, P::Cancelled)));
    assert_eq!(c.reason.as_deref(), Some("out_of_stock: a, b"));
    assert_eq!(
        c.commands,
        vec![Command::AnnounceCancelled {
            reason: "out_of_stock: a, b".into()
        }],
        "nothing was reserved, so nothing is released"
    );

    let c = change(decide(
        &state(S::Pending, P::Charging),
        &SagaInput::PaymentFailed {
            reason: "card_declined".into(),
        },
    ));
    assert_eq!(c.reason.as_deref(), Some("payment_failed: card_declined"));
    assert_eq!(
        c.commands[0],
        Command::ReleaseStock {
            reservation_id: Some("r1".into()),
            reason: "payment_failed: card_declined".into()
        }
    );
    assert!(matches!(c.commands[1], Command::AnnounceCancelled { .. }));
}

#[test]
fn answers_that_do_not_fit_the_state_are_ignored() {
    let confirmed = SagaState {
        payment_id: Some("pay1".into()),
        ..state(S::Confirmed, P::Confirmed)
    };
    for (s, input) in [
        (state(S::Pending, P::Charging), reserved("r1")),
        (confirmed.clone(), reserved("r1")),
        (confirmed.clone(), paid("pay1")),
        (
            state(S::Pending, P::Charging),
            SagaInput::ReservationFailed {
                product_ids: vec![],
            },
        ),
        (state(S::Pending, P::Reserving), paid("pay1")),
        (
            state(S::Pending, P::Reserving),
            SagaInput::PaymentFailed { reason: "x".into() },
        ),
        (
            confirmed.clone(),
            SagaInput::PaymentFailed { reason: "x".into() },
        ),
        (confirmed, SagaInput::StepTimedOut),
        (state(S::Cancelled, P::Cancelled), SagaInput::StepTimedOut),
    ] {
        assert_eq!(decide(&s, &input), Decision::Ignore, "{s:?} {input:?}");
    }
}

#[test]
fn a_user_cancels_only_a_pending_order() {
    let c = change(decide(
        &state(S::Pending, P::Reserving),
        &SagaInput::CancelRequested,
    ));
    assert_eq!(c.reason.as_deref(), Some(CANCELLED_BY_USER));
    assert_eq!(
        c.commands[0],
        Command::ReleaseStock {
            reservation_id: None,
            reason: CANCELLED_BY_USER.into()
        },
        "the reservation may be on its way: release by order"
    );
    for s in [
        state(S::Confirmed, P::Confirmed),
        state(S::Cancelled, P::Cancelled),
    ] {
        assert!(matches!(
            decide(&s, &SagaInput::CancelRequested),
            Decision::Refuse(_)
        ));
    }
}

#[test]
fn a_timeout_names_the_step_that_waited() {
    for step in [P::Reserving, P::Charging] {
        let c = change(decide(&state(S::Pending, step), &SagaInput::StepTimedOut));
        assert_eq!(c.reason, Some(format!("timeout: {}", step.as_str())));
        assert_eq!(c.commands.len(), 2);
    }
    assert!(timed_out(0, 61_000, 60));
    assert!(!timed_out(0, 60_000, 60));
    assert!(!timed_out(5_000, 1_000, 60), "clock skew is not a timeout");
}

#[test]
fn late_answers_for_a_cancelled_order_are_undone_once() {
    // Cancelled while reserving: the reservation arrives later.
    let cancelled = SagaState {
        reservation_id: None,
        ..state(S::Cancelled, P::Cancelled)
    };
    let c = change(decide(&cancelled, &reserved("r9")));
    assert_eq!(c.next, None);
    assert_eq!(c.reservation_id.as_deref(), Some("r9"));
    assert_eq!(
        c.commands,
        vec![Command::ReleaseStock {
            reservation_id: Some("r9".into()),
            reason: ORDER_CANCELLED.into()
        }]
    );
    let recorded = SagaState {
        reservation_id: Some("r9".into()),
        ..cancelled.clone()
    };
    assert_eq!(decide(&recorded, &reserved("r9")), Decision::Ignore);

    // Cancelled while charging: the charge goes through anyway.
    let c = change(decide(&cancelled, &paid("pay7")));
    assert_eq!(c.next, None);
    assert_eq!(
        c.commands,
        vec![Command::RefundPayment {
            payment_id: "pay7".into(),
            reason: ORDER_CANCELLED.into()
        }]
    );
    let refunded = SagaState {
        payment_id: Some("pay7".into()),
        ..cancelled
    };
    assert_eq!(decide(&refunded, &paid("pay7")), Decision::Ignore);

    // A different second charge of a confirmed order is refunded too.
    let confirmed = SagaState {
        payment_id: Some("pay1".into()),
        ..state(S::Confirmed, P::Confirmed)
    };
    let c = change(decide(&confirmed, &paid("pay2")));
    assert_eq!(c.payment_id, None, "the order keeps its own payment");
    assert_eq!(
        c.commands,
        vec![Command::RefundPayment {
            payment_id: "pay2".into(),
            reason: DUPLICATE_CHARGE.into()
        }]
    );
}
