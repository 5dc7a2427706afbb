//! The status machine (SPEC §5.4) as a function of (status, target): nothing else decides
//! whether a transition is allowed.
//!
//! ```text
//! draft            → pending, confirmed, cancelled        (leaving draft is the placement)
//! pending          → confirmed, pending_approval, on_hold, cancelled
//! pending_approval → confirmed, pending, cancelled        (approve, send back, reject)
//! confirmed        → processing, pending_approval, on_hold, cancelled
//! processing       → shipped, on_hold, cancelled
//! on_hold          → the status it left, cancelled
//! shipped          → delivered, completed                 (never cancelled: it must be returned)
//! delivered        → completed
//! completed, cancelled: terminal
//! ```
//!
//! A completed sale may also roll back to delivered (or shipped, if never delivered), only
//! while it has no payments and no completed child orders: that rule needs the order, so
//! it lives with the child orders ([`super::children::check_transition`]), as does the
//! children's own short lifecycle.

use super::OrderStatus::{self, *};
use crate::error::Error;

/// Where an order in `from` may go. `held_from` is the status an on-hold order left.
pub fn targets(from: OrderStatus, held_from: Option<OrderStatus>) -> Vec<OrderStatus> {
    match from {
        Draft => vec![Pending, Confirmed, Cancelled],
        Pending => vec![Confirmed, PendingApproval, OnHold, Cancelled],
        PendingApproval => vec![Confirmed, Pending, Cancelled],
        Confirmed => vec![Processing, PendingApproval, OnHold, Cancelled],
        Processing => vec![Shipped, OnHold, Cancelled],
        OnHold => held_from.into_iter().chain([Cancelled]).collect(),
        Shipped => vec![Delivered, Completed],
        Delivered => vec![Completed],
        Completed | Cancelled => vec![],
    }
}

/// `Ok` if `from → to` is allowed, else 409 `invalid_transition` naming the current status.
pub fn check(from: OrderStatus, held_from: Option<OrderStatus>, to: OrderStatus) -> Result<(), Error> {
    let allowed = targets(from, held_from);
    if allowed.contains(&to) {
        return Ok(());
    }
    Err(invalid_transition(from, to, &allowed))
}

pub fn invalid_transition(from: OrderStatus, to: OrderStatus, allowed: &[OrderStatus]) -> Error {
    let options = match allowed {
        [] => format!("{from} is final"),
        _ => format!(
            "from {from} it can move to {}",
            allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    Error::Conflict {
        code: "invalid_transition",
        message: format!("the order is {from} and cannot move to {to}; {options}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (from, to) pair, allowed or refused, spelled out once.
    #[test]
    fn the_full_transition_table() {
        let allowed: &[(OrderStatus, &[OrderStatus])] = &[
            (Draft, &[Pending, Confirmed, Cancelled]),
            (Pending, &[Confirmed, PendingApproval, OnHold, Cancelled]),
            (PendingApproval, &[Confirmed, Pending, Cancelled]),
            (Confirmed, &[Processing, PendingApproval, OnHold, Cancelled]),
            (Processing, &[Shipped, OnHold, Cancelled]),
            (Shipped, &[Delivered, Completed]),
            (Delivered, &[Completed]),
            (Completed, &[]),
            (Cancelled, &[]),
        ];
        for (from, to_ok) in allowed {
            for to in OrderStatus::ALL {
                assert_eq!(check(*from, None, *to).is_ok(), to_ok.contains(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn on_hold_resumes_only_to_the_status_it_left() {
        for left in [Pending, Confirmed, Processing] {
            for to in OrderStatus::ALL {
                let ok = *to == left || *to == Cancelled;
                assert_eq!(
                    check(OnHold, Some(left), *to).is_ok(),
                    ok,
                    "on_hold (from {left}) -> {to}"
                );
            }
        }
    }

    #[test]
    fn a_refusal_names_the_current_status_and_the_options() {
        let e = check(Shipped, None, Cancelled).expect_err("refused");
        let msg = e.to_string();
        assert!(msg.contains("the order is shipped"), "{msg}");
        assert!(msg.contains("delivered, completed"), "{msg}");
        assert!(check(Completed, None, Pending)
            .expect_err("final")
            .to_string()
            .contains("completed is final"));
    }
}
