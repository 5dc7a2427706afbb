//! What the order reads ask the store for (SPEC §6). The filter's `matches` is the
//! definition; adapters may serve part of it with an index key, but every order they
//! return has passed it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

use super::{index, Channel, Order, OrderStatus, Priority, Source};
use crate::ids::{CustomerId, UserId};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<CustomerId>,
    pub sales_rep_id: Option<UserId>,
    pub source: Option<Source>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    /// `order_date` on or after.
    pub from_date: Option<NaiveDate>,
    /// `order_date` on or before.
    pub to_date: Option<NaiveDate>,
    pub min_total: Option<Decimal>,
    pub max_total: Option<Decimal>,
    pub origin_order_id: Option<String>,
}

impl OrderFilter {
    pub fn matches(&self, o: &Order) -> bool {
        let total = o.total_amount.value();
        self.status.is_none_or(|s| o.status == s)
            && self.customer_id.is_none_or(|c| o.customer_id == Some(c))
            && self
                .sales_rep_id
                .as_ref()
                .is_none_or(|r| o.sales_rep_id.as_ref() == Some(r))
            && self.source.is_none_or(|s| o.source == s)
            && self.channel.is_none_or(|c| o.channel == c)
            && self.priority.is_none_or(|p| o.priority == p)
            && self.from_date.is_none_or(|d| o.order_date >= d)
            && self.to_date.is_none_or(|d| o.order_date <= d)
            && self.min_total.is_none_or(|m| total >= m)
            && self.max_total.is_none_or(|m| total <= m)
            && self
                .origin_order_id
                .as_ref()
                .is_none_or(|x| o.origin_order_id.as_ref() == Some(x))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderSort {
    #[default]
    OrderDate,
    TotalAmount,
    /// In lifecycle order ([`index::status_rank`]), newest first within a status when
    /// descending, oldest first when ascending.
    Status,
    DueDate,
}

impl OrderSort {
    pub fn parse(s: &str) -> Option<OrderSort> {
        Some(match s {
            "order_date" => OrderSort::OrderDate,
            "total_amount" => OrderSort::TotalAmount,
            "status" => OrderSort::Status,
            "due_date" => OrderSort::DueDate,
            _ => return None,
        })
    }

    /// The key this sort orders by; ties never happen (every key ends with the date key,
    /// which ends with the order id).
    pub fn key(self, o: &Order) -> String {
        match self {
            OrderSort::OrderDate => index::date_key(o),
            OrderSort::TotalAmount => index::total_key(o),
            OrderSort::Status => format!("{:02}#{}", index::status_rank(o.status), index::date_key(o)),
            OrderSort::DueDate => index::due_key(o),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderListQuery {
    pub filter: OrderFilter,
    pub sort: OrderSort,
    pub descending: bool,
}

/// At most this many index entries are read to count or sum over a set (the attention
/// counts, high-value totals for another minimum): about two `Query` pages of keys. A set
/// larger than that is reported as partial, never walked to its end, so no read grows
/// with the tenant.
pub const MAX_COUNTED: usize = 2_000;

/// `meta` of the requires-attention list, over every order that needs attention now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttentionCounts {
    pub total: u64,
    pub overdue: u64,
    pub urgent: u64,
    /// The set was larger than the entries read ([`MAX_COUNTED`]): the counts are lower
    /// bounds.
    pub partial: bool,
}

/// `meta` of the high-value list: exact decimal sums over every matching order, or over
/// the first [`MAX_COUNTED`] of them with `partial` set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HighValueTotals {
    pub count: u64,
    pub total_value: Decimal,
    pub partial: bool,
}

impl HighValueTotals {
    /// The mean order value, to the cent (half away from zero); 0 for no orders.
    pub fn average(&self) -> Decimal {
        if self.count == 0 {
            return Decimal::ZERO;
        }
        self.total_value
            .checked_div(Decimal::from(self.count))
            .unwrap_or_default()
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    }
}

/// A change to the high-value counters: per status, how many orders at or above
/// `threshold` and their summed totals, kept in the same transaction as the order. The
/// company's counters move, and so do the order's customer's own (a customer token's
/// high-value totals are one read too).
#[derive(Debug, Clone, PartialEq)]
pub struct HighValueDelta {
    pub threshold: Decimal,
    /// The counters' generation (see [`HighValueCounting`]).
    pub generation: u32,
    /// The order's customer, whose counters move too.
    pub customer: Option<CustomerId>,
    /// (status, count change, value change); never both zero.
    pub changes: Vec<(OrderStatus, i64, Decimal)>,
}

impl HighValueDelta {
    /// What moves when an order goes from `before` (absent for a new order) to `after`,
    /// each counted if its total is at or above `threshold`. `None` when nothing moves.
    /// An order counted in an earlier generation moves nothing: the recount of the current
    /// one counts it as it then is.
    pub fn between(before: Option<&Order>, after: &Order, counting: HighValueCounting) -> Option<HighValueDelta> {
        // Child orders (returns, invoices) are not sales: never counted.
        if after.kind != super::OrderKind::Sale {
            return None;
        }
        if before.is_some_and(|b| b.hv_generation != counting.generation) {
            return None;
        }
        let threshold = counting.threshold;
        let mut by: BTreeMap<&'static str, (OrderStatus, i64, Decimal)> = BTreeMap::new();
        let counted = |o: &Order| o.total_amount.value() >= threshold;
        if let Some(b) = before.filter(|b| counted(b)) {
            let e = by.entry(b.status.as_str()).or_insert((b.status, 0, Decimal::ZERO));
            e.1 -= 1;
            e.2 -= b.total_amount.value();
        }
        if counted(after) {
            let e = by
                .entry(after.status.as_str())
                .or_insert((after.status, 0, Decimal::ZERO));
            e.1 += 1;
            e.2 += after.total_amount.value();
        }
        let changes: Vec<_> = by.into_values().filter(|(_, n, v)| *n != 0 || !v.is_zero()).collect();
        (!changes.is_empty()).then_some(HighValueDelta {
            threshold,
            generation: counting.generation,
            customer: after.customer_id,
            changes,
        })
    }
}

/// Which high-value counters orders count in: the company's threshold, and the counters'
/// generation. Changing the threshold starts a new generation: new orders count in it at
/// once (each order records its generation, `Order::hv_generation`), and the recount job
/// ([`crate::usecases::high_value`]) adds every older order, each once, marking it. Until
/// the job is done the counters are not read (the totals are summed over the orders).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HighValueCounting {
    pub threshold: Decimal,
    pub generation: u32,
}

impl HighValueCounting {
    pub fn of(s: &crate::settings::CompanySettings) -> HighValueCounting {
        HighValueCounting {
            threshold: s.high_value_threshold,
            generation: s.high_value_generation,
        }
    }
}

/// The high-value counters as stored (a company's, or one customer's): the threshold they
/// count against, and per status the number of orders and their summed totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HighValueStats {
    /// The company's counters of a later generation are complete once the recount is done
    /// (generation 0 counted every order from the start).
    pub complete: bool,
    pub threshold: Decimal,
    pub by_status: BTreeMap<&'static str, (u64, Decimal)>,
}
