//! The order saga as a state machine: given where an order is and what
//! just happened (an answer from inventory or payments, the user's cancel,
//! a step timing out), what the order becomes and which commands and
//! events go out. Storage applies a [`Change`] with a conditional update,
//! so a duplicate or racing input can never apply twice.

use super::{OrderStatus, SagaStep};

/// Where an order is, as far as the saga is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaState {
    pub status: OrderStatus,
    pub step: SagaStep,
    pub reservation_id: Option<String>,
    pub payment_id: Option<String>,
}

/// What happened to the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SagaInput {
    /// `inventory.reserved`.
    StockReserved { reservation_id: String },
    /// `inventory.reservation_failed`, with the products that failed.
    ReservationFailed { product_ids: Vec<String> },
    /// `payment.succeeded`.
    PaymentSucceeded { payment_id: String },
    /// `payment.failed`.
    PaymentFailed { reason: String },
    /// The owner (or an admin) cancels.
    CancelRequested,
    /// The current step waited longer than the saga allows.
    StepTimedOut,
}

/// What the orchestrator sends out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `inventory.release` (an empty id: whatever the order holds, if anything).
    ReleaseStock {
        reservation_id: String,
        reason: String,
    },
    /// `payment.requested` for the order's total.
    RequestPayment,
    /// `inventory.commit`.
    CommitStock { reservation_id: String },
    /// `payment.refund_requested`.
    RefundPayment { payment_id: String, reason: String },
    /// `order.confirmed`.
    AnnounceConfirmed { payment_id: String },
    /// `order.cancelled`.
    AnnounceCancelled { reason: String },
}

/// An effect on one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The new status and step; `None` when the order stays where it is
    /// and only undoes what a late answer did elsewhere.
    pub next: Option<(OrderStatus, SagaStep)>,
    /// The order's new `reason` (set when it is cancelled).
    pub reason: Option<String>,
    /// Ids to record on the order.
    pub reservation_id: Option<String>,
    pub payment_id: Option<String>,
    /// Sent out, in this order, in the same transaction.
    pub commands: Vec<Command>,
    /// A line for the order's history.
    pub detail: String,
}

/// The verdict on an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Apply(Change),
    /// Does not apply in this state (a duplicate, or the order moved on).
    Ignore,
    /// Refused: the caller asked for something the state forbids.
    Refuse(String),
}

/// The order's reason when a user cancels it.
pub const CANCELLED_BY_USER: &str = "cancelled_by_user";
/// Why a late charge or late reservation is undone.
pub const ORDER_CANCELLED: &str = "order_cancelled";
/// Why a second, different charge of a confirmed order is refunded.
pub const DUPLICATE_CHARGE: &str = "duplicate_charge";

/// Decides what `input` does to an order in `state`.
pub fn decide(state: &SagaState, input: &SagaInput) -> Decision {
    use OrderStatus as S;
    use SagaStep as P;
    let at = (state.status, state.step);
    match input {
        SagaInput::StockReserved { reservation_id } => match at {
            (S::Pending, P::Reserving) => Decision::Apply(Change {
                next: Some((S::Pending, P::Charging)),
                reason: None,
                reservation_id: Some(reservation_id.clone()),
                payment_id: None,
                commands: vec![Command::RequestPayment],
                detail: format!("stock reserved ({reservation_id}); payment requested"),
            }),
            // The order was cancelled before the stock was held (a user
            // cancel or a timeout won the race): give the stock back,
            // unless cancelling already released this very reservation.
            (S::Cancelled, _) if state.reservation_id.as_deref() != Some(reservation_id) => {
                Decision::Apply(Change {
                    next: None,
                    reason: None,
                    reservation_id: Some(reservation_id.clone()),
                    payment_id: None,
                    commands: vec![Command::ReleaseStock {
                        reservation_id: reservation_id.clone(),
                        reason: ORDER_CANCELLED.into(),
                    }],
                    detail: format!(
                        "stock reserved ({reservation_id}) after cancellation; released"
                    ),
                })
            }
            _ => Decision::Ignore,
        },
        SagaInput::ReservationFailed { product_ids } => match at {
            (S::Pending, P::Reserving) => {
                // Nothing was reserved, so nothing is released.
                cancel(format!("out_of_stock: {}", product_ids.join(", ")), None)
            }
            _ => Decision::Ignore,
        },
        SagaInput::PaymentSucceeded { payment_id } => match at {
            (S::Pending, P::Charging) => Decision::Apply(Change {
                next: Some((S::Confirmed, P::Confirmed)),
                reason: None,
                reservation_id: None,
                payment_id: Some(payment_id.clone()),
                commands: vec![
                    Command::CommitStock {
                        reservation_id: state.reservation_id.clone().unwrap_or_default(),
                    },
                    Command::AnnounceConfirmed {
                        payment_id: payment_id.clone(),
                    },
                ],
                detail: format!("payment {payment_id} succeeded; order confirmed"),
            }),
            // Nobody pays for a cancelled order.
            (S::Cancelled, _) if state.payment_id.as_deref() != Some(payment_id) => {
                refund(payment_id, ORDER_CANCELLED, true)
            }
            // A second, different charge of a confirmed order.
            (S::Confirmed, _) if state.payment_id.as_deref() != Some(payment_id) => {
                refund(payment_id, DUPLICATE_CHARGE, false)
            }
            _ => Decision::Ignore,
        },
        SagaInput::PaymentFailed { reason } => match at {
            (S::Pending, P::Charging) => {
                cancel(format!("payment_failed: {reason}"), Some(held(state)))
            }
            _ => Decision::Ignore,
        },
        SagaInput::CancelRequested => match state.status {
            S::Pending => cancel(CANCELLED_BY_USER.into(), Some(held(state))),
            other => Decision::Refuse(format!(
                "the order is {}; only a PENDING order can be cancelled",
                other.as_str()
            )),
        },
        SagaInput::StepTimedOut => match at {
            (S::Pending, step) => cancel(format!("timeout: {}", step.as_str()), Some(held(state))),
            _ => Decision::Ignore,
        },
    }
}

/// The reservation a cancel releases: its id, or an empty one while
/// reserving, when stock may be about to be held. Inventory handles an
/// order's commands in order (one topic, one key) and ignores a release
/// with nothing to release, so releasing by order is always safe.
fn held(state: &SagaState) -> String {
    state.reservation_id.clone().unwrap_or_default()
}

/// Cancels a pending order, releasing `release` if given.
fn cancel(reason: String, release: Option<String>) -> Decision {
    let mut commands = Vec::with_capacity(2);
    let releases = release.is_some();
    if let Some(reservation_id) = release {
        commands.push(Command::ReleaseStock {
            reservation_id,
            reason: reason.clone(),
        });
    }
    commands.push(Command::AnnounceCancelled {
        reason: reason.clone(),
    });
    Decision::Apply(Change {
        next: Some((OrderStatus::Cancelled, SagaStep::Cancelled)),
        reason: Some(reason.clone()),
        reservation_id: None,
        payment_id: None,
        commands,
        detail: if releases {
            format!("cancelled ({reason}); stock released")
        } else {
            format!("cancelled ({reason})")
        },
    })
}

fn refund(payment_id: &str, reason: &str, record: bool) -> Decision {
    Decision::Apply(Change {
        next: None,
        reason: None,
        reservation_id: None,
        payment_id: record.then(|| payment_id.to_string()),
        commands: vec![Command::RefundPayment {
            payment_id: payment_id.to_string(),
            reason: reason.into(),
        }],
        detail: format!(
            "payment {payment_id} arrived for a settled order; refund requested ({reason})"
        ),
    })
}

/// Whether a step that started at `started_ms` has waited too long.
pub fn timed_out(started_ms: i64, now_ms: i64, timeout_secs: u64) -> bool {
    let limit = i64::try_from(timeout_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    now_ms.saturating_sub(started_ms) > limit
}

#[cfg(test)]
mod tests {
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
        }
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
                    reservation_id: "r1".into()
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
                reservation_id: "r1".into(),
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
                reservation_id: String::new(),
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
                reservation_id: "r9".into(),
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
}
