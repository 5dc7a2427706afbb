//! Placing an order (SPEC §5.3): the idempotency key first, then one batch read, the
//! rules applied in memory, and one effect plan committed as one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::lines::{
    build_lines, check_stock, legacy_charges_in, parse_items, parse_tags, placement_rejection, price_storefront,
    snapshot_for, totals_of, ParsedItem,
};
use super::{amount_input, text, DecimalInput};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission, Role};
use crate::catalog::Address;
use crate::error::{Error, FieldErrors};
use crate::ids::{CustomerId, EventId, OrderId, ProductId, UserId};
use crate::money::{Amount, Currency};
use crate::order::charges::parse_charges;
use crate::order::query::{HighValueCounting, HighValueDelta};
use crate::order::{
    Channel, ChargeInput, CustomerSummary, FinancialStatus, FulfillmentMethod, Order, OrderCharge, OrderKind,
    OrderNumber, OrderStatus, PaymentTerms, PlacedBy, Priority, ShippingInfo, Source,
};
use crate::outbox::{DomainEvent, OrderPlaced, OutboxEvent};
use crate::plan::{self, Claim, EffectPlan, OrderWrite, StockMove};
use crate::ports::{
    CommitError, CommitRejection, Deps, IdempotencyKey, IdempotencyRecord, OriginKey, PlacementKeys, PlacementSnapshot,
};
use crate::settings::StockPolicy;
use crate::usecases::webhooks::INSUFFICIENT_STOCK;

/// Lines one order may carry (the order is one item, well under DynamoDB's 400 KB).
pub const MAX_ITEMS: usize = 250;
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
    #[schema(schema_with = crate::money::currency_code_schema)]
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
    /// A fixed shipping charge (read as a `shipping` charge, first).
    pub shipping_amount: Option<DecimalInput>,
    /// An order-level discount (read as a fixed `discount` charge after the shipping;
    /// needs `orders:price_override`).
    pub discount_amount: Option<DecimalInput>,
    /// Order-level charges (SPEC §10), applied in order after `shipping_amount` and
    /// `discount_amount`; up to 20. A charge that subtracts needs `orders:price_override`.
    #[schema(max_items = 20)]
    pub charges: Option<Vec<ChargeInput>>,
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
    #[serde(deserialize_with = "crate::whole::de")]
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

/// A create-order request once every field has been checked: what the order will be,
/// before the catalog is read.
struct ParsedOrder {
    channel: Channel,
    customer_id: Option<CustomerId>,
    status: OrderStatus,
    order_number: Option<OrderNumber>,
    origin: Option<OriginKey>,
    source: Option<Source>,
    priority: Option<Priority>,
    order_date: NaiveDate,
    due_date: Option<NaiveDate>,
    currency: Option<Currency>,
    billing_address: Option<Address>,
    shipping_info: Option<ShippingInfo>,
    payment_terms: Option<PaymentTerms>,
    sales_rep_id: Option<UserId>,
    notes: Option<String>,
    tags: Vec<String>,
    custom_fields: Map<String, Value>,
    quote_id: Option<String>,
    opportunity_id: Option<String>,
    shipping: rust_decimal::Decimal,
    order_discount: rust_decimal::Decimal,
    charges: Vec<OrderCharge>,
    items: Vec<ParsedItem>,
    wants_price_override: bool,
}

/// What a webhook placement brings besides the request: the integration, the alerts its
/// address and items gave, and whether the platform says it is paid.
#[derive(Debug, Clone)]
pub struct WebhookContext {
    pub integration_id: crate::ids::IntegrationId,
    pub alerts: Vec<String>,
    pub paid: bool,
}

pub async fn place_order(deps: &Deps, actor: &Actor, cmd: PlaceOrder) -> Result<Placement, Error> {
    place(deps, actor, cmd, None).await
}

/// A webhook delivery's order (channel `webhook`), placed by its integration: held with
/// alerts rather than refused (short stock holds it without moving stock), idempotent on
/// the delivery.
pub(crate) async fn place_webhook_order(
    deps: &Deps,
    actor: &Actor,
    request: CreateOrderRequest,
    ctx: WebhookContext,
    delivery: String,
) -> Result<Placement, Error> {
    let cmd = PlaceOrder {
        request,
        fingerprint: format!("delivery:{delivery}"),
        idempotency_key: Some(format!("delivery:{delivery}")),
    };
    place(deps, actor, cmd, Some(ctx)).await
}

async fn place(
    deps: &Deps,
    actor: &Actor,
    cmd: PlaceOrder,
    webhook: Option<WebhookContext>,
) -> Result<Placement, Error> {
    actor.require(Permission::OrdersCreate)?;
    let now = deps.clock.now();
    let idempotency = cmd.idempotency_key.map(|key| IdempotencyKey {
        principal: actor.user_id.clone(),
        key,
    });
    let prepared = async {
        let parsed = parse(actor, cmd.request, now, webhook.is_some())?;
        // A webhook's prices come only from an integration that may set them (checked when
        // its delivery was read); everyone else needs the permission.
        if webhook.is_none()
            && (parsed.wants_price_override
                || !parsed.order_discount.is_zero()
                || parsed.charges.iter().any(OrderCharge::subtracts))
        {
            actor.require(Permission::OrdersPriceOverride)?;
        }
        let keys = PlacementKeys {
            company: actor.company_id.clone(),
            at: now,
            products: Vec::new(),
            customer: parsed.customer_id,
            idempotency: idempotency.clone(),
            origin: parsed.origin.clone(),
        };
        let (product_ids, snapshot) = snapshot_for(deps, actor, &parsed.items, keys).await?;
        Ok::<_, Error>((parsed, product_ids, snapshot))
    };
    // A retry is answered with the first response, whatever changed since: the snapshot
    // holds the key's record; and when the request fails before it (a due date now past, a
    // product since removed), the record is looked up before the error is answered.
    let (parsed, product_ids, snapshot) = match prepared.await {
        Ok(prepared) => prepared,
        Err(e) => {
            if let Some(key) = &idempotency {
                if let Some(rec) = deps.store.get_idempotency(&actor.company_id, key, now).await? {
                    return replay(&rec, &cmd.fingerprint);
                }
            }
            return Err(e);
        }
    };
    if let Some(rec) = &snapshot.idempotency {
        return replay(rec, &cmd.fingerprint);
    }
    if let Some(existing) = snapshot.origin_order {
        return existing_order(deps, actor, existing).await;
    }
    let explicit_number = parsed.order_number.is_some();
    let origin = parsed.origin.clone();
    let mut order = build_order(deps, actor, parsed, &snapshot, &product_ids, now)?;
    if let Some(w) = &webhook {
        order.alerts = w.alerts.clone();
        if !w.paid {
            order.financial_status = FinancialStatus::Pending;
        }
    }
    let hold = webhook.is_some();
    let plan = placement_plan(
        deps,
        actor,
        order,
        &snapshot,
        idempotency,
        origin,
        &cmd.fingerprint,
        now,
        hold,
    )?;
    commit_placement(deps, actor, plan, explicit_number, &cmd.fingerprint, hold).await
}

/// Checks every field of the request (all errors at once) and decides the channel.
fn parse(actor: &Actor, req: CreateOrderRequest, now: DateTime<Utc>, webhook: bool) -> Result<ParsedOrder, Error> {
    let mut errors = FieldErrors::default();
    let (channel, customer_id) = match webhook {
        true => (Channel::Webhook, req.customer_id),
        false => channel_of(actor, &req, &mut errors),
    };
    super::channel_fields::refuse_unsettable(channel, &req, &mut errors);
    let status = initial_status(channel, req.status.as_deref(), &mut errors);
    let order_number = req
        .order_number
        .as_deref()
        .and_then(|n| errors.take("order_number", OrderNumber::parse(n)));
    let origin = origin_of(actor, req.origin_order_id.as_deref(), &mut errors);
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
    let order_date = req.order_date.unwrap_or_else(|| now.date_naive());
    if req.due_date.is_some_and(|d| d < order_date) {
        errors.push("due_date", "due_date must not be before order_date");
    }
    if channel == Channel::Storefront && req.due_date.is_some_and(|d| d < now.date_naive()) {
        errors.push("due_date", "a requested due_date must be today or later");
    }
    let notes = text(&mut errors, "notes", req.notes, MAX_NOTES);
    let tags = parse_tags(&mut errors, req.tags.unwrap_or_default());
    let quote_id = text(&mut errors, "quote_id", req.quote_id, 64);
    let opportunity_id = text(&mut errors, "opportunity_id", req.opportunity_id, 64);
    // A webhook order without items is held (`noOrderItems`), not refused.
    let (items, wants_price_override) = parse_items(&mut errors, req.items, webhook);
    let shipping = amount_input(&mut errors, "shipping_amount", req.shipping_amount);
    let order_discount = amount_input(&mut errors, "discount_amount", req.discount_amount);
    let charges = parse_charges(&mut errors, "charges", req.charges.unwrap_or_default());
    let currency = req
        .currency
        .as_deref()
        .and_then(|c| errors.take("currency", Currency::parse(c)));
    errors.finish()?;
    Ok(ParsedOrder {
        channel,
        customer_id,
        status,
        order_number,
        origin,
        source: req.source,
        priority: req.priority,
        order_date,
        due_date: req.due_date,
        currency,
        billing_address: req.billing_address,
        shipping_info: req.shipping_info,
        payment_terms: req.payment_terms,
        sales_rep_id,
        notes,
        tags,
        custom_fields: req.custom_fields.unwrap_or_default(),
        quote_id,
        opportunity_id,
        shipping,
        order_discount,
        charges,
        items,
        wants_price_override,
    })
}

/// Who the order is for decides the channel, and with it every stock, cap and e-mail rule.
fn channel_of(actor: &Actor, req: &CreateOrderRequest, errors: &mut FieldErrors) -> (Channel, Option<CustomerId>) {
    match actor.role {
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
    }
}

fn initial_status(channel: Channel, asked: Option<&str>, errors: &mut FieldErrors) -> OrderStatus {
    match asked {
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
    }
}

fn origin_of(actor: &Actor, origin: Option<&str>, errors: &mut FieldErrors) -> Option<OriginKey> {
    match origin.map(str::trim) {
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
    }
}

/// The order as placed: lines priced from the snapshot, totals, and the status the
/// company's approval rule gives it.
fn build_order(
    deps: &Deps,
    actor: &Actor,
    p: ParsedOrder,
    snapshot: &PlacementSnapshot,
    product_ids: &[ProductId],
    now: DateTime<Utc>,
) -> Result<Order, Error> {
    let customer = match p.customer_id {
        Some(id) => Some(
            snapshot
                .customer
                .clone()
                .ok_or_else(|| Error::not_found("customer", id))?,
        ),
        None => None,
    };
    let currency = p.currency.unwrap_or(snapshot.settings.default_currency);
    let mut lines = build_lines(snapshot, &p.items, product_ids, currency)?;
    // A storefront order's tax and shipping are the company's, never the buyer's.
    let shipping = match p.channel {
        Channel::Storefront => price_storefront(&mut lines, &snapshot.settings.storefront, currency)?,
        _ => p.shipping,
    };
    let mut charges = legacy_charges_in(shipping, p.order_discount, currency)?;
    charges.extend(p.charges);
    let totals = totals_of(&lines, &charges, currency)?;
    let mut order = Order {
        id: OrderId::new(deps.ids.uuid()),
        company_id: actor.company_id.clone(),
        order_number: p.order_number.unwrap_or_else(|| deps.ids.order_number()),
        kind: OrderKind::Sale,
        parent_id: None,
        children: Vec::new(),
        payments: Vec::new(),
        paid_amount: Amount::ZERO,
        is_paid: false,
        restocked: false,
        origin_order_id: p.origin.as_ref().map(|o| o.origin_order_id.clone()),
        integration_id: p.origin.as_ref().map(|o| o.integration_id.clone()),
        channel: p.channel,
        source: p.source.unwrap_or(match p.channel {
            Channel::Storefront => Source::OnlineStore,
            Channel::Dashboard => Source::Manual,
            Channel::Api | Channel::Webhook => Source::Api,
        }),
        status: p.status,
        customer_id: p.customer_id,
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
        sales_rep_id: p.sales_rep_id,
        order_date: p.order_date,
        due_date: p.due_date,
        priority: p.priority.unwrap_or(Priority::Normal),
        currency,
        billing_address: p
            .billing_address
            .or_else(|| customer.as_ref().and_then(|c| c.billing_address.clone())),
        shipping_info: p.shipping_info,
        payment_terms: p.payment_terms,
        financial_status: if actor.role == Role::Integration {
            FinancialStatus::Paid
        } else {
            FinancialStatus::Pending
        },
        fulfillment_method: FulfillmentMethod::of(&lines),
        alerts: Vec::new(),
        notes: p.notes,
        tags: p.tags,
        custom_fields: p.custom_fields,
        quote_id: p.quote_id,
        opportunity_id: p.opportunity_id,
        items: lines,
        charges: totals.charges,
        subtotal_amount: totals.subtotal_amount,
        tax_amount: totals.tax_amount,
        shipping_amount: totals.shipping_amount,
        discount_amount: totals.discount_amount,
        total_amount: totals.total_amount,
        stock_decremented: false,
        stock_reserved: false,
        cap_month: None,
        confirmed_at: None,
        shipped_at: None,
        delivered_at: None,
        cancelled_at: None,
        cancellation_reason: None,
        held_from: None,
        created_at: now,
        updated_at: now,
        version: 1,
        hv_generation: snapshot.settings.high_value_generation,
    };
    order.status = plan::approval_status(order.status, &order, &snapshot.settings);
    order.check_fits()?;
    Ok(order)
}

/// Everything placing `order` writes: its stock moves (checked against the snapshot so a
/// short order is refused before any write), the cap and high-value counters, the claims,
/// the audit entry and the event.
#[allow(clippy::too_many_arguments)]
fn placement_plan(
    deps: &Deps,
    actor: &Actor,
    mut order: Order,
    snapshot: &PlacementSnapshot,
    idempotency: Option<IdempotencyKey>,
    origin: Option<OriginKey>,
    fingerprint: &str,
    now: DateTime<Utc>,
    hold_when_short: bool,
) -> Result<EffectPlan, Error> {
    let settings = &snapshot.settings;
    let placed = order.status != OrderStatus::Draft;
    // The units asked for must be available whatever the policy; `at_placement` takes
    // them now, `reserve_on_confirm` when the order is confirmed.
    let mut stock = match placed {
        true => plan::wanted_at_placement(&order, settings),
        false => Vec::new(),
    };
    match check_stock(snapshot, &stock) {
        Ok(()) => {}
        // A webhook order is held, not lost: placed without taking stock, with an alert;
        // confirming it later takes the stock.
        Err(Error::InsufficientStock(_)) if hold_when_short => {
            stock.clear();
            order.alerts.push(INSUFFICIENT_STOCK.to_owned());
        }
        Err(e) => return Err(e),
    }
    if settings.stock_policy != StockPolicy::AtPlacement {
        stock.clear();
    }
    let decremented: Vec<ProductId> = stock.iter().map(StockMove::product_id).collect();
    let stock = StockMove::on_shards(stock, &snapshot.products, order.id.as_uuid().as_u64_pair().0);
    let cap = plan::cap_increment(&order, settings, now);
    order.stock_decremented = !stock.is_empty();
    order.cap_month = cap.as_ref().map(|c| c.month.clone());
    let mut claims = vec![Claim::OrderNumber(order.order_number.clone())];
    claims.extend(origin.map(Claim::Origin));
    claims.extend(idempotency.map(|k| {
        Claim::Idempotency(
            k,
            Box::new(IdempotencyRecord {
                request_hash: fingerprint.to_owned(),
                order: order.clone(),
                created_at: now,
            }),
        )
    }));
    let plan = EffectPlan {
        company: order.company_id.clone(),
        stock,
        cap,
        high_value: HighValueDelta::between(None, &order, HighValueCounting::of(settings)),
        claims,
        audit: placed_audit(deps, actor, &order, now),
        event: placed_event(deps, &order, decremented, now),
        order: OrderWrite::Create(Box::new(order)),
        at: now,
        parent: None,
    };
    plan.check()?;
    Ok(plan)
}

/// Commits the placement; a generated order number that collided is drawn again. Failed
/// claims are answered as what they mean: a retried request gets the first response, a
/// resent origin id the existing order.
async fn commit_placement(
    deps: &Deps,
    actor: &Actor,
    mut plan: EffectPlan,
    explicit_number: bool,
    fingerprint: &str,
    hold_when_short: bool,
) -> Result<Placement, Error> {
    for attempt in 1..=ORDER_NUMBER_ATTEMPTS {
        let rejection = match deps.store.commit(&plan).await {
            Ok(order) => {
                tracing::info!(order_id = %order.id, order_number = %order.order_number, channel = %order.channel,
                    total = %order.total_amount, "order placed");
                return Ok(Placement::Created(order));
            }
            Err(CommitError::Failed(e)) => return Err(e),
            Err(CommitError::Rejected(r)) => r,
        };
        match rejection {
            CommitRejection::IdempotencyKeyTaken => {
                let Some(Claim::Idempotency(key, _)) = plan.claims.iter().find(|c| matches!(c, Claim::Idempotency(..)))
                else {
                    return Err(Error::internal("idempotency conflict without a key"));
                };
                return match deps.store.get_idempotency(&actor.company_id, key, plan.at).await? {
                    Some(rec) => replay(&rec, fingerprint),
                    None => Err(Error::Contention),
                };
            }
            CommitRejection::OriginTaken => {
                let Some(Claim::Origin(o)) = plan.claims.iter().find(|c| matches!(c, Claim::Origin(_))) else {
                    return Err(Error::internal("origin conflict without an origin"));
                };
                let id = deps
                    .store
                    .origin_order(&actor.company_id, o)
                    .await?
                    .ok_or(Error::Contention)?;
                return existing_order(deps, actor, id).await;
            }
            CommitRejection::OrderNumberTaken(n) if explicit_number => {
                return Err(Error::Conflict {
                    code: "duplicate_order_number",
                    message: format!("order number {n} is already used by another order"),
                });
            }
            CommitRejection::OrderNumberTaken(_) => {
                tracing::warn!(attempt, "generated order number collided; drawing another");
                renumber(&mut plan, deps.ids.order_number());
            }
            // The stock went between the read and the write: a webhook order is held.
            CommitRejection::InsufficientStock(_) if hold_when_short => hold_without_stock(&mut plan),
            other => return Err(placement_rejection(plan.order(), other)),
        }
    }
    Err(Error::Contention)
}

/// The same placement, held: no stock moved, the `insufficientStock` alert on the order.
fn hold_without_stock(plan: &mut EffectPlan) {
    plan.stock.clear();
    if let OrderWrite::Create(o) = &mut plan.order {
        o.stock_decremented = false;
        if !o.alerts.iter().any(|a| a == INSUFFICIENT_STOCK) {
            o.alerts.push(INSUFFICIENT_STOCK.to_owned());
        }
        let held = (**o).clone();
        for c in &mut plan.claims {
            if let Claim::Idempotency(_, rec) = c {
                rec.order = held.clone();
            }
        }
    }
    if let DomainEvent::OrderPlaced(e) = &mut plan.event.event {
        e.decremented_products.clear();
    }
}

/// The same placement under another generated number.
fn renumber(plan: &mut EffectPlan, number: OrderNumber) {
    if let OrderWrite::Create(o) = &mut plan.order {
        o.order_number = number.clone();
    }
    for c in &mut plan.claims {
        match c {
            Claim::OrderNumber(n) => *n = number.clone(),
            Claim::Idempotency(_, rec) => rec.order.order_number = number.clone(),
            Claim::Origin(_) => {}
        }
    }
    if let DomainEvent::OrderPlaced(e) = &mut plan.event.event {
        e.order_number = number.clone();
    }
    plan.audit.summary["order_number"] = json!(number);
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

/// The placement event, naming the products whose stock it took.
fn placed_event(deps: &Deps, order: &Order, decremented: Vec<ProductId>, now: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent {
        id: EventId::new(deps.ids.uuid()),
        company_id: order.company_id.clone(),
        subject: order.id.to_string(),
        occurred_at: now,
        event: DomainEvent::OrderPlaced(OrderPlaced {
            order_id: order.id,
            order_number: order.order_number.clone(),
            channel: order.channel,
            status: order.status,
            customer_id: order.customer_id,
            total_amount: order.total_amount,
            currency: order.currency,
            cap_month: order.cap_month.clone(),
            decremented_products: decremented,
        }),
    }
}
