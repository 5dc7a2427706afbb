//! An order after placement (SPEC §5.4, §5.5): status changes here, partial updates in
//! [`super::order_updates`] (re-exported). Each is
//! one conditional write on the status the order was read in, with its audit entry and
//! outbox event in the same transaction.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

pub use super::order_updates::{update_order, UpdateOrderRequest};

use super::lines::{check_stock, placement_rejection};
use super::text;
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::error::{Error, FieldErrors};
use crate::ids::{EventId, OrderId};
use crate::order::query::{HighValueCounting, HighValueDelta};
use crate::order::{children, Order, OrderKind, OrderStatus};
use crate::outbox::{DomainEvent, OrderStatusChanged, OutboxEvent};
use crate::plan::{self, CapIncrement, EffectPlan, OrderWrite, ParentWrite, StockMove, StockStep};
use crate::ports::{CommitError, CommitRejection, Deps, PlacementKeys};
use crate::usecases::orders::get_order;
use crate::usecases::webhooks::INSUFFICIENT_STOCK;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatusRequest {
    /// The target status.
    #[schema(value_type = OrderStatus)]
    pub status: String,
    /// Required when cancelling.
    pub cancellation_reason: Option<String>,
    /// On cancel: put the units back (needs `stock:adjust`). Defaults to the company's
    /// `restock_on_cancel`.
    pub restock: Option<bool>,
}

pub async fn change_status(
    deps: &Deps,
    actor: &Actor,
    id: OrderId,
    req: ChangeStatusRequest,
    if_match: Option<u64>,
) -> Result<Order, Error> {
    retry_raced(|| change_status_once(deps, actor, id, req.clone(), if_match)).await
}

/// How often a change is redone after another change landed between its read and its write.
const RACE_RETRIES: usize = 5;
pub(super) const RACED: &str = "order_raced";

/// Runs a read-validate-commit attempt again when another change landed on the order
/// between the read and the write (every change is conditional on the version it read).
/// Each attempt re-reads and re-checks every rule, so a change never applies to an order
/// it did not validate.
pub(super) async fn retry_raced<F, Fut>(attempt: F) -> Result<Order, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Order, Error>>,
{
    for _ in 0..RACE_RETRIES {
        match attempt().await {
            Err(Error::Conflict { code: RACED, .. }) => continue,
            other => return other,
        }
    }
    Err(Error::Contention)
}

async fn change_status_once(
    deps: &Deps,
    actor: &Actor,
    id: OrderId,
    req: ChangeStatusRequest,
    if_match: Option<u64>,
) -> Result<Order, Error> {
    actor.require(Permission::OrdersStatus)?;
    let (to, reason) = parse_change(&req)?;
    if req.restock == Some(true) {
        actor.require(Permission::StockAdjust)?;
    }
    let before = get_order(deps, actor, id).await?;
    check_if_match(&before, if_match)?;
    children::check_transition(&before, to)?;
    let rollback = before.kind == OrderKind::Sale && before.status == OrderStatus::Completed;
    let settings = deps.store.get_settings(&actor.company_id).await?;
    let now = deps.clock.now();
    let mut after = before.clone();
    after.status = to;

    // Leaving draft is the placement: the channel's stock and cap rules apply now.
    let placing = before.status == OrderStatus::Draft && matches!(to, OrderStatus::Pending | OrderStatus::Confirmed);
    let mut cap = None;
    if placing {
        after.status = plan::approval_status(to, &before, &settings);
        cap = plan::cap_increment(&after, &settings, now);
        after.cap_month = cap.as_ref().map(|c| c.month.clone());
    }
    let restock = req.restock.unwrap_or(settings.restock_on_cancel);
    let (step, stock) = stock_of_change(deps, actor, &before, &mut after, placing, &settings, restock, now).await?;
    if to == OrderStatus::Cancelled {
        after.cancelled_at = Some(now);
        after.cancellation_reason = reason.clone();
    }
    match after.status {
        // A rollback keeps the dates it had.
        _ if rollback => {}
        OrderStatus::Confirmed if after.confirmed_at.is_none() => after.confirmed_at = Some(now),
        OrderStatus::Shipped => after.shipped_at = Some(now),
        OrderStatus::Delivered => after.delivered_at = Some(now),
        _ => {}
    }
    after.held_from = (to == OrderStatus::OnHold).then_some(before.status);
    after.version = before.version + 1;
    after.updated_at = now;
    let restocked = matches!(step, StockStep::Release | StockStep::Restock) && !stock.is_empty();
    let took_stock = step.takes() && !stock.is_empty();
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::OrderStatusChanged,
        EntityKind::Order,
        id,
        Some(json!({ "status": before.status })),
        Some(json!({ "status": after.status })),
        json!({
            "order_number": before.order_number,
            "from": before.status,
            "to": after.status,
            "cancellation_reason": reason,
            "restocked": restocked,
            "stock": step.as_str(),
            "placed": placing,
        }),
    );
    let event = DomainEvent::OrderStatusChanged(OrderStatusChanged {
        order_id: id,
        order_number: before.order_number.clone(),
        customer_id: before.customer_id,
        from: before.status,
        to: after.status,
        restocked,
        took_stock,
    });
    let counting = HighValueCounting::of(&settings);
    let parent = parent_with(deps, actor, &after, now).await?;
    let plan =
        change_plan(deps, before, after, if_match, stock, cap, counting, audit, event, now)?.with_parent(parent)?;
    let order = commit_change(deps, &plan, if_match).await?;
    tracing::info!(order_id = %id, to = %order.status, "order status changed");
    Ok(order)
}

/// What a status change does to the stock ([`StockStep`]): its moves, checked against the
/// catalog where it takes units, and the order's stock state after (`after`).
#[allow(clippy::too_many_arguments)]
async fn stock_of_change(
    deps: &Deps,
    actor: &Actor,
    before: &Order,
    after: &mut Order,
    placing: bool,
    settings: &crate::settings::CompanySettings,
    restock: bool,
    now: DateTime<Utc>,
) -> Result<(StockStep, Vec<StockMove>), Error> {
    let step = StockStep::of(before, after.status, placing, settings, restock);
    let mut stock = step.moves(before);
    if step.takes() || step == StockStep::Check {
        let wanted = match step {
            StockStep::Check => plan::wanted_at_placement(before, settings),
            _ => stock.clone(),
        };
        let spread = checked_takes(deps, actor, before, wanted, now).await?;
        stock = match step {
            StockStep::Check => Vec::new(),
            // The holds stay on the first shard; the takes go where the stock is.
            _ => spread
                .into_iter()
                .chain(stock.into_iter().filter(|m| matches!(m, StockMove::Hold { .. })))
                .collect(),
        };
        // The units are the order's now: a webhook order held for short stock is not any more.
        if step.takes() {
            after.alerts.retain(|a| a != INSUFFICIENT_STOCK);
        }
    }
    step.apply(after, !stock.is_empty());
    // Voiding a return that restocked takes its units out again (refused whole if they
    // are no longer there).
    if before.kind == OrderKind::Return && before.restocked && after.status == OrderStatus::Cancelled {
        let takes = StockStep::Take.moves(before);
        stock = checked_takes(deps, actor, before, takes, now).await?;
        after.restocked = false;
    }
    Ok((step, stock))
}

/// A child's parent with the child's entry as `child` now is, written with it (only if
/// the parent is still at the version read); `None` for a sale.
pub(super) async fn parent_with(
    deps: &Deps,
    actor: &Actor,
    child: &Order,
    now: DateTime<Utc>,
) -> Result<Option<ParentWrite>, Error> {
    let Some(parent_id) = child.parent_id else {
        return Ok(None);
    };
    let before = get_order(deps, actor, parent_id).await?;
    let mut after = children::with_child_status(&before, child.id, child.status)?;
    after.version = before.version + 1;
    after.updated_at = now;
    Ok(Some(ParentWrite {
        before: Box::new(before),
        after: Box::new(after),
    }))
}

/// The target status and the cancellation reason, checked.
fn parse_change(req: &ChangeStatusRequest) -> Result<(OrderStatus, Option<String>), Error> {
    let to = OrderStatus::parse(&req.status).ok_or_else(|| {
        let all: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        Error::invalid(
            "status",
            format!("`{}` is not a status; use one of {}", req.status, all.join(", ")),
        )
    })?;
    let mut errors = FieldErrors::default();
    let reason = text(&mut errors, "cancellation_reason", req.cancellation_reason.clone(), 500);
    if to == OrderStatus::Cancelled && reason.is_none() {
        errors.push("cancellation_reason", "cancelling an order needs a cancellation_reason");
    }
    if req.restock.is_some() && to != OrderStatus::Cancelled {
        errors.push("restock", "restock applies only when cancelling");
    }
    errors.finish()?;
    Ok((to, reason))
}

/// The takes `wanted` for `order`, checked against the catalog as it is now (every
/// product still sold, enough units available: refused whole otherwise) and spread over
/// the products' stock shards. The transaction guards each take again.
async fn checked_takes(
    deps: &Deps,
    actor: &Actor,
    order: &Order,
    wanted: Vec<StockMove>,
    now: DateTime<Utc>,
) -> Result<Vec<StockMove>, Error> {
    let wanted: Vec<StockMove> = wanted
        .into_iter()
        .filter(|m| matches!(m, StockMove::Take { .. }))
        .collect();
    if wanted.is_empty() {
        return Ok(wanted);
    }
    let mut products: Vec<_> = order.items.iter().map(|l| l.product_id).collect();
    products.sort();
    products.dedup();
    let snapshot = deps
        .store
        .load_placement(&PlacementKeys {
            company: actor.company_id.clone(),
            at: now,
            products,
            customer: None,
            idempotency: None,
            origin: None,
        })
        .await?;
    for l in &order.items {
        if !snapshot.products.get(&l.product_id).is_some_and(|p| p.active) {
            return Err(Error::invalid(
                "items",
                format!("{} ({}) is no longer available", l.name, l.sku),
            ));
        }
    }
    check_stock(&snapshot, &wanted)?;
    Ok(StockMove::on_shards(
        wanted,
        &snapshot.products,
        order.id.as_uuid().as_u64_pair().0,
    ))
}

pub(super) fn check_if_match(order: &Order, if_match: Option<u64>) -> Result<(), Error> {
    match if_match {
        Some(v) if v != order.version => Err(Error::PreconditionFailed {
            message: format!(
                "If-Match names version {v} but the order is at version {}; reload and retry",
                order.version
            ),
        }),
        _ => Ok(()),
    }
}

/// The plan of an order change: the order written only if still at the version read,
/// with its stock moves, cap counter, high-value counters, audit entry and event.
#[allow(clippy::too_many_arguments)]
pub(super) fn change_plan(
    deps: &Deps,
    before: Order,
    after: Order,
    if_match: Option<u64>,
    stock: Vec<StockMove>,
    cap: Option<CapIncrement>,
    counting: HighValueCounting,
    audit: AuditEntry,
    event: DomainEvent,
    now: DateTime<Utc>,
) -> Result<EffectPlan, Error> {
    let plan = EffectPlan {
        company: before.company_id.clone(),
        high_value: HighValueDelta::between(Some(&before), &after, counting),
        stock,
        cap,
        claims: Vec::new(),
        audit,
        event: OutboxEvent {
            id: EventId::new(deps.ids.uuid()),
            company_id: before.company_id.clone(),
            subject: before.id.to_string(),
            occurred_at: now,
            event,
        },
        order: OrderWrite::Change {
            before: Box::new(before),
            after: Box::new(after),
            if_match,
        },
        at: now,
        parent: None,
    };
    plan.check()?;
    Ok(plan)
}

/// Commits a change. Another change landing first is a 412 for a caller that named the
/// version it read (`If-Match`), and otherwise a redo from a fresh read.
pub(super) async fn commit_change(deps: &Deps, plan: &EffectPlan, if_match: Option<u64>) -> Result<Order, Error> {
    match deps.store.commit(plan).await {
        Ok(o) => Ok(o),
        Err(CommitError::Failed(e)) => Err(e),
        Err(CommitError::Rejected(CommitRejection::OrderMoved { current })) => match (current, if_match) {
            (None, _) => Err(Error::not_found("order", plan.order().id)),
            // Still at the version named: only the high-value recount marked the order
            // meanwhile (no business change), so redo it rather than refuse it.
            (Some((_, version)), Some(m)) if version == m => Err(Error::Conflict {
                code: RACED,
                message: "the order was counted by the high-value recount meanwhile; redoing".into(),
            }),
            (Some((_, version)), Some(_)) => Err(Error::PreconditionFailed {
                message: format!(
                    "the order changed (now version {version}) since the version named by If-Match; reload and retry"
                ),
            }),
            (Some(_), None) => Err(Error::Conflict {
                code: RACED,
                message: "another change landed on this order first; redoing".into(),
            }),
        },
        // The parent moved under a child's change: redo both from fresh reads.
        Err(CommitError::Rejected(CommitRejection::ParentMoved)) => Err(Error::Conflict {
            code: RACED,
            message: "another change landed on the parent order first; redoing".into(),
        }),
        Err(CommitError::Rejected(other)) => Err(placement_rejection(plan.order(), other)),
    }
}
