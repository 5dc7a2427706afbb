//! Placing an order (SPEC §5.3): one batch read, rules applied in memory, one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

use super::{text, DecimalInput};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission, Role};
use crate::catalog::{Address, Sku};
use crate::error::{Error, FieldErrors, ShortLine};
use crate::ids::{CustomerId, EventId, OrderId, ProductId, UserId};
use crate::money::{Amount, Currency};
use crate::order::{
    compute_totals, Channel, CustomerSummary, FinancialStatus, FulfillmentMethod, LineAmounts, Order, OrderLine,
    OrderNumber, OrderStatus, PaymentTerms, PlacedBy, Priority, ShippingInfo, Source,
};
use crate::outbox::{EventKind, OutboxEvent};
use crate::ports::{
    CapIncrement, CommitError, CommitRejection, Deps, IdempotencyKey, IdempotencyRecord, OrderCommit, OriginKey,
    PlacementKeys, PlacementSnapshot, StockDecrement,
};

/// Lines one order may carry (the order is one item, well under DynamoDB's 400 KB).
pub const MAX_ITEMS: usize = 250;
/// Distinct stock-tracked products one order may decrement: each is one action of the
/// 100-action transaction, and 10 actions are kept for the order and its side effects.
/// A store with smaller transactions lowers this (see `OrderStore::max_transaction_items`).
pub const MAX_STOCKED_PRODUCTS: usize = 90;
pub const MAX_NOTES: usize = 2_000;
pub const MAX_QUANTITY: i64 = 1_000_000;
const MAX_TAGS: usize = 50;
const ORDER_NUMBER_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// Required for API orders; a CUSTOMER token orders for its own customer.
    pub customer_id: Option<CustomerId>,
    /// Your own order number (unique per company); generated as `ORD-XXXXXXXX` if absent.
    pub order_number: Option<String>,
    /// The order's id in the integrator's system; a repeat returns the existing order.
    pub origin_order_id: Option<String>,
    /// `pending` (default) or, for API orders, `draft`.
    pub status: Option<String>,
    pub source: Option<Source>,
    pub priority: Option<Priority>,
    pub order_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// ISO 4217; defaults to the company's currency.
    pub currency: Option<String>,
    pub billing_address: Option<Address>,
    pub shipping_info: Option<ShippingInfo>,
    pub payment_terms: Option<PaymentTerms>,
    pub sales_rep_id: Option<String>,
    /// Up to 2,000 characters.
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    pub quote_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub shipping_amount: Option<DecimalInput>,
    /// An order-level discount (needs `orders:price_override`).
    pub discount_amount: Option<DecimalInput>,
    pub items: Vec<CreateOrderItem>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderItem {
    /// The product, by id ...
    pub product_id: Option<ProductId>,
    /// ... or by SKU (case-insensitive).
    pub sku: Option<String>,
    /// A whole number from 1 to 1,000,000.
    pub quantity: i64,
    /// An explicit price instead of the catalog's (needs `orders:price_override`).
    pub unit_price: Option<DecimalInput>,
    pub tax_amount: Option<DecimalInput>,
    /// A line discount (needs `orders:price_override`).
    pub discount_amount: Option<DecimalInput>,
    pub notes: Option<String>,
}

/// What a placement returned, so the edge can answer 201 or 200.
#[derive(Debug)]
pub enum Placement {
    /// A new order (201).
    Created(Order),
    /// A retry with the same `Idempotency-Key` and body: the first response (201).
    Replayed(Order),
    /// An integration resent an `origin_order_id` it already placed (200).
    Existing(Order),
}

/// The request as sent plus what the edge knows about it.
pub struct PlaceOrder {
    pub request: CreateOrderRequest,
    pub idempotency_key: Option<String>,
    /// `request_fingerprint` of the body, for idempotency checks.
    pub fingerprint: String,
}

enum ItemRef {
    Id(ProductId),
    Sku(Sku),
}

pub(crate) struct ParsedItem {
    product: ItemRef,
    quantity: u32,
    unit_price: Option<rust_decimal::Decimal>,
    tax: rust_decimal::Decimal,
    discount: rust_decimal::Decimal,
    notes: Option<String>,
}

pub async fn place_order(deps: &Deps, actor: &Actor, cmd: PlaceOrder) -> Result<Placement, Error> {
    actor.require(Permission::OrdersCreate)?;
    let req = cmd.request;
    let mut errors = FieldErrors::default();

    // Who the order is for decides the channel and with it every stock/cap/e-mail rule.
    let (channel, customer_id) = match actor.role {
        Role::Customer => {
            if req.customer_id.is_some() && req.customer_id != actor.customer_id {
                errors.push("customer_id", "a customer token can only order for its own customer");
            }
            (Channel::Storefront, actor.customer_id)
        }
        Role::Integration => {
            if req.customer_id.is_none() {
                errors.push("customer_id", "customer_id is required for integration orders");
            }
            (Channel::Api, req.customer_id)
        }
        _ => match req.customer_id {
            Some(c) => (Channel::Api, Some(c)),
            None => (Channel::Dashboard, None),
        },
    };

    let status = match req.status.as_deref() {
        None | Some("pending") => OrderStatus::Pending,
        Some("draft") if channel == Channel::Api => OrderStatus::Draft,
        Some("draft") => {
            errors.push(
                "status",
                "only API orders (staff or integration with a customer_id) may start as draft",
            );
            OrderStatus::Pending
        }
        Some(other) => {
            errors.push(
                "status",
                format!("a new order starts as `pending` or `draft`, not `{other}`"),
            );
            OrderStatus::Pending
        }
    };

    let order_number = req
        .order_number
        .as_deref()
        .and_then(|n| errors.take("order_number", OrderNumber::parse(n)));
    let origin = match req.origin_order_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(_) if actor.role != Role::Integration => {
            errors.push("origin_order_id", "origin_order_id is set by integrations only");
            None
        }
        Some(o) if o.len() > 128 || o.contains('#') => {
            errors.push(
                "origin_order_id",
                "origin_order_id must be at most 128 characters, without '#'",
            );
            None
        }
        Some(o) => Some(OriginKey {
            integration_id: actor.user_id.to_string(),
            origin_order_id: o.to_owned(),
        }),
    };
    let notes = text(&mut errors, "notes", req.notes, MAX_NOTES);
    let tags = parse_tags(&mut errors, req.tags.unwrap_or_default());
    let quote_id = text(&mut errors, "quote_id", req.quote_id, 64);
    let opportunity_id = text(&mut errors, "opportunity_id", req.opportunity_id, 64);
    let sales_rep_id = req
        .sales_rep_id
        .as_deref()
        .and_then(|s| errors.take("sales_rep_id", UserId::parse(s)));
    if let Some(a) = &req.billing_address {
        errors.take("billing_address", a.validate());
    }
    if let Some(s) = &req.shipping_info {
        errors.take("shipping_info", s.address().validate());
    }
    if req
        .custom_fields
        .as_ref()
        .is_some_and(|m| serde_json::to_vec(m).map_or(0, |v| v.len()) > 8_192)
    {
        errors.push("custom_fields", "custom_fields must be at most 8 KB of JSON");
    }
    let now = deps.clock.now();
    let order_date = req.order_date.unwrap_or_else(|| now.date_naive());
    if req.due_date.is_some_and(|d| d < order_date) {
        errors.push("due_date", "due_date must not be before order_date");
    }

    let (items, wants_price_override) = parse_items(&mut errors, req.items);
    let shipping = req.shipping_amount.map(|d| d.0).unwrap_or_default();
    let order_discount = req.discount_amount.map(|d| d.0).unwrap_or_default();
    if shipping.is_sign_negative() && !shipping.is_zero() {
        errors.push("shipping_amount", "shipping_amount must not be negative");
    }
    if order_discount.is_sign_negative() && !order_discount.is_zero() {
        errors.push("discount_amount", "discount_amount must not be negative");
    }
    let requested_currency = req
        .currency
        .as_deref()
        .and_then(|c| errors.take("currency", Currency::parse(c)));
    errors.finish()?;

    if wants_price_override || !order_discount.is_zero() {
        actor.require(Permission::OrdersPriceOverride)?;
    }

    // SKUs become ids first (one extra read, only when the caller used SKUs).
    let product_ids = resolve_products(deps, actor, &items).await?;
    let mut distinct: Vec<ProductId> = product_ids.clone();
    distinct.sort();
    distinct.dedup();

    let idempotency = cmd.idempotency_key.map(|key| IdempotencyKey {
        principal: actor.user_id.clone(),
        key,
    });
    let snapshot = deps
        .store
        .load_placement(&PlacementKeys {
            company: actor.company_id.clone(),
            products: distinct.clone(),
            customer: customer_id,
            idempotency: idempotency.clone(),
            origin: origin.clone(),
        })
        .await?;

    if let Some(rec) = &snapshot.idempotency {
        return replay(rec, &cmd.fingerprint);
    }
    if let Some(existing) = snapshot.origin_order {
        return existing_order(deps, actor, existing).await;
    }

    let customer = match customer_id {
        Some(id) => Some(
            snapshot
                .customer
                .clone()
                .ok_or_else(|| Error::not_found("customer", id))?,
        ),
        None => None,
    };
    let currency = requested_currency.unwrap_or(snapshot.settings.default_currency);
    let decrements_stock = status != OrderStatus::Draft
        && (channel != Channel::Dashboard || snapshot.settings.dashboard_orders_decrement_stock);

    let lines = build_lines(&snapshot, &items, &product_ids, currency)?;
    let totals = totals_of(&lines, shipping, order_discount, currency)?;

    let status = match (status, snapshot.settings.discount_approval_threshold) {
        (OrderStatus::Pending, Some(limit)) if totals.discount_amount.value() > limit => OrderStatus::PendingApproval,
        (s, _) => s,
    };
    let counts_against_cap = customer_id.is_some() && channel != Channel::Dashboard && status != OrderStatus::Draft;
    let cap = counts_against_cap.then(|| CapIncrement {
        month: now.format("%Y-%m").to_string(),
        limit: snapshot.settings.monthly_order_limit,
    });
    // The order, its number claim, audit entry and outbox record, plus the optional claims.
    let fixed_actions =
        4 + usize::from(idempotency.is_some()) + usize::from(origin.is_some()) + usize::from(cap.is_some());
    let max_stocked = MAX_STOCKED_PRODUCTS.min(deps.store.max_transaction_items().saturating_sub(fixed_actions));
    let stock = if decrements_stock {
        stock_decrements(&snapshot, &lines, max_stocked)?
    } else {
        Vec::new()
    };

    let order_id = OrderId::new(deps.ids.uuid());
    let mut order = Order {
        id: order_id,
        company_id: actor.company_id.clone(),
        order_number: order_number.clone().unwrap_or_else(|| deps.ids.order_number()),
        origin_order_id: origin.as_ref().map(|o| o.origin_order_id.clone()),
        integration_id: origin.as_ref().map(|o| o.integration_id.clone()),
        channel,
        source: req.source.unwrap_or(match channel {
            Channel::Storefront => Source::OnlineStore,
            Channel::Dashboard => Source::Manual,
            Channel::Api | Channel::Webhook => Source::Api,
        }),
        status,
        customer_id,
        customer: customer.as_ref().map(|c| CustomerSummary {
            id: c.id,
            customer_number: c.customer_number.clone(),
            company_name: c.company_name.clone(),
            contact_name: c.contact_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
        }),
        placed_by: PlacedBy {
            user_id: actor.user_id.clone(),
            role: actor.role,
        },
        sales_rep_id,
        order_date,
        due_date: req.due_date,
        priority: req.priority.unwrap_or(Priority::Normal),
        currency,
        billing_address: req
            .billing_address
            .or_else(|| customer.as_ref().and_then(|c| c.billing_address.clone())),
        shipping_info: req.shipping_info,
        payment_terms: req.payment_terms,
        financial_status: if actor.role == Role::Integration {
            FinancialStatus::Paid
        } else {
            FinancialStatus::Pending
        },
        fulfillment_method: FulfillmentMethod::of(&lines),
        alerts: Vec::new(),
        notes,
        tags,
        custom_fields: req.custom_fields.unwrap_or_default(),
        quote_id,
        opportunity_id,
        items: lines,
        subtotal_amount: totals.subtotal_amount,
        tax_amount: totals.tax_amount,
        shipping_amount: totals.shipping_amount,
        discount_amount: totals.discount_amount,
        total_amount: totals.total_amount,
        stock_decremented: !stock.is_empty(),
        cap_month: cap.as_ref().map(|c| c.month.clone()),
        confirmed_at: None,
        shipped_at: None,
        delivered_at: None,
        cancelled_at: None,
        cancellation_reason: None,
        held_from: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };

    for attempt in 1..=ORDER_NUMBER_ATTEMPTS {
        let commit = OrderCommit {
            audit: placed_audit(deps, actor, &order, now),
            outbox: placed_event(deps, &order, &stock, now),
            idempotency: idempotency.clone().map(|k| {
                (
                    k,
                    IdempotencyRecord {
                        request_hash: cmd.fingerprint.clone(),
                        order: order.clone(),
                        created_at: now,
                    },
                )
            }),
            order: order.clone(),
            stock: stock.clone(),
            cap: cap.clone(),
            origin: origin.clone(),
        };
        match deps.store.commit_order(&commit).await {
            Ok(()) => {
                tracing::info!(order_id = %order.id, order_number = %order.order_number, channel = %order.channel,
                    total = %order.total_amount, "order placed");
                return Ok(Placement::Created(order));
            }
            Err(CommitError::Failed(e)) => return Err(e),
            Err(CommitError::Rejected(r)) => match r {
                CommitRejection::OrderNumberTaken(n) => {
                    if order_number.is_some() {
                        return Err(Error::Conflict {
                            code: "duplicate_order_number",
                            message: format!("order number {n} is already used by another order"),
                        });
                    }
                    tracing::warn!(attempt, "generated order number collided; drawing another");
                    order.order_number = deps.ids.order_number();
                }
                CommitRejection::IdempotencyKeyTaken => {
                    let key = idempotency
                        .as_ref()
                        .ok_or_else(|| Error::internal("idempotency conflict without a key"))?;
                    let rec = deps.store.get_idempotency(&actor.company_id, key).await?;
                    return match rec {
                        Some(rec) => replay(&rec, &cmd.fingerprint),
                        None => Err(Error::Contention),
                    };
                }
                CommitRejection::OriginTaken => {
                    let o = origin
                        .as_ref()
                        .ok_or_else(|| Error::internal("origin conflict without an origin"))?;
                    let id = deps
                        .store
                        .origin_order(&actor.company_id, o)
                        .await?
                        .ok_or(Error::Contention)?;
                    return existing_order(deps, actor, id).await;
                }
                other => return Err(placement_rejection(&order, other)),
            },
        }
    }
    Err(Error::Contention)
}

/// The order's totals from its lines, shipping and order-level discount (SPEC §5.2).
pub(crate) fn totals_of(
    lines: &[OrderLine],
    shipping: rust_decimal::Decimal,
    order_discount: rust_decimal::Decimal,
    currency: Currency,
) -> Result<crate::order::Totals, Error> {
    let amounts: Vec<LineAmounts> = lines
        .iter()
        .map(|l| LineAmounts {
            unit_price: l.unit_price,
            quantity: l.quantity,
            tax_amount: l.tax_amount,
            discount_amount: l.discount_amount,
        })
        .collect();
    let shipping = Amount::parse_in(shipping, currency).map_err(|e| rename(e, "shipping_amount"))?;
    let order_discount = Amount::parse_in(order_discount, currency).map_err(|e| rename(e, "discount_amount"))?;
    compute_totals(&amounts, shipping, order_discount)
}

/// The rejections placing stock and counting the cap can meet, as errors; shared by
/// placement and by an order leaving draft.
pub(crate) fn placement_rejection(order: &Order, r: CommitRejection) -> Error {
    match r {
        CommitRejection::InsufficientStock(short) => short_stock(order, &short),
        CommitRejection::ProductUnavailable(id) => {
            Error::invalid("items", format!("product {id} is no longer available"))
        }
        CommitRejection::MonthlyCapReached { limit } => Error::Conflict {
            code: "monthly_limit_reached",
            message: format!(
                "this company's plan allows {limit} customer orders per month and they have all been placed"
            ),
        },
        other => Error::internal(format!("unexpected rejection {other:?}")),
    }
}

fn rename(e: Error, field: &str) -> Error {
    match e {
        Error::Validation { message, .. } => Error::invalid(field, format!("{field}: {message}")),
        other => other,
    }
}

pub(crate) fn parse_tags(errors: &mut FieldErrors, tags: Vec<String>) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        errors.push("tags", format!("at most {MAX_TAGS} tags"));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tags.into_iter().enumerate() {
        let t = t.trim().to_owned();
        if t.is_empty() || t.chars().count() > 64 {
            errors.push(format!("tags[{i}]"), "a tag is 1-64 characters");
        } else if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

pub(crate) fn parse_items(errors: &mut FieldErrors, items: Vec<CreateOrderItem>) -> (Vec<ParsedItem>, bool) {
    if items.is_empty() {
        errors.push("items", "an order needs at least one item");
    }
    if items.len() > MAX_ITEMS {
        errors.push("items", format!("an order may have at most {MAX_ITEMS} items"));
        return (Vec::new(), false);
    }
    let mut wants_override = false;
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        let product = match (it.product_id, it.sku.as_deref()) {
            (Some(id), None) => Some(ItemRef::Id(id)),
            (None, Some(s)) => errors.take(&field("sku"), Sku::parse(s)).map(ItemRef::Sku),
            _ => {
                errors.push(field("product_id"), "give exactly one of product_id or sku");
                None
            }
        };
        if !(1..=MAX_QUANTITY).contains(&it.quantity) {
            errors.push(
                field("quantity"),
                format!("quantity must be a whole number from 1 to {MAX_QUANTITY}"),
            );
        }
        let mut money = |name: &str, v: Option<DecimalInput>| {
            let d = v.map(|d| d.0).unwrap_or_default();
            if d.is_sign_negative() && !d.is_zero() {
                errors.push(field(name), format!("{name} must not be negative"));
            }
            d
        };
        let unit_price = it.unit_price.map(|p| money("unit_price", Some(p)));
        let tax = money("tax_amount", it.tax_amount);
        let discount = money("discount_amount", it.discount_amount);
        wants_override |= unit_price.is_some() || !discount.is_zero();
        let notes = text(errors, &field("notes"), it.notes, 500);
        if let Some(product) = product {
            out.push(ParsedItem {
                product,
                quantity: u32::try_from(it.quantity.clamp(1, MAX_QUANTITY)).unwrap_or(1),
                unit_price,
                tax,
                discount,
                notes,
            });
        }
    }
    (out, wants_override)
}

pub(crate) async fn resolve_products(
    deps: &Deps,
    actor: &Actor,
    items: &[ParsedItem],
) -> Result<Vec<ProductId>, Error> {
    let skus: Vec<Sku> = items
        .iter()
        .filter_map(|i| match &i.product {
            ItemRef::Sku(s) => Some(s.clone()),
            ItemRef::Id(_) => None,
        })
        .collect();
    let found = if skus.is_empty() {
        HashMap::new()
    } else {
        deps.store.find_skus(&actor.company_id, &skus).await?
    };
    items
        .iter()
        .map(|i| match &i.product {
            ItemRef::Id(id) => Ok(*id),
            ItemRef::Sku(s) => found
                .get(&s.key())
                .copied()
                .ok_or_else(|| Error::not_found("product with sku", s)),
        })
        .collect()
}

pub(crate) fn build_lines(
    snap: &PlacementSnapshot,
    items: &[ParsedItem],
    ids: &[ProductId],
    currency: Currency,
) -> Result<Vec<OrderLine>, Error> {
    let mut errors = FieldErrors::default();
    let mut lines = Vec::with_capacity(items.len());
    for (i, (item, id)) in items.iter().zip(ids).enumerate() {
        let p = snap.products.get(id).ok_or_else(|| Error::not_found("product", id))?;
        let field = |f: &str| format!("items[{i}].{f}");
        if !p.active {
            errors.push(
                field("product_id"),
                format!("{} ({}) is not active and cannot be ordered", p.name, p.sku),
            );
            continue;
        }
        if p.currency != currency {
            errors.push(
                field("product_id"),
                format!(
                    "{} is priced in {}, the order is in {}",
                    p.name,
                    p.currency.code(),
                    currency.code()
                ),
            );
            continue;
        }
        let price = match item.unit_price {
            Some(explicit) => explicit,
            None => snap.overrides.get(id).copied().unwrap_or(p.price).value(),
        };
        let mut amount = |name: &str, v| errors_take_amount(&mut errors, &field(name), v, currency);
        let (unit_price, tax_amount, discount_amount) = (
            amount("unit_price", price),
            amount("tax_amount", item.tax),
            amount("discount_amount", item.discount),
        );
        let l = LineAmounts {
            unit_price,
            quantity: item.quantity,
            tax_amount,
            discount_amount,
        };
        lines.push(OrderLine {
            line_no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            product_id: p.id,
            sku: p.sku.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            quantity: item.quantity,
            unit_price,
            tax_amount,
            discount_amount,
            line_total: Amount::from_decimal(l.line_total()),
            fulfillment: p.fulfillment,
            track_inventory: p.track_inventory,
            notes: item.notes.clone(),
        });
    }
    errors.finish()?;
    Ok(lines)
}

fn errors_take_amount(errors: &mut FieldErrors, field: &str, v: rust_decimal::Decimal, c: Currency) -> Amount {
    match Amount::parse_in(v, c) {
        Ok(a) => a,
        Err(e) => {
            errors.push(field, format!("{field}: {e}"));
            Amount::ZERO
        }
    }
}

/// One decrement per stock-tracked product (lines of the same product are summed), after
/// checking the snapshot so a short order is refused before any write.
pub(crate) fn stock_decrements(
    snap: &PlacementSnapshot,
    lines: &[OrderLine],
    max: usize,
) -> Result<Vec<StockDecrement>, Error> {
    let mut wanted: BTreeMap<ProductId, u64> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.track_inventory) {
        *wanted.entry(l.product_id).or_default() += u64::from(l.quantity);
    }
    if wanted.len() > max {
        return Err(Error::LimitExceeded {
            code: "too_many_products",
            message: format!(
                "an order may decrement stock of at most {max} distinct products ({} given); split it into several orders",
                wanted.len()
            ),
        });
    }
    let mut short = Vec::new();
    let mut out = Vec::with_capacity(wanted.len());
    for (id, qty) in wanted {
        let p = snap.products.get(&id).ok_or_else(|| Error::not_found("product", id))?;
        if u64::from(p.stock) < qty {
            short.push(ShortLine {
                product_id: id.to_string(),
                sku: p.sku.to_string(),
                name: p.name.clone(),
                requested: u32::try_from(qty).unwrap_or(u32::MAX),
                available: p.stock,
            });
        } else {
            out.push(StockDecrement {
                product_id: id,
                quantity: u32::try_from(qty).unwrap_or(u32::MAX),
            });
        }
    }
    if short.is_empty() {
        Ok(out)
    } else {
        Err(Error::InsufficientStock(short))
    }
}

pub(crate) fn short_stock(order: &Order, short: &[(ProductId, u32)]) -> Error {
    Error::InsufficientStock(
        short
            .iter()
            .filter_map(|(id, available)| {
                let requested: u32 = order
                    .items
                    .iter()
                    .filter(|l| l.product_id == *id)
                    .map(|l| l.quantity)
                    .sum();
                let line = order.items.iter().find(|l| l.product_id == *id)?;
                Some(ShortLine {
                    product_id: id.to_string(),
                    sku: line.sku.to_string(),
                    name: line.name.clone(),
                    requested,
                    available: *available,
                })
            })
            .collect(),
    )
}

fn replay(rec: &IdempotencyRecord, fingerprint: &str) -> Result<Placement, Error> {
    if rec.request_hash == fingerprint {
        Ok(Placement::Replayed(rec.order.clone()))
    } else {
        Err(Error::IdempotencyKeyReused)
    }
}

async fn existing_order(deps: &Deps, actor: &Actor, id: OrderId) -> Result<Placement, Error> {
    let order = deps
        .store
        .get_order(&actor.company_id, id)
        .await?
        .ok_or_else(|| Error::not_found("order", id))?;
    Ok(Placement::Existing(order))
}

fn placed_audit(deps: &Deps, actor: &Actor, order: &Order, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::OrderPlaced,
        EntityKind::Order,
        order.id,
        None,
        None,
        json!({
            "order_number": order.order_number,
            "channel": order.channel,
            "status": order.status,
            "total_amount": order.total_amount,
            "currency": order.currency,
            "items": order.items.len(),
        }),
    )
}

fn placed_event(deps: &Deps, order: &Order, stock: &[StockDecrement], now: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent {
        id: EventId::new(deps.ids.uuid()),
        company_id: order.company_id.clone(),
        kind: EventKind::OrderPlaced,
        subject: order.id.to_string(),
        occurred_at: now,
        data: json!({
            "order_id": order.id,
            "order_number": order.order_number,
            "channel": order.channel,
            "status": order.status,
            "customer_id": order.customer_id,
            "total_amount": order.total_amount,
            "currency": order.currency,
            "cap_month": order.cap_month,
            "decremented_products": stock.iter().map(|s| s.product_id).collect::<Vec<_>>(),
        }),
    }
}
