//! Placing an order (SPEC §5.3): one batch read, rules applied in memory, one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::lines::{
    build_lines, parse_items, parse_tags, placement_rejection, price_storefront, resolve_products, stock_decrements,
    totals_of,
};
use super::{amount_input, text, DecimalInput};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission, Role};
use crate::catalog::Address;
use crate::error::{Error, FieldErrors};
use crate::ids::{CustomerId, EventId, OrderId, ProductId, UserId};
use crate::money::Currency;
use crate::order::query::HighValueDelta;
use crate::order::{
    Channel, CustomerSummary, FinancialStatus, FulfillmentMethod, Order, OrderNumber, OrderStatus, PaymentTerms,
    PlacedBy, Priority, ShippingInfo, Source,
};
use crate::outbox::{EventKind, OutboxEvent};
use crate::ports::{
    CapIncrement, CommitError, CommitRejection, Deps, IdempotencyKey, IdempotencyRecord, OrderCommit, OriginKey,
    PlacementKeys, StockDecrement,
};

/// Lines one order may carry (the order is one item, well under DynamoDB's 400 KB).
pub const MAX_ITEMS: usize = 250;
/// Distinct stock-tracked products one order may decrement: each is one action of the
/// 100-action transaction, and 10 actions are kept for the order and its side effects.
/// A store with smaller transactions lowers this (see `OrderStore::max_transaction_items`).
pub const MAX_STOCKED_PRODUCTS: usize = 90;
pub const MAX_NOTES: usize = 2_000;
pub const MAX_QUANTITY: i64 = 1_000_000;
const ORDER_NUMBER_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// Required for API orders; a CUSTOMER token orders for its own customer.
    pub customer_id: Option<CustomerId>,
    /// Your own order number (unique per company); generated as `ORD-XXXXXXXX` if absent.
    #[schema(min_length = 1)]
    pub order_number: Option<String>,
    /// The order's id in the integrator's system (1-128 bytes, no `#`); a repeat returns the
    /// existing order.
    #[schema(min_length = 1, max_length = 128)]
    pub origin_order_id: Option<String>,
    /// `pending` (default) or, for API orders, `draft`.
    #[schema(pattern = "^(pending|draft)$")]
    pub status: Option<String>,
    pub source: Option<Source>,
    pub priority: Option<Priority>,
    pub order_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// ISO 4217; defaults to the company's currency.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    pub currency: Option<String>,
    pub billing_address: Option<Address>,
    pub shipping_info: Option<ShippingInfo>,
    pub payment_terms: Option<PaymentTerms>,
    pub sales_rep_id: Option<String>,
    /// Up to 2,000 characters.
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// At most 50, each 1-64 characters.
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    pub quote_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub shipping_amount: Option<DecimalInput>,
    /// An order-level discount (needs `orders:price_override`).
    pub discount_amount: Option<DecimalInput>,
    /// 1-250 lines.
    #[schema(min_items = 1, max_items = 250)]
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
    #[schema(minimum = 1, maximum = 1_000_000)]
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

    super::channel_fields::refuse_unsettable(channel, &req, &mut errors);

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
        errors.take("shipping_info", s.validate());
    }
    if let Some(p) = &req.payment_terms {
        errors.take("payment_terms", p.validate());
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
    if channel == Channel::Storefront && req.due_date.is_some_and(|d| d < now.date_naive()) {
        errors.push("due_date", "a requested due_date must be today or later");
    }

    let (items, wants_price_override) = parse_items(&mut errors, req.items);
    let shipping = amount_input(&mut errors, "shipping_amount", req.shipping_amount);
    let order_discount = amount_input(&mut errors, "discount_amount", req.discount_amount);
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

    let mut lines = build_lines(&snapshot, &items, &product_ids, currency)?;
    // A storefront order's tax and shipping are the company's, never the buyer's.
    let shipping = match channel {
        Channel::Storefront => price_storefront(&mut lines, &snapshot.settings.storefront, currency)?,
        _ => shipping,
    };
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
    let threshold = snapshot.settings.high_value_threshold;
    let high_value = totals.total_amount.value() >= threshold;
    // The order, its number claim, audit entry and outbox record, plus the optional claims
    // and the high-value counters (the company's and the customer's).
    let fixed_actions = 4
        + usize::from(idempotency.is_some())
        + usize::from(origin.is_some())
        + usize::from(cap.is_some())
        + usize::from(high_value) * (1 + usize::from(customer_id.is_some()));
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

    order.check_fits()?;
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
            high_value: HighValueDelta::between(None, &order, threshold),
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
