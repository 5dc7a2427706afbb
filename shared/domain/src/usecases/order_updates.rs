//! Partial updates of a placed order (SPEC §5.5, and the charges of §10): which fields
//! each status lets change, a draft's repricing, and the one conditional write with its
//! audit entry and outbox event.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::lifecycle::{change_plan, check_if_match, commit_change, retry_raced};
use super::lines::{build_lines, parse_items, parse_tags, rename, snapshot_for, totals_of};
use super::place_order::{CreateOrderItem, MAX_NOTES};
use super::{amount_input, text, DecimalInput};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::catalog::Address;
use crate::error::{Error, FieldErrors};
use crate::ids::{EventId, OrderId, UserId};
use crate::order::charges::{parse_charges, replace_kind};
use crate::order::query::HighValueCounting;
use crate::order::{ChargeInput, ChargeKind, OrderCharge};
use crate::order::{FulfillmentMethod, Order, OrderStatus, PaymentTerms, Priority, ShippingInfo};
use crate::outbox::{DomainEvent, OrderUpdated};
use crate::ports::{Deps, PlacementKeys};
use crate::usecases::orders::get_order;

/// A partial update; absent fields stay as they are. Which fields may change depends on
/// the status (SPEC §5.5).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrderRequest {
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub priority: Option<Priority>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub due_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub shipping_info: Option<ShippingInfo>,
    /// Up to 2,000 characters; `""` clears.
    #[schema(max_length = 2000, nullable = false)]
    #[serde(default, deserialize_with = "super::present")]
    pub notes: Option<String>,
    /// At most 50, each 1-64 characters.
    #[schema(max_items = 50, nullable = false)]
    #[serde(default, deserialize_with = "super::present")]
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>, nullable = false)]
    #[serde(default, deserialize_with = "super::present")]
    pub custom_fields: Option<Map<String, Value>>,
    /// Draft only.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub order_date: Option<NaiveDate>,
    /// Draft only.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub billing_address: Option<Address>,
    /// Draft only.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub payment_terms: Option<PaymentTerms>,
    /// Draft only.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub sales_rep_id: Option<String>,
    /// Draft only.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub quote_id: Option<String>,
    /// Draft only.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub opportunity_id: Option<String>,
    /// Draft only: replaces every line, priced as at placement (explicit prices and
    /// discounts need `orders:price_override`). 1-250 lines.
    #[schema(min_items = 1, max_items = 250, nullable = false)]
    #[serde(default, deserialize_with = "super::present")]
    pub items: Option<Vec<CreateOrderItem>>,
    /// Draft only.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub shipping_amount: Option<DecimalInput>,
    /// Draft only: the order-level discount (needs `orders:price_override`).
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub discount_amount: Option<DecimalInput>,
    /// Draft or pending only: every order-level charge, replacing the ones it had (`[]`
    /// removes them all; a charge that subtracts needs `orders:price_override`). Not with
    /// `shipping_amount` or `discount_amount`, which replace only the order's shipping or
    /// discount charges.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false, max_items = 20)]
    pub charges: Option<Vec<ChargeInput>>,
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
            discount_amount,
            charges
        );
        f
    }
}

/// Whether an order in status `s` lets `field` change; a draft allows everything.
fn may_change(s: OrderStatus, field: &str) -> bool {
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
        Draft => true,
        // SPEC §10: charges change only while the order is a draft or pending.
        Pending => OPEN.contains(&field) || field == "charges",
        PendingApproval | Confirmed | OnHold => OPEN.contains(&field),
        Processing | Shipped | Delivered => LATE.contains(&field),
        Completed | Cancelled => false,
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
    let mut refused = FieldErrors::default();
    for f in fields.iter().filter(|f| !may_change(before.status, f)) {
        refused.push(*f, format!("{f} cannot change while the order is {}", before.status));
    }
    refused.finish()?;

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
        req.charges,
    )
    .await?;
    // A pending order whose discounts now pass the company's approval threshold waits for
    // approval, as it would have at placement (in this same write).
    let settings = deps.store.get_settings(&actor.company_id).await?;
    if before.status == OrderStatus::Pending && after.discount_amount > before.discount_amount {
        after.status = crate::plan::approval_status(after.status, &after, &settings);
    }

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
    let event = DomainEvent::OrderUpdated(OrderUpdated {
        order_id: id,
        order_number: before.order_number.clone(),
        customer_id: before.customer_id,
        status: before.status,
        fields: changed,
    });
    let counting = HighValueCounting::of(&settings);
    let plan = change_plan(
        deps,
        before,
        after,
        if_match,
        Vec::new(),
        None,
        counting,
        audit,
        event,
        now,
    )?;
    commit_change(deps, &plan, if_match).await
}

/// A draft's lines, shipping or order discount changed, or a draft's or pending order's
/// charges: price the lines as placement does (current catalog or the customer's price)
/// and recompute the charges' amounts and the totals.
#[allow(clippy::too_many_arguments)]
async fn reprice_draft(
    deps: &Deps,
    actor: &Actor,
    before: &Order,
    after: &mut Order,
    items: Option<Vec<CreateOrderItem>>,
    shipping: Option<DecimalInput>,
    discount: Option<DecimalInput>,
    charges: Option<Vec<ChargeInput>>,
) -> Result<(), Error> {
    if items.is_none() && shipping.is_none() && discount.is_none() && charges.is_none() {
        return Ok(());
    }
    let mut errors = FieldErrors::default();
    if charges.is_some() && (shipping.is_some() || discount.is_some()) {
        errors.push(
            "charges",
            "give charges, or shipping_amount / discount_amount, not both: charges replaces every charge",
        );
    }
    let mut new_charges = before.charges_or_legacy();
    let shipping = shipping.map(|s| amount_input(&mut errors, "shipping_amount", Some(s)));
    let discount = discount.map(|d| amount_input(&mut errors, "discount_amount", Some(d)));
    let asked = charges.map(|c| parse_charges(&mut errors, "charges", c));
    let parsed = items.map(|i| parse_items(&mut errors, i, false));
    errors.finish()?;
    let more_off = match &asked {
        Some(a) => takes_more_off(&new_charges, a),
        None => discount.is_some_and(|d| !d.is_zero()),
    };
    if more_off || parsed.as_ref().is_some_and(|(_, wants)| *wants) {
        actor.require(Permission::OrdersPriceOverride)?;
    }
    // A draft's old fields replace just their kind's charges, in place.
    for (kind, amount) in [(ChargeKind::Shipping, shipping), (ChargeKind::Discount, discount)] {
        if let Some(a) = amount {
            let field = if kind == ChargeKind::Shipping {
                "shipping_amount"
            } else {
                "discount_amount"
            };
            let a = crate::money::Amount::parse_in(a, before.currency).map_err(|e| rename(e, field))?;
            new_charges = replace_kind(&new_charges, kind, a.value());
        }
    }
    if let Some(a) = asked {
        new_charges = a;
    }
    if let Some((parsed, _)) = parsed {
        let keys = PlacementKeys {
            company: actor.company_id.clone(),
            at: deps.clock.now(),
            products: Vec::new(),
            customer: before.customer_id,
            idempotency: None,
            origin: None,
        };
        let (ids, snapshot) = snapshot_for(deps, actor, &parsed, keys).await?;
        after.items = build_lines(&snapshot, &parsed, &ids, before.currency)?;
        after.fulfillment_method = FulfillmentMethod::of(&after.items);
    }
    let t = totals_of(&after.items, &new_charges, before.currency)?;
    after.charges = t.charges;
    after.subtotal_amount = t.subtotal_amount;
    after.tax_amount = t.tax_amount;
    after.shipping_amount = t.shipping_amount;
    after.discount_amount = t.discount_amount;
    after.total_amount = t.total_amount;
    Ok(())
}

/// Whether `asked` takes more off than `had`: a subtracting charge whose terms (type,
/// direction, percentage and basis, or fixed amount) no charge had. A percentage's amount
/// is not resolved yet, so it is its terms that compare; a name is not a term. Only that
/// needs `orders:price_override`: a clerk without it may still remove a discount, resend
/// the list it read, or add shipping to a discounted order.
fn takes_more_off(had: &[OrderCharge], asked: &[OrderCharge]) -> bool {
    let terms = |c: &OrderCharge| {
        (
            c.kind,
            c.direction,
            c.percentage,
            c.basis,
            c.percentage.is_none().then_some(c.amount),
        )
    };
    let had: Vec<_> = had.iter().filter(|c| c.subtracts()).map(terms).collect();
    asked.iter().filter(|c| c.subtracts()).any(|c| !had.contains(&terms(c)))
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
