//! The effect plan: everything one placement or order change writes, computed in the
//! domain and committed whole, in one transaction, by [`crate::ports::OrderStore::commit`].
//! Each adapter interprets a plan mechanically (a guarded action per entry), so the rules
//! of what a change touches live here, once:
//!
//! - which stock moves ([`StockStep`]), each guarded (`stock >= n` to take, `reserved >= n`
//!   to release);
//! - which counters move (the monthly cap, the high-value counters);
//! - which uniqueness claims are made (order number, origin id, idempotency key);
//! - the guard on what the change was derived from: a change is written only if the
//!   order is still at the version it was read at, so stock taken on leaving draft,
//!   units put back on cancel and a draft's repricing can never be derived from lines
//!   another change has since replaced;
//! - the audit entry and the typed outbox event.

use chrono::{DateTime, Utc};

use crate::audit::AuditEntry;
use crate::error::Error;
use crate::ids::{CompanyId, ProductId};
use crate::order::query::HighValueDelta;
use crate::order::{Channel, Order, OrderNumber, OrderStatus};
use crate::outbox::OutboxEvent;
use crate::ports::{IdempotencyKey, IdempotencyRecord, OriginKey};
use crate::settings::{CompanySettings, StockPolicy};

/// Actions one DynamoDB transaction may hold.
pub const MAX_TRANSACTION_ACTIONS: usize = 100;
/// Distinct stock-tracked products one order may move: each is one action, and the rest
/// of the 100 is kept for the order and its side effects (at most 10 of them).
pub const MAX_STOCKED_PRODUCTS: usize = 90;

#[derive(Debug, Clone)]
pub struct EffectPlan {
    pub company: CompanyId,
    pub order: OrderWrite,
    pub stock: Vec<StockMove>,
    pub cap: Option<CapIncrement>,
    pub high_value: Option<HighValueDelta>,
    pub claims: Vec<Claim>,
    pub audit: AuditEntry,
    pub event: OutboxEvent,
    /// When the plan was made (the injected clock): claims expire relative to it.
    pub at: DateTime<Utc>,
    /// A child order's parent, changed with it (its children, line uses, payments),
    /// written only if still at `before.version`.
    pub parent: Option<ParentWrite>,
}

/// The second order a plan writes: a child's parent.
#[derive(Debug, Clone)]
pub struct ParentWrite {
    pub before: Box<Order>,
    pub after: Box<Order>,
}

#[derive(Debug, Clone)]
pub enum OrderWrite {
    /// A new order, written only if its id is free.
    Create(Box<Order>),
    /// A change: only the fields that differ, written only if the order is still at
    /// `before.version` (the version every derived value was computed from).
    Change {
        before: Box<Order>,
        after: Box<Order>,
        /// The caller's `If-Match`: a newer order is 412, not a silent retry.
        if_match: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockMove {
    /// Units out of one stock shard of the product, guarded by the product being active
    /// with the shard holding `quantity` (see [`crate::catalog::pick_shards`]).
    Take {
        product_id: ProductId,
        quantity: u32,
        shard: u32,
    },
    /// Units back into stock (a restocking cancel), into the first shard (the store
    /// spreads the shards again), guarded by the product existing.
    PutBack {
        product_id: ProductId,
        quantity: u32,
        shard: u32,
    },
    /// Units held for a confirmed order (`reserve_on_confirm`), counted on the product's
    /// first shard; always with a `Take` of the same units out of `stock`.
    Hold { product_id: ProductId, quantity: u32 },
    /// Held units let go (shipped, or cancelled with a `PutBack`), guarded by the first
    /// shard holding at least that many.
    Release { product_id: ProductId, quantity: u32 },
}

impl StockMove {
    /// The takes spread over the products' shards as `products` were read: one shard
    /// that holds a take whole where one does (picked by `seed`), else several. A take the
    /// shards together cannot cover, or of a product not read, stays as it is (the stock
    /// check refuses it).
    pub fn on_shards(
        moves: Vec<StockMove>,
        products: &std::collections::HashMap<ProductId, crate::catalog::Product>,
        seed: u64,
    ) -> Vec<StockMove> {
        let mut out = Vec::with_capacity(moves.len());
        for m in moves {
            let StockMove::Take {
                product_id, quantity, ..
            } = m
            else {
                out.push(m);
                continue;
            };
            let shards: Vec<u32> = match products.get(&product_id) {
                Some(p) if !p.shards.is_empty() => p.shards.iter().map(|s| s.stock).collect(),
                _ => {
                    out.push(m);
                    continue;
                }
            };
            match crate::catalog::pick_shards(&shards, quantity, seed) {
                Some(picks) => out.extend(picks.into_iter().map(|(shard, quantity)| StockMove::Take {
                    product_id,
                    quantity,
                    shard,
                })),
                None => out.push(m),
            }
        }
        out
    }

    pub fn take(product_id: ProductId, quantity: u32) -> StockMove {
        StockMove::Take {
            product_id,
            quantity,
            shard: 0,
        }
    }

    pub fn put_back(product_id: ProductId, quantity: u32) -> StockMove {
        StockMove::PutBack {
            product_id,
            quantity,
            shard: 0,
        }
    }

    pub fn product_id(&self) -> ProductId {
        match self {
            StockMove::Take { product_id, .. }
            | StockMove::PutBack { product_id, .. }
            | StockMove::Hold { product_id, .. }
            | StockMove::Release { product_id, .. } => *product_id,
        }
    }

    /// The stock shard the move writes: holds and releases count on the first.
    pub fn shard(&self) -> u32 {
        match self {
            StockMove::Take { shard, .. } | StockMove::PutBack { shard, .. } => *shard,
            StockMove::Hold { .. } | StockMove::Release { .. } => 0,
        }
    }

    /// How many items `moves` write: one per (product, shard), every move on one shard
    /// being one update of it.
    pub fn targets(moves: &[StockMove]) -> usize {
        let set: std::collections::BTreeSet<(ProductId, u32)> =
            moves.iter().map(|m| (m.product_id(), m.shard())).collect();
        set.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapIncrement {
    /// `YYYY-MM`, UTC.
    pub month: String,
    /// Refuse the order if the month's count has reached this.
    pub limit: Option<u32>,
}

/// A uniqueness claim made with the order.
#[derive(Debug, Clone)]
pub enum Claim {
    OrderNumber(OrderNumber),
    Origin(OriginKey),
    Idempotency(IdempotencyKey, Box<IdempotencyRecord>),
}

impl EffectPlan {
    /// The order as the plan writes it.
    pub fn order(&self) -> &Order {
        match &self.order {
            OrderWrite::Create(o) => o,
            OrderWrite::Change { after, .. } => after,
        }
    }

    /// How many actions the plan's transaction holds: one per entry.
    pub fn actions(&self) -> usize {
        self.actions_with(&self.stock)
    }

    /// How many actions the plan's transaction holds with its takes spread as `moves`
    /// (the store may spread them again: see [`StockMove::on_shards`]).
    pub fn actions_with(&self, moves: &[StockMove]) -> usize {
        let counters = self
            .high_value
            .as_ref()
            .map_or(0, |h| 1 + usize::from(h.customer.is_some()));
        1 + usize::from(self.parent.is_some())
            + StockMove::targets(moves)
            + usize::from(self.cap.is_some())
            + counters
            + self.claims.len()
            + 2
    }

    /// The plan, also writing `parent` (a child order's), checked again.
    pub fn with_parent(mut self, parent: Option<ParentWrite>) -> Result<EffectPlan, Error> {
        self.parent = parent;
        self.check()?;
        Ok(self)
    }

    /// A plan that cannot be one transaction is a bug in whoever built it (the stocked
    /// products bound is checked before, with a message for the caller).
    pub fn check(&self) -> Result<(), Error> {
        if self.actions() > MAX_TRANSACTION_ACTIONS {
            return Err(Error::internal(format!(
                "an effect plan of {} actions does not fit one transaction",
                self.actions()
            )));
        }
        Ok(())
    }
}

/// What a status change does to an order's stock (SPEC §5.4, §10), decided by the stock
/// state the order is in (taken, reserved, or neither) and the company's policy now. A
/// policy switch so applies to each order from its next step: an order confirmed under
/// one policy is shipped and cancelled under the rules of the state it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockStep {
    None,
    /// Placing under `reserve_on_confirm` without confirming: the units must be available
    /// (checked, not held).
    Check,
    /// The units leave stock now: placing under `at_placement`, or confirming an order
    /// whose units were never taken (a webhook order held for short stock, or one placed
    /// under the other policy).
    Take,
    /// Confirming under `reserve_on_confirm`: the units leave `stock` for `reserved`.
    Reserve,
    /// Shipping a reserved order: its units leave `reserved`, gone for good.
    Ship,
    /// Cancelling a reserved order: its units go back from `reserved` to `stock`.
    Release,
    /// Cancelling an order whose units were taken, when asked to restock.
    Restock,
}

impl StockStep {
    /// The step of `before` moving to `to` (the status written). `placing`: a draft
    /// leaving draft; `restock`: the cancel's request or the company's default.
    pub fn of(before: &Order, to: OrderStatus, placing: bool, settings: &CompanySettings, restock: bool) -> StockStep {
        if to == OrderStatus::Cancelled {
            return match (before.stock_reserved, before.stock_decremented && restock) {
                (true, _) => StockStep::Release,
                (false, true) => StockStep::Restock,
                (false, false) => StockStep::None,
            };
        }
        if to == OrderStatus::Shipped && before.stock_reserved {
            return StockStep::Ship;
        }
        let untouched =
            !before.stock_decremented && !before.stock_reserved && decrements_stock(before.channel, settings);
        if !untouched || !(placing || to == OrderStatus::Confirmed) {
            return StockStep::None;
        }
        match (settings.stock_policy, to) {
            (StockPolicy::AtPlacement, _) => StockStep::Take,
            (StockPolicy::ReserveOnConfirm, OrderStatus::Confirmed) => StockStep::Reserve,
            (StockPolicy::ReserveOnConfirm, _) => StockStep::Check,
        }
    }

    /// The moves of this step for `order`'s tracked units, one per product (takes on the
    /// first shard: see [`StockMove::on_shards`]).
    pub fn moves(self, order: &Order) -> Vec<StockMove> {
        let per = |make: fn(ProductId, u32) -> Vec<StockMove>| -> Vec<StockMove> {
            units(order).into_iter().flat_map(|(p, q)| make(p, q)).collect()
        };
        match self {
            StockStep::None | StockStep::Check => Vec::new(),
            StockStep::Take => per(|product_id, quantity| vec![StockMove::take(product_id, quantity)]),
            StockStep::Reserve => per(|product_id, quantity| {
                vec![
                    StockMove::take(product_id, quantity),
                    StockMove::Hold { product_id, quantity },
                ]
            }),
            StockStep::Ship => per(|product_id, quantity| vec![StockMove::Release { product_id, quantity }]),
            StockStep::Release => per(|product_id, quantity| {
                vec![
                    StockMove::put_back(product_id, quantity),
                    StockMove::Release { product_id, quantity },
                ]
            }),
            StockStep::Restock => per(|product_id, quantity| vec![StockMove::put_back(product_id, quantity)]),
        }
    }

    /// The step's name in audit entries.
    pub fn as_str(self) -> &'static str {
        match self {
            StockStep::None => "none",
            StockStep::Check => "check",
            StockStep::Take => "take",
            StockStep::Reserve => "reserve",
            StockStep::Ship => "ship",
            StockStep::Release => "release",
            StockStep::Restock => "restock",
        }
    }

    /// Whether the step takes units out of `stock` (checked against the catalog first).
    pub fn takes(self) -> bool {
        matches!(self, StockStep::Take | StockStep::Reserve)
    }

    /// The order's stock state after the step (`stock_decremented`, `stock_reserved`), when
    /// `moved` says whether it moved anything.
    pub fn apply(self, order: &mut Order, moved: bool) {
        match self {
            StockStep::None | StockStep::Check => {}
            StockStep::Take => order.stock_decremented = moved,
            StockStep::Reserve => order.stock_reserved = moved,
            StockStep::Ship => {
                order.stock_reserved = false;
                order.stock_decremented = true;
            }
            StockStep::Release => order.stock_reserved = false,
            StockStep::Restock => order.stock_decremented = false,
        }
    }
}

/// The units a placement asks for, one `Take` per stock-tracked product (lines of one
/// product summed); empty when the order's channel does not move stock.
pub fn wanted_at_placement(order: &Order, settings: &CompanySettings) -> Vec<StockMove> {
    match decrements_stock(order.channel, settings) {
        true => StockStep::Take.moves(order),
        false => Vec::new(),
    }
}

/// Every tracked unit of an order, per product, in product order.
fn units(order: &Order) -> Vec<(ProductId, u32)> {
    let mut units: std::collections::BTreeMap<ProductId, u32> = std::collections::BTreeMap::new();
    for l in order.items.iter().filter(|l| l.track_inventory) {
        let e = units.entry(l.product_id).or_default();
        *e = e.saturating_add(l.quantity);
    }
    units.into_iter().collect()
}

/// Dashboard orders move stock only when the company says so (SPEC §11); every other
/// channel does.
pub fn decrements_stock(channel: Channel, settings: &CompanySettings) -> bool {
    channel != Channel::Dashboard || settings.dashboard_orders_decrement_stock
}

/// Customer orders (storefront, API, webhook) count against the monthly cap; dashboard
/// orders and drafts do not.
pub fn counts_against_cap(order: &Order) -> bool {
    order.customer_id.is_some() && order.channel != Channel::Dashboard && order.status != OrderStatus::Draft
}

/// The cap counter a placement moves, if any.
pub fn cap_increment(order: &Order, settings: &CompanySettings, now: DateTime<Utc>) -> Option<CapIncrement> {
    counts_against_cap(order).then(|| CapIncrement {
        month: now.format("%Y-%m").to_string(),
        limit: settings.monthly_order_limit,
    })
}

/// A pending order whose discount exceeds the company's approval threshold waits for
/// approval instead.
pub fn approval_status(status: OrderStatus, order: &Order, settings: &CompanySettings) -> OrderStatus {
    match (status, settings.discount_approval_threshold) {
        (OrderStatus::Pending, Some(limit)) if order.discount_amount.value() > limit => OrderStatus::PendingApproval,
        (s, _) => s,
    }
}
