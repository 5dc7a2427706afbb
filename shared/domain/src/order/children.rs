//! Child orders (SPEC §10): a **return** from a delivered or completed sale, which can put
//! its units back into stock, and an **invoice**, which carries payments. A child holds
//! selected lines of its parent (each remembers the parent line it came from); a parent
//! line is used by at most one live child of each kind. The parent lists its children and
//! sums its invoices' payments, so the rules that span both (the line uses, rolling a
//! completed sale back) are decided on the parent alone, and every write that changes a
//! child changes the parent in the same transaction, conditional on the parent's version.
//!
//! ```text
//! child (return, invoice): pending → completed, cancelled; completed → cancelled (void)
//! sale: completed → delivered (or shipped, if never delivered): the rollback, refused
//!       while its invoices hold payments or it has completed children
//! ```

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::OrderStatus::{self, *};
use super::{Order, OrderNumber};
use crate::error::Error;
use crate::ids::{OrderId, UserId};
use crate::money::{Amount, Currency};

snake_enum!(
    /// What an order is: a sale (every order placed), or a child of one.
    OrderKind {
        Sale => "sale",
        Return => "return",
        Invoice => "invoice",
    }
);

// (`snake_enum!` derives a fixed set, so the default is written out.)
#[allow(clippy::derivable_impls)]
impl Default for OrderKind {
    fn default() -> Self {
        OrderKind::Sale
    }
}

/// The most children one order may have (they are listed on it).
pub const MAX_CHILDREN: usize = 50;
/// The most payments and refunds one invoice may record.
pub const MAX_PAYMENTS: usize = 100;

/// A child as its parent lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChildRef {
    pub id: OrderId,
    #[schema(value_type = String)]
    pub order_number: OrderNumber,
    pub kind: OrderKind,
    pub status: OrderStatus,
    /// The parent's `line_no`s the child holds.
    pub lines: Vec<u32>,
}

snake_enum!(
    /// A payment received, or money given back.
    PaymentKind {
        Payment => "payment",
        Refund => "refund",
    }
);

/// One payment or refund on an invoice, approved when recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    pub id: uuid::Uuid,
    pub kind: PaymentKind,
    pub amount: Amount,
    pub method: Option<String>,
    pub reference: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: UserId,
}

/// Where a child in `from` may go.
pub fn child_targets(from: OrderStatus) -> Vec<OrderStatus> {
    match from {
        Pending => vec![Completed, Cancelled],
        Completed => vec![Cancelled],
        _ => vec![],
    }
}

/// The status a completed sale rolls back to: delivered if it was, else shipped.
pub fn rollback_target(o: &Order) -> OrderStatus {
    match o.delivered_at {
        Some(_) => Delivered,
        None => Shipped,
    }
}

/// Rolling `o` (a completed sale) back is refused while its invoices hold payments or it
/// has completed children: refund or void those first.
pub fn check_rollback(o: &Order) -> Result<(), Error> {
    let completed: Vec<&str> = o
        .children
        .iter()
        .filter(|c| c.status == Completed)
        .map(|c| c.order_number.as_str())
        .collect();
    if !o.paid_amount.value().is_zero() {
        return Err(Error::Conflict {
            code: "rollback_blocked",
            message: format!(
                "order {} has {} in approved payments on its invoices: refund them before rolling it back",
                o.order_number, o.paid_amount
            ),
        });
    }
    if !completed.is_empty() {
        return Err(Error::Conflict {
            code: "rollback_blocked",
            message: format!(
                "order {} has completed child orders ({}): void them before rolling it back",
                o.order_number,
                completed.join(", ")
            ),
        });
    }
    Ok(())
}

/// Whether `o` may move to `to`: a child by the children's table, a completed sale only
/// back to [`rollback_target`] and only as [`check_rollback`] allows, any other sale by
/// the lifecycle ([`super::status::check`]).
pub fn check_transition(o: &Order, to: OrderStatus) -> Result<(), Error> {
    let allowed = match (o.kind, o.status) {
        (OrderKind::Sale, Completed) => vec![rollback_target(o)],
        (OrderKind::Sale, _) => return super::status::check(o.status, o.held_from, to),
        (_, from) => child_targets(from),
    };
    if !allowed.contains(&to) {
        return Err(super::status::invalid_transition(o.status, to, &allowed));
    }
    match (o.kind, o.status, to) {
        (OrderKind::Sale, Completed, _) => check_rollback(o),
        (OrderKind::Invoice, _, Cancelled) if !o.paid_amount.value().is_zero() => Err(Error::Conflict {
            code: "invoice_paid",
            message: format!(
                "invoice {} holds {} in payments: refund them before voiding it",
                o.order_number, o.paid_amount
            ),
        }),
        _ => Ok(()),
    }
}

/// The parent's lines a live (not cancelled) child of `kind` holds.
pub fn lines_in_use(parent: &Order, kind: OrderKind) -> BTreeSet<u32> {
    parent
        .children
        .iter()
        .filter(|c| c.kind == kind && c.status != Cancelled)
        .flat_map(|c| c.lines.iter().copied())
        .collect()
}

/// `amount × part / whole`, rounded half-to-even to the currency: a line's tax or
/// discount for part of its quantity.
pub fn share(amount: Amount, part: u32, whole: u32, currency: Currency) -> Amount {
    if whole == 0 {
        return Amount::ZERO;
    }
    let v = amount.value() * Decimal::from(part) / Decimal::from(whole);
    Amount::from_decimal(v.round_dp_with_strategy(currency.minor_units(), RoundingStrategy::MidpointNearestEven))
        .in_currency(currency)
}

/// The parent with `child`'s entry as it is now (its status), for the write that
/// changes the child.
pub fn with_child_status(parent: &Order, child: OrderId, status: OrderStatus) -> Result<Order, Error> {
    let mut after = parent.clone();
    let entry = after
        .children
        .iter_mut()
        .find(|c| c.id == child)
        .ok_or_else(|| Error::internal(format!("order {} does not list its child {child}", parent.order_number)))?;
    entry.status = status;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_a_line_rounds_half_to_even() {
        let usd = Currency::USD;
        let a = |s: &str| Amount::from_decimal(s.parse().expect("decimal"));
        assert_eq!(share(a("1.00"), 1, 3, usd), a("0.33"));
        assert_eq!(share(a("0.05"), 1, 2, usd), a("0.02"), "0.025 to even");
        assert_eq!(share(a("0.15"), 1, 2, usd), a("0.08"), "0.075 to even");
        assert_eq!(share(a("9.99"), 3, 3, usd), a("9.99"));
        assert_eq!(share(a("9.99"), 0, 3, usd), a("0.00"));
        assert_eq!(share(a("9.99"), 1, 0, usd), a("0.00"));
    }

    #[test]
    fn children_open_complete_and_void() {
        assert_eq!(child_targets(Pending), vec![Completed, Cancelled]);
        assert_eq!(child_targets(Completed), vec![Cancelled]);
        assert!(child_targets(Cancelled).is_empty());
        assert!(child_targets(Shipped).is_empty());
    }
}
