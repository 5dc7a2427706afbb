//! An order after placement (SPEC §5.4, §5.5): status changes and partial updates. Each is
//! one conditional write on the status the order was read in, with its audit entry and
//! outbox event in the same transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

use super::lines::{
    build_lines, parse_items, parse_tags, placement_rejection, resolve_products, stock_decrements, totals_of,
};
use super::place_order::{CreateOrderItem, MAX_NOTES, MAX_STOCKED_PRODUCTS};
use super::{amount_input, text, DecimalInput};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::catalog::Address;
use crate::error::{Error, FieldErrors};
use crate::ids::{EventId, OrderId, UserId};
use crate::order::query::HighValueDelta;
use crate::order::{status, Channel, FulfillmentMethod, Order, OrderStatus, PaymentTerms, Priority, ShippingInfo};
use crate::outbox::{EventKind, OutboxEvent};
use crate::ports::{CapIncrement, CommitError, CommitRejection, Deps, OrderChange, PlacementKeys, StockDecrement};
use crate::usecases::orders::get_order;

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

/// How often a change is redone after another change moved the order's index keys.
const RACE_RETRIES: usize = 5;
const RACED: &str = "order_raced";

/// Runs a read-validate-commit attempt again when another change moved the fields the
/// order's index keys are built from in between (the store refuses to write keys derived
/// from a stale read). Each attempt re-reads and re-checks every rule.
async fn retry_raced<F, Fut>(attempt: F) -> Result<Order, Error>
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
    let to = OrderStatus::parse(&req.status).ok_or_else(|| {
        let all: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        Error::invalid(
            "status",
            format!("`{}` is not a status; use one of {}", req.status, all.join(", ")),
        )
    })?;
    let mut errors = FieldErrors::default();
    let reason = text(&mut errors, "cancellation_reason", req.cancellation_reason, 500);
    if to == OrderStatus::Cancelled && reason.is_none() {
        errors.push("cancellation_reason", "cancelling an order needs a cancellation_reason");
    }
    if req.restock.is_some() && to != OrderStatus::Cancelled {
        errors.push("restock", "restock applies only when cancelling");
    }
    errors.finish()?;
    if req.restock == Some(true) {
        actor.require(Permission::StockAdjust)?;
    }

    let before = get_order(deps, actor, id).await?;
    check_if_match(&before, if_match)?;
    status::check(before.status, before.held_from, to)?;
    let settings = deps.store.get_settings(&actor.company_id).await?;
    let now = deps.clock.now();
    let mut after = before.clone();
    let mut to = to;

    // Leaving draft is the placement: the channel's stock and cap rules apply now.
    let placing = before.status == OrderStatus::Draft && matches!(to, OrderStatus::Pending | OrderStatus::Confirmed);
    let mut stock = Vec::new();
    let mut cap = None;
    if placing {
        if to == OrderStatus::Pending
            && settings
                .discount_approval_threshold
                .is_some_and(|t| before.discount_amount.value() > t)
        {
            to = OrderStatus::PendingApproval;
        }
        let decrements = before.channel != Channel::Dashboard || settings.dashboard_orders_decrement_stock;
        cap = (before.customer_id.is_some() && before.channel != Channel::Dashboard).then(|| CapIncrement {
            month: now.format("%Y-%m").to_string(),
            limit: settings.monthly_order_limit,
        });
        if decrements {
            let mut products: Vec<_> = before.items.iter().map(|l| l.product_id).collect();
            products.sort();
            products.dedup();
            let snapshot = deps
                .store
                .load_placement(&PlacementKeys {
                    company: actor.company_id.clone(),
                    products,
                    customer: None,
                    idempotency: None,
                    origin: None,
                })
                .await?;
            for l in &before.items {
                match snapshot.products.get(&l.product_id) {
                    Some(p) if p.active => {}
                    _ => {
                        return Err(Error::invalid(
                            "items",
                            format!("{} ({}) is no longer available", l.name, l.sku),
                        ))
                    }
                }
            }
            let room = deps.store.max_transaction_items().saturating_sub(
                3 + usize::from(cap.is_some())
                    + usize::from(before.total_amount.value() >= settings.high_value_threshold)
                        * (1 + usize::from(before.customer_id.is_some())),
            );
            stock = stock_decrements(&snapshot, &before.items, MAX_STOCKED_PRODUCTS.min(room))?;
        }
        after.stock_decremented = !stock.is_empty();
        after.cap_month = cap.as_ref().map(|c| c.month.clone());
    }

    let mut restock = Vec::new();
    if to == OrderStatus::Cancelled {
        let wanted = req.restock.unwrap_or(settings.restock_on_cancel);
        if wanted && before.stock_decremented {
            restock = units_of(&before);
            after.stock_decremented = false;
        }
        after.cancelled_at = Some(now);
        after.cancellation_reason = reason.clone();
    }
    match to {
        OrderStatus::Confirmed if after.confirmed_at.is_none() => after.confirmed_at = Some(now),
        OrderStatus::Shipped => after.shipped_at = Some(now),
        OrderStatus::Delivered => after.delivered_at = Some(now),
        _ => {}
    }
    after.held_from = (to == OrderStatus::OnHold).then_some(before.status);
    after.status = to;
    after.version = before.version + 1;
    after.updated_at = now;

    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::OrderStatusChanged,
        EntityKind::Order,
        id,
        Some(json!({ "status": before.status })),
        Some(json!({ "status": to })),
        json!({
            "order_number": before.order_number,
            "from": before.status,
            "to": to,
            "cancellation_reason": reason,
            "restocked": !restock.is_empty(),
            "placed": placing,
        }),
    );
    let outbox = event(
        deps,
        &after,
        EventKind::OrderStatusChanged,
        json!({ "from": before.status, "to": to, "restocked": !restock.is_empty() }),
        now,
    );
    let change = OrderChange {
        before: before.clone(),
        high_value: HighValueDelta::between(Some(&before), &after, settings.high_value_threshold),
        after,
        expect_version: if_match,
        stock,
        restock,
        cap,
        audit,
        outbox,
    };
    let order = commit(deps, &change).await.map_err(|e| match e {
        Rejected::Status(current) => status::invalid_transition(current, to, &status::targets(current, None)),
        Rejected::Other(e) => e,
    })?;
    tracing::info!(order_id = %id, from = %before.status, to = %order.status, "order status changed");
    Ok(order)
}

/// Every tracked unit the order took out of stock, per product.
fn units_of(order: &Order) -> Vec<StockDecrement> {
    let mut units: BTreeMap<_, u32> = BTreeMap::new();
    for l in order.items.iter().filter(|l| l.track_inventory) {
        *units.entry(l.product_id).or_default() += l.quantity;
    }
    units
        .into_iter()
        .map(|(product_id, quantity)| StockDecrement { product_id, quantity })
        .collect()
}

/// A partial update; absent fields stay as they are. Which fields may change depends on
/// the status (SPEC §5.5).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrderRequest {
    pub priority: Option<Priority>,
    pub due_date: Option<NaiveDate>,
    pub shipping_info: Option<ShippingInfo>,
    /// Up to 2,000 characters; `""` clears.
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// At most 50, each 1-64 characters.
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    /// Draft only.
    pub order_date: Option<NaiveDate>,
    /// Draft only.
    pub billing_address: Option<Address>,
    /// Draft only.
    pub payment_terms: Option<PaymentTerms>,
    /// Draft only.
    pub sales_rep_id: Option<String>,
    /// Draft only.
    pub quote_id: Option<String>,
    /// Draft only.
    pub opportunity_id: Option<String>,
    /// Draft only: replaces every line, priced as at placement (explicit prices and
    /// discounts need `orders:price_override`). 1-250 lines.
    #[schema(min_items = 1, max_items = 250)]
    pub items: Option<Vec<CreateOrderItem>>,
    /// Draft only.
    pub shipping_amount: Option<DecimalInput>,
    /// Draft only: the order-level discount (needs `orders:price_override`).
    pub discount_amount: Option<DecimalInput>,
}

impl UpdateOrderRequest {
    /// The fields this request sets, by name.
    fn fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        macro_rules! has { ($($name:ident),*) => { $( if self.$name.is_some() { f.push(stringify!($name)); } )* } }
        has!(
            priority,
            due_date,
            shipping_info,
            notes,
            tags,
            custom_fields,
            order_date,
            billing_address,
            payment_terms,
            sales_rep_id,
            quote_id,
            opportunity_id,
            items,
            shipping_amount,
            discount_amount
        );
        f
    }
}

/// Fields each status allows to change; a draft allows everything.
fn editable(s: OrderStatus) -> Option<&'static [&'static str]> {
    use OrderStatus::*;
    const OPEN: &[&str] = &[
        "priority",
        "due_date",
        "shipping_info",
        "notes",
        "tags",
        "custom_fields",
    ];
    const LATE: &[&str] = &["notes", "tags", "custom_fields"];
    match s {
        Draft => None,
        Pending | PendingApproval | Confirmed | OnHold => Some(OPEN),
        Processing | Shipped | Delivered => Some(LATE),
        Completed | Cancelled => Some(&[]),
    }
}

pub async fn update_order(
    deps: &Deps,
    actor: &Actor,
    id: OrderId,
    req: UpdateOrderRequest,
    if_match: Option<u64>,
) -> Result<Order, Error> {
    retry_raced(|| update_order_once(deps, actor, id, req.clone(), if_match)).await
}

async fn update_order_once(
    deps: &Deps,
    actor: &Actor,
    id: OrderId,
    req: UpdateOrderRequest,
    if_match: Option<u64>,
) -> Result<Order, Error> {
    actor.require(Permission::OrdersUpdate)?;
    let fields = req.fields();
    if fields.is_empty() {
        return Err(Error::invalid("body", "nothing to update: give at least one field"));
    }
    let before = get_order(deps, actor, id).await?;
    check_if_match(&before, if_match)?;
    if before.status.is_terminal() {
        return Err(Error::Conflict {
            code: "order_closed",
            message: format!("the order is {} and can no longer be changed", before.status),
        });
    }
    if let Some(allowed) = editable(before.status) {
        let refused: Vec<_> = fields.iter().filter(|f| !allowed.contains(f)).collect();
        if !refused.is_empty() {
            let mut errors = FieldErrors::default();
            for f in refused {
                errors.push(*f, format!("{f} cannot change while the order is {}", before.status));
            }
            errors.finish()?;
        }
    }

    let mut errors = FieldErrors::default();
    let mut after = before.clone();
    if let Some(p) = req.priority {
        after.priority = p;
    }
    if let Some(d) = req.order_date {
        after.order_date = d;
    }
    if let Some(d) = req.due_date {
        after.due_date = Some(d);
    }
    if after.due_date.is_some_and(|d| d < after.order_date) {
        errors.push("due_date", "due_date must not be before order_date");
    }
    if let Some(s) = req.shipping_info {
        errors.take("shipping_info", s.validate());
        after.shipping_info = Some(s);
    }
    if let Some(a) = req.billing_address {
        errors.take("billing_address", a.validate());
        after.billing_address = Some(a);
    }
    if let Some(t) = req.payment_terms {
        errors.take("payment_terms", t.validate());
        after.payment_terms = Some(t);
    }
    if req.notes.is_some() {
        after.notes = text(&mut errors, "notes", req.notes, MAX_NOTES);
    }
    if let Some(tags) = req.tags {
        after.tags = parse_tags(&mut errors, tags);
    }
    if let Some(c) = req.custom_fields {
        if serde_json::to_vec(&c).map_or(0, |v| v.len()) > 8_192 {
            errors.push("custom_fields", "custom_fields must be at most 8 KB of JSON");
        }
        after.custom_fields = c;
    }
    if let Some(s) = req.sales_rep_id.as_deref() {
        after.sales_rep_id = errors.take("sales_rep_id", UserId::parse(s));
    }
    if req.quote_id.is_some() {
        after.quote_id = text(&mut errors, "quote_id", req.quote_id, 64);
    }
    if req.opportunity_id.is_some() {
        after.opportunity_id = text(&mut errors, "opportunity_id", req.opportunity_id, 64);
    }
    errors.finish()?;
    reprice_draft(
        deps,
        actor,
        &before,
        &mut after,
        req.items,
        req.shipping_amount,
        req.discount_amount,
    )
    .await?;

    let changed = changed_fields(&before, &after);
    if changed.is_empty() {
        return Ok(before);
    }
    let now = deps.clock.now();
    after.version = before.version + 1;
    after.updated_at = now;
    after.check_fits()?;
    // The audit entry keeps lines as (sku, quantity, price) only: two full copies of a
    // large order would not fit one item.
    let pick = |o: &Order| -> Value {
        let v = serde_json::to_value(o).unwrap_or_default();
        Value::Object(
            changed
                .iter()
                .map(|k| {
                    let value = match k.as_str() {
                        "items" => json!(o
                            .items
                            .iter()
                            .map(|l| json!({"sku": l.sku, "quantity": l.quantity, "unit_price": l.unit_price}))
                            .collect::<Vec<_>>()),
                        _ => v.get(k).cloned().unwrap_or(Value::Null),
                    };
                    (k.clone(), value)
                })
                .collect(),
        )
    };
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::OrderUpdated,
        EntityKind::Order,
        id,
        Some(pick(&before)),
        Some(pick(&after)),
        json!({ "order_number": before.order_number, "fields": changed }),
    );
    let outbox = event(deps, &after, EventKind::OrderUpdated, json!({ "fields": changed }), now);
    // Only a draft's repricing moves the total; the status does not change here.
    let high_value = if before.total_amount != after.total_amount {
        let threshold = deps.store.get_settings(&actor.company_id).await?.high_value_threshold;
        HighValueDelta::between(Some(&before), &after, threshold)
    } else {
        None
    };
    let change = OrderChange {
        before: before.clone(),
        after,
        high_value,
        expect_version: if_match,
        stock: Vec::new(),
        restock: Vec::new(),
        cap: None,
        audit,
        outbox,
    };
    commit(deps, &change).await.map_err(|e| match e {
        Rejected::Status(current) => Error::Conflict {
            code: "version_conflict",
            message: format!("the order moved to {current} while this update was being made; reload and retry"),
        },
        Rejected::Other(e) => e,
    })
}

/// A draft's lines, shipping or order discount changed: price the lines as placement does
/// (current catalog or the customer's price) and recompute the totals.
async fn reprice_draft(
    deps: &Deps,
    actor: &Actor,
    before: &Order,
    after: &mut Order,
    items: Option<Vec<CreateOrderItem>>,
    shipping: Option<DecimalInput>,
    discount: Option<DecimalInput>,
) -> Result<(), Error> {
    if items.is_none() && shipping.is_none() && discount.is_none() {
        return Ok(());
    }
    let line_discounts: rust_decimal::Decimal = before.items.iter().map(|l| l.discount_amount.value()).sum();
    let mut order_discount = before.discount_amount.value() - line_discounts;
    let mut shipping_amount = before.shipping_amount.value();
    let mut errors = FieldErrors::default();
    if shipping.is_some() {
        shipping_amount = amount_input(&mut errors, "shipping_amount", shipping);
    }
    if discount.is_some() {
        order_discount = amount_input(&mut errors, "discount_amount", discount);
    }
    let parsed = items.map(|i| parse_items(&mut errors, i));
    errors.finish()?;
    if discount.is_some_and(|d| !d.0.is_zero()) || parsed.as_ref().is_some_and(|(_, wants)| *wants) {
        actor.require(Permission::OrdersPriceOverride)?;
    }
    if let Some((parsed, _)) = parsed {
        let ids = resolve_products(deps, actor, &parsed).await?;
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        let snapshot = deps
            .store
            .load_placement(&PlacementKeys {
                company: actor.company_id.clone(),
                products: distinct,
                customer: before.customer_id,
                idempotency: None,
                origin: None,
            })
            .await?;
        after.items = build_lines(&snapshot, &parsed, &ids, before.currency)?;
        after.fulfillment_method = FulfillmentMethod::of(&after.items);
    }
    let t = totals_of(&after.items, shipping_amount, order_discount, before.currency)?;
    after.subtotal_amount = t.subtotal_amount;
    after.tax_amount = t.tax_amount;
    after.shipping_amount = t.shipping_amount;
    after.discount_amount = t.discount_amount;
    after.total_amount = t.total_amount;
    Ok(())
}

/// Top-level order fields whose JSON differs (`version` and `updated_at` aside).
fn changed_fields(before: &Order, after: &Order) -> Vec<String> {
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    a.into_iter()
        .filter(|(k, v)| b.get(k) != Some(v) && k != "version" && k != "updated_at")
        .map(|(k, _)| k)
        .collect()
}

fn check_if_match(order: &Order, if_match: Option<u64>) -> Result<(), Error> {
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

fn event(deps: &Deps, order: &Order, kind: EventKind, data: Value, now: DateTime<Utc>) -> OutboxEvent {
    let mut data = data;
    if let Some(d) = data.as_object_mut() {
        d.insert("order_id".into(), json!(order.id));
        d.insert("order_number".into(), json!(order.order_number));
        d.insert("status".into(), json!(order.status));
        d.insert("customer_id".into(), json!(order.customer_id));
    }
    OutboxEvent {
        id: EventId::new(deps.ids.uuid()),
        company_id: order.company_id.clone(),
        kind,
        subject: order.id.to_string(),
        occurred_at: now,
        data,
    }
}

enum Rejected {
    /// Another change moved the order first.
    Status(OrderStatus),
    Other(Error),
}

async fn commit(deps: &Deps, change: &OrderChange) -> Result<Order, Rejected> {
    match deps.store.commit_order_change(change).await {
        Ok(o) => Ok(o),
        Err(CommitError::Failed(e)) => Err(Rejected::Other(e)),
        Err(CommitError::Rejected(CommitRejection::StatusChanged { current })) => Err(Rejected::Status(current)),
        Err(CommitError::Rejected(CommitRejection::IndexKeysMoved)) => Err(Rejected::Other(Error::Conflict {
            code: RACED,
            message: "another change moved this order; retrying".into(),
        })),
        Err(CommitError::Rejected(CommitRejection::VersionChanged { current })) => {
            Err(Rejected::Other(Error::PreconditionFailed {
                message: format!(
                    "the order changed (now version {current}) since the version named by If-Match; reload and retry"
                ),
            }))
        }
        Err(CommitError::Rejected(other)) => Err(Rejected::Other(placement_rejection(&change.before, other))),
    }
}
