//! The order saga as a state machine: given where an order is and what
//! just happened (an answer from inventory or payments, the user's cancel,
//! a step timing out), what the order becomes and which commands and
//! events go out. Storage applies a [`Change`] with a conditional update,
//! so a duplicate or racing input can never apply twice.

use super::{OrderStatus, PricedLine, SagaStep};

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
    /// `inventory.reserved`, with the lines inventory holds.
    StockReserved {
        reservation_id: String,
        lines: Vec<(String, u32)>,
    },
    /// `inventory.reserved` for lines other than the order's: never sold
    /// for this order (see [`check_reservation`]).
    ReservationMismatch { reservation_id: String },
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
    /// `inventory.release`: the order's reservation, named if known
    /// (while stock is being reserved it is not yet; inventory releases
    /// whatever the order holds).
    ReleaseStock {
        reservation_id: Option<String>,
        reason: String,
    },
    /// `payment.requested` for the order's total.
    RequestPayment,
    /// `inventory.commit` of the order's reservation.
    CommitStock { reservation_id: Option<String> },
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
        SagaInput::ReservationMismatch { reservation_id } => match at {
            (S::Pending, P::Reserving) => {
                let reason = "reservation_mismatch".to_string();
                Decision::Apply(Change {
                    next: Some((S::Cancelled, P::Cancelled)),
                    reason: Some(reason.clone()),
                    reservation_id: Some(reservation_id.clone()),
                    payment_id: None,
                    commands: vec![
                        Command::ReleaseStock {
                            reservation_id: Some(reservation_id.clone()),
                            reason: reason.clone(),
                        },
                        Command::AnnounceCancelled { reason },
                    ],
                    detail: format!(
                        "reservation {reservation_id} does not hold the order's lines; released and cancelled"
                    ),
                })
            }
            _ => Decision::Ignore,
        },
        SagaInput::StockReserved { reservation_id, .. } => match at {
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
                        reservation_id: Some(reservation_id.clone()),
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
                cancel(
                    format!("out_of_stock: {}", product_ids.join(", ")),
                    false,
                    state,
                )
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
                        reservation_id: state.reservation_id.clone(),
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
            (S::Pending, P::Charging) => cancel(format!("payment_failed: {reason}"), true, state),
            _ => Decision::Ignore,
        },
        SagaInput::CancelRequested => match state.status {
            S::Pending => cancel(CANCELLED_BY_USER.into(), true, state),
            other => Decision::Refuse(format!(
                "the order is {}; only a PENDING order can be cancelled",
                other.as_str()
            )),
        },
        SagaInput::StepTimedOut => match at {
            (S::Pending, step) => cancel(format!("timeout: {}", step.as_str()), true, state),
            _ => Decision::Ignore,
        },
    }
}

/// Cancels a pending order, releasing what it holds if `release`. While
/// reserving, the reservation may be about to be made: inventory handles
/// an order's commands in order (one topic, one key) and ignores a
/// release with nothing to release, so releasing by order is always safe.
fn cancel(reason: String, release: bool, state: &SagaState) -> Decision {
    let mut commands = Vec::with_capacity(2);
    if release {
        commands.push(Command::ReleaseStock {
            reservation_id: state.reservation_id.clone(),
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
        detail: if release {
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

/// An `inventory.reserved` answer as the saga may take it: a reservation
/// that holds exactly the order's lines (as product and quantity, in any
/// order), or else a [`SagaInput::ReservationMismatch`]. Other inputs pass
/// unchanged.
pub fn check_reservation(input: SagaInput, order_lines: &[PricedLine]) -> SagaInput {
    let SagaInput::StockReserved {
        reservation_id,
        mut lines,
    } = input
    else {
        return input;
    };
    let mut wanted: Vec<(String, u32)> = order_lines
        .iter()
        .map(|l| (l.product_id.clone(), l.quantity))
        .collect();
    wanted.sort();
    lines.sort();
    if lines == wanted {
        SagaInput::StockReserved {
            reservation_id,
            lines,
        }
    } else {
        SagaInput::ReservationMismatch { reservation_id }
    }
}

/// Whether a step that started at `started_ms` has waited too long.
pub fn timed_out(started_ms: i64, now_ms: i64, timeout_secs: u64) -> bool {
    let limit = i64::try_from(timeout_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    now_ms.saturating_sub(started_ms) > limit
}

#[cfg(test)]
mod tests;
