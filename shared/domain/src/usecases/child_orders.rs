//! Child orders (SPEC §10; the rules in [`crate::order::children`]): creating a return or
//! an invoice from a sale's lines, and recording an invoice's payments. Each is one
//! transaction writing the child and its parent (conditional on the parent's version, so
//! two children can never take the same line, and a rollback can never slip past a
//! payment), with the stock a return puts back, the audit entry and the outbox event.
//! Status changes of a child go through [`super::lifecycle::change_status`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::lifecycle::{commit_change, parent_with, retry_raced, RACED};
use super::text;
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::error::{Error, FieldErrors};
use crate::ids::{EventId, OrderId};
use crate::money::{checked_difference, checked_sum, Amount, MAX_AMOUNT};
use crate::order::children::{lines_in_use, share, MAX_CHILDREN, MAX_PAYMENTS};
use crate::order::{ChildRef, FinancialStatus, Order, OrderKind, OrderLine, OrderStatus, Payment, PaymentKind, Source};
use crate::outbox::{ChildOrderCreated, DomainEvent, OrderUpdated, OutboxEvent};
use crate::plan::{Claim, EffectPlan, OrderWrite, ParentWrite, StockMove, StockStep};
use crate::ports::{CommitError, CommitRejection, Deps};
use crate::usecases::orders::get_order;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChildRequest {
    /// `return` (from a delivered or completed sale) or `invoice` (from any placed sale).
    #[schema(value_type = ChildKind)]
    pub kind: String,
    /// The parent's lines and how many of each. Without it the child takes every line no
    /// other live child of its kind holds, whole (the whole order, the first time).
    #[serde(default, deserialize_with = "super::present")]
    #[schema(min_items = 1, max_items = 250, nullable = false)]
    pub lines: Option<Vec<ChildLineInput>>,
    /// A return only: put the returned units back into stock in the same transaction
    /// (needs `stock:adjust`).
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub restock: Option<bool>,
    /// Up to 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

/// The kinds of child order (the schema of `kind`; read as text, for the error message).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ChildKind {
    Return,
    Invoice,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildLineInput {
    /// The parent line's `line_no`.
    #[schema(minimum = 1, maximum = 250)]
    #[serde(deserialize_with = "crate::whole::de")]
    pub line_no: i64,
    /// 1 to the parent line's quantity.
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(deserialize_with = "crate::whole::de")]
    pub quantity: i64,
}

pub async fn create_child(
    deps: &Deps,
    actor: &Actor,
    parent_id: OrderId,
    req: CreateChildRequest,
) -> Result<Order, Error> {
    actor.require(Permission::OrdersStatus)?;
    if req.restock == Some(true) {
        actor.require(Permission::StockAdjust)?;
    }
    retry_raced(|| create_child_once(deps, actor, parent_id, req.clone())).await
}

async fn create_child_once(
    deps: &Deps,
    actor: &Actor,
    parent_id: OrderId,
    req: CreateChildRequest,
) -> Result<Order, Error> {
    let parent = get_order(deps, actor, parent_id).await?;
    let kind = parse_kind(&req)?;
    check_parent(&parent, kind)?;
    let taken = lines_in_use(&parent, kind);
    let picked = pick_lines(&parent, kind, req.lines.as_deref(), &taken)?;
    let mut errors = FieldErrors::default();
    let notes = text(&mut errors, "notes", req.notes.clone(), 2_000);
    errors.finish()?;
    let now = deps.clock.now();
    let mut child = child_of(deps, actor, &parent, kind, picked, notes, now)?;
    child.restocked = kind == OrderKind::Return && req.restock == Some(true);
    let plan = child_plan(deps, actor, parent, child, now)?;
    let order = commit_child(deps, plan).await?;
    tracing::info!(order_id = %order.id, kind = %kind, parent_id = %parent_id, "child order created");
    Ok(order)
}

/// Everything making `child` writes: the child with its number claim, the parent listing
/// it (on the parent's version), a restocking return's units, the audit entry, the event.
fn child_plan(
    deps: &Deps,
    actor: &Actor,
    parent: Order,
    child: Order,
    now: DateTime<Utc>,
) -> Result<EffectPlan, Error> {
    let stock: Vec<StockMove> = match child.restocked {
        true => StockStep::Restock.moves(&child),
        false => Vec::new(),
    };
    let mut parent_after = parent.clone();
    parent_after.children.push(ChildRef {
        id: child.id,
        order_number: child.order_number.clone(),
        kind: child.kind,
        status: child.status,
        lines: child.items.iter().filter_map(|l| l.parent_line_no).collect(),
    });
    parent_after.version = parent.version + 1;
    parent_after.updated_at = now;
    let lines: Vec<_> = child
        .items
        .iter()
        .map(|l| json!({"parent_line_no": l.parent_line_no, "quantity": l.quantity}))
        .collect();
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::ChildOrderCreated,
        EntityKind::Order,
        child.id,
        None,
        None,
        json!({
            "order_number": child.order_number,
            "kind": child.kind,
            "parent_id": parent.id,
            "parent_order_number": parent.order_number,
            "lines": lines,
            "total_amount": child.total_amount,
            "restocked": child.restocked,
        }),
    );
    let event = OutboxEvent {
        id: EventId::new(deps.ids.uuid()),
        company_id: actor.company_id.clone(),
        subject: child.id.to_string(),
        occurred_at: now,
        event: DomainEvent::ChildOrderCreated(ChildOrderCreated {
            order_id: child.id,
            parent_id: parent.id,
            child_kind: child.kind,
            restocked_products: stock.iter().map(StockMove::product_id).collect(),
        }),
    };
    EffectPlan {
        company: actor.company_id.clone(),
        claims: vec![Claim::OrderNumber(child.order_number.clone())],
        order: OrderWrite::Create(Box::new(child)),
        stock,
        cap: None,
        high_value: None,
        audit,
        event,
        at: now,
        parent: None,
    }
    .with_parent(Some(ParentWrite {
        before: Box::new(parent),
        after: Box::new(parent_after),
    }))
}

/// Commits a child's plan: a generated number that collided is drawn again; a parent that
/// moved is a redo from fresh reads ([`retry_raced`]).
async fn commit_child(deps: &Deps, mut plan: EffectPlan) -> Result<Order, Error> {
    for _ in 0..3 {
        let rejection = match deps.store.commit(&plan).await {
            Ok(order) => return Ok(order),
            Err(CommitError::Failed(e)) => return Err(e),
            Err(CommitError::Rejected(r)) => r,
        };
        match rejection {
            CommitRejection::ParentMoved => {
                return Err(Error::Conflict {
                    code: RACED,
                    message: "the parent order changed meanwhile; redoing".into(),
                })
            }
            CommitRejection::OrderNumberTaken(_) => {
                let number = deps.ids.order_number();
                if let OrderWrite::Create(o) = &mut plan.order {
                    o.order_number = number.clone();
                }
                if let Some(c) = plan.parent.as_mut().and_then(|p| p.after.children.last_mut()) {
                    c.order_number = number.clone();
                }
                plan.claims = vec![Claim::OrderNumber(number)];
            }
            CommitRejection::ProductUnavailable(id) => {
                return Err(Error::invalid("restock", format!("product {id} no longer exists")))
            }
            other => return Err(Error::internal(format!("a child order was refused: {other:?}"))),
        }
    }
    Err(Error::Contention)
}

fn parse_kind(req: &CreateChildRequest) -> Result<OrderKind, Error> {
    let kind = match OrderKind::parse(&req.kind) {
        Some(k @ (OrderKind::Return | OrderKind::Invoice)) => k,
        _ => {
            return Err(Error::invalid(
                "kind",
                format!(
                    "`{}` is not a child order kind; use return or invoice",
                    req.kind.chars().take(40).collect::<String>()
                ),
            ))
        }
    };
    if kind == OrderKind::Invoice && req.restock == Some(true) {
        return Err(Error::invalid("restock", "restock applies to returns only"));
    }
    Ok(kind)
}

/// A return comes from a delivered or completed sale; an invoice from any placed one.
fn check_parent(parent: &Order, kind: OrderKind) -> Result<(), Error> {
    let refuse = |why: String| Error::Conflict {
        code: "child_not_allowed",
        message: why,
    };
    if parent.kind != OrderKind::Sale {
        return Err(refuse(format!(
            "order {} is itself a {}: child orders come from sales",
            parent.order_number, parent.kind
        )));
    }
    let ok = match kind {
        OrderKind::Return => matches!(parent.status, OrderStatus::Delivered | OrderStatus::Completed),
        _ => !matches!(parent.status, OrderStatus::Draft | OrderStatus::Cancelled),
    };
    if !ok {
        return Err(refuse(format!(
            "order {} is {}: a {kind} comes from {}",
            parent.order_number,
            parent.status,
            match kind {
                OrderKind::Return => "a delivered or completed order",
                _ => "a placed order that is not cancelled",
            }
        )));
    }
    if parent.children.len() >= MAX_CHILDREN {
        return Err(refuse(format!(
            "order {} has {MAX_CHILDREN} child orders already",
            parent.order_number
        )));
    }
    Ok(())
}

/// The parent lines a child takes, with their quantities: those named (each once, at
/// most the line's quantity, not held by another live child of the kind), or without
/// `lines` every line no live child of the kind holds.
fn pick_lines(
    parent: &Order,
    kind: OrderKind,
    named: Option<&[ChildLineInput]>,
    taken: &BTreeSet<u32>,
) -> Result<Vec<(OrderLine, u32)>, Error> {
    let Some(named) = named else {
        let free: Vec<(OrderLine, u32)> = parent
            .items
            .iter()
            .filter(|l| !taken.contains(&l.line_no))
            .map(|l| (l.clone(), l.quantity))
            .collect();
        if free.is_empty() {
            return Err(Error::Conflict {
                code: "lines_in_use",
                message: format!("every line of order {} is on a {kind} already", parent.order_number),
            });
        }
        return Ok(free);
    };
    let mut errors = FieldErrors::default();
    if named.is_empty() {
        errors.push("lines", "name at least one line");
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, l) in named.iter().enumerate() {
        let field = |f: &str| format!("lines[{i}].{f}");
        let line = u32::try_from(l.line_no)
            .ok()
            .and_then(|n| parent.items.iter().find(|x| x.line_no == n));
        let Some(line) = line else {
            errors.push(
                field("line_no"),
                format!("order {} has no line {}", parent.order_number, l.line_no),
            );
            continue;
        };
        if !seen.insert(line.line_no) {
            errors.push(field("line_no"), format!("line {} is named twice", line.line_no));
            continue;
        }
        if taken.contains(&line.line_no) {
            errors.push(
                field("line_no"),
                format!("line {} is on another {kind} already", line.line_no),
            );
            continue;
        }
        match u32::try_from(l.quantity) {
            Ok(q) if (1..=line.quantity).contains(&q) => out.push((line.clone(), q)),
            _ => errors.push(
                field("quantity"),
                format!("1 to {} (the line's quantity)", line.quantity),
            ),
        }
    }
    errors.finish()?;
    Ok(out)
}

/// The child order: the parent's customer, addresses, terms and currency; its lines the
/// picked ones (tax and discount in proportion to the quantity); pending.
fn child_of(
    deps: &Deps,
    actor: &Actor,
    parent: &Order,
    kind: OrderKind,
    picked: Vec<(OrderLine, u32)>,
    notes: Option<String>,
    now: DateTime<Utc>,
) -> Result<Order, Error> {
    let currency = parent.currency;
    let items: Vec<OrderLine> = picked
        .into_iter()
        .enumerate()
        .map(|(i, (l, q))| {
            let mut line = l.clone();
            line.line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            line.parent_line_no = Some(l.line_no);
            line.quantity = q;
            line.tax_amount = share(l.tax_amount, q, l.quantity, currency);
            line.discount_amount = share(l.discount_amount, q, l.quantity, currency);
            line
        })
        .collect();
    let amounts: Vec<crate::order::LineAmounts> = items.iter().map(crate::order::LineAmounts::of).collect();
    let totals = crate::order::compute_totals(&amounts, &[], currency)?;
    let mut items = items;
    for (line, a) in items.iter_mut().zip(&amounts) {
        line.line_total = Amount::from_decimal(a.line_total("items")?).in_currency(currency);
    }
    let mut child = parent.clone();
    child.id = OrderId::new(deps.ids.uuid());
    child.order_number = deps.ids.order_number();
    child.kind = kind;
    child.parent_id = Some(parent.id);
    child.children = Vec::new();
    child.payments = Vec::new();
    child.paid_amount = Amount::ZERO;
    child.is_paid = false;
    child.restocked = false;
    child.origin_order_id = None;
    child.integration_id = None;
    child.channel = crate::order::Channel::Dashboard;
    child.source = Source::Manual;
    child.status = OrderStatus::Pending;
    child.placed_by = crate::order::PlacedBy {
        user_id: actor.user_id.clone(),
        role: actor.role,
    };
    child.order_date = now.date_naive();
    child.due_date = None;
    child.financial_status = FinancialStatus::Pending;
    child.alerts = Vec::new();
    child.notes = notes;
    child.tags = Vec::new();
    child.custom_fields = Default::default();
    child.items = items;
    child.charges = Vec::new();
    child.subtotal_amount = totals.subtotal_amount;
    child.tax_amount = totals.tax_amount;
    child.shipping_amount = totals.shipping_amount;
    child.discount_amount = totals.discount_amount;
    child.total_amount = totals.total_amount;
    child.stock_decremented = false;
    child.stock_reserved = false;
    child.cap_month = None;
    child.confirmed_at = None;
    child.shipped_at = None;
    child.delivered_at = None;
    child.cancelled_at = None;
    child.cancellation_reason = None;
    child.held_from = None;
    child.created_at = now;
    child.updated_at = now;
    child.version = 1;
    child.check_fits()?;
    Ok(child)
}

/// The payment's kind, amount (more than 0, in the invoice's currency), method and
/// reference, every bad field named.
fn parse_payment(
    req: &RecordPaymentRequest,
    invoice: &Order,
) -> Result<(PaymentKind, Amount, Option<String>, Option<String>), Error> {
    let mut errors = FieldErrors::default();
    let kind = match req.kind.as_deref() {
        None => PaymentKind::Payment,
        Some(k) => PaymentKind::parse(k).unwrap_or_else(|| {
            errors.push("kind", "payment or refund");
            PaymentKind::Payment
        }),
    };
    let method = text(&mut errors, "method", req.method.clone(), 50);
    let reference = text(&mut errors, "reference", req.reference.clone(), 100);
    let currency = invoice.currency;
    let amount = match Amount::parse_in(req.amount.0, currency) {
        Ok(a) if a.value().is_zero() => {
            errors.push("amount", "more than 0");
            None
        }
        Ok(a) => Some(a),
        Err(_) => {
            let decimals = currency.minor_units();
            errors.push("amount", format!("0 to {MAX_AMOUNT}, with at most {decimals} decimals"));
            None
        }
    };
    if invoice.payments.len() >= MAX_PAYMENTS {
        errors.push(
            "amount",
            format!("an invoice records at most {MAX_PAYMENTS} payments and refunds"),
        );
    }
    errors.finish()?;
    let amount = amount.ok_or_else(|| Error::internal("validated amount missing"))?;
    Ok((kind, amount, method, reference))
}

/// The invoice with `payment` recorded: now paid `paid` in all.
fn with_payment(invoice: &Order, payment: Payment, paid: rust_decimal::Decimal, now: DateTime<Utc>) -> Order {
    let mut after = invoice.clone();
    let refund = payment.kind == PaymentKind::Refund;
    after.payments.push(payment);
    after.paid_amount = Amount::from_decimal(paid).in_currency(invoice.currency);
    after.is_paid = paid >= invoice.total_amount.value();
    after.financial_status = match (after.is_paid, paid.is_zero() && refund) {
        (true, _) => FinancialStatus::Paid,
        (false, true) => FinancialStatus::Refunded,
        (false, false) => FinancialStatus::Pending,
    };
    after.version = invoice.version + 1;
    after.updated_at = now;
    after
}

/// What the invoice has been paid after this payment or refund: a payment at most what is
/// still owed, a refund at most what was paid.
fn settle(invoice: &Order, kind: PaymentKind, amount: Amount) -> Result<rust_decimal::Decimal, Error> {
    let paid = invoice.paid_amount.value();
    let owed = checked_difference(invoice.total_amount.value(), paid, "amount")?;
    let number = &invoice.order_number;
    match kind {
        PaymentKind::Payment if amount.value() > owed => Err(Error::invalid(
            "amount",
            format!("{owed} is still owed on invoice {number}: a payment cannot be more"),
        )),
        PaymentKind::Payment => checked_sum(paid, amount.value(), "amount"),
        PaymentKind::Refund if amount.value() > paid => Err(Error::invalid(
            "amount",
            format!("{paid} was paid on invoice {number}: a refund cannot be more"),
        )),
        PaymentKind::Refund => checked_difference(paid, amount.value(), "amount"),
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPaymentRequest {
    /// `payment` (default) or `refund`.
    #[serde(default)]
    #[schema(value_type = Option<PaymentKind>)]
    pub kind: Option<String>,
    /// More than 0: a payment at most what is still owed, a refund at most what was paid.
    #[schema(schema_with = super::settings::positive_amount_schema)]
    pub amount: super::DecimalInput,
    /// Up to 50 characters (`bank_transfer`, `card`, ...).
    #[serde(default)]
    #[schema(max_length = 50)]
    pub method: Option<String>,
    /// Up to 100 characters: the bank or processor's reference.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub reference: Option<String>,
}

/// Records a payment (or refund) on an invoice: its `payments`, `paid_amount` and
/// `is_paid`, and the parent's `paid_amount`, in one transaction.
pub async fn record_payment(
    deps: &Deps,
    actor: &Actor,
    id: OrderId,
    req: RecordPaymentRequest,
) -> Result<Order, Error> {
    actor.require(Permission::PaymentsRecord)?;
    retry_raced(|| record_payment_once(deps, actor, id, req.clone())).await
}

async fn record_payment_once(
    deps: &Deps,
    actor: &Actor,
    id: OrderId,
    req: RecordPaymentRequest,
) -> Result<Order, Error> {
    let before = get_order(deps, actor, id).await?;
    if before.kind != OrderKind::Invoice || before.status == OrderStatus::Cancelled {
        return Err(Error::Conflict {
            code: "not_an_open_invoice",
            message: format!(
                "order {} is a {} {}: payments are recorded on open invoices",
                before.order_number, before.status, before.kind
            ),
        });
    }
    let (kind, amount, method, reference) = parse_payment(&req, &before)?;
    let paid = before.paid_amount.value();
    let new_paid = settle(&before, kind, amount)?;
    let now = deps.clock.now();
    let payment = Payment {
        id: deps.ids.uuid(),
        kind,
        amount,
        method,
        reference,
        recorded_at: now,
        recorded_by: actor.user_id.clone(),
    };
    let after = with_payment(&before, payment, new_paid, now);
    let parent = parent_with(deps, actor, &after, now).await?.map(|mut p| {
        let delta = new_paid - paid;
        let total = p.after.paid_amount.value() + delta;
        p.after.paid_amount =
            Amount::from_decimal(total.max(rust_decimal::Decimal::ZERO)).in_currency(p.after.currency);
        p
    });
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::PaymentRecorded,
        EntityKind::Order,
        id,
        Some(json!({"paid_amount": before.paid_amount, "is_paid": before.is_paid})),
        Some(json!({"paid_amount": after.paid_amount, "is_paid": after.is_paid})),
        json!({"order_number": before.order_number, "kind": kind, "amount": amount, "parent_id": before.parent_id}),
    );
    let event = DomainEvent::OrderUpdated(OrderUpdated {
        order_id: id,
        order_number: before.order_number.clone(),
        customer_id: before.customer_id,
        status: before.status,
        fields: vec!["payments".into(), "paid_amount".into(), "is_paid".into()],
    });
    let plan = super::lifecycle::change_plan(
        deps,
        before,
        after,
        None,
        Vec::new(),
        None,
        // Child orders are never counted as high-value (`HighValueDelta::between`).
        crate::order::query::HighValueCounting {
            threshold: rust_decimal::Decimal::MAX,
            generation: 0,
        },
        audit,
        event,
        now,
    )?
    .with_parent(parent)?;
    commit_change(deps, &plan, None).await
}
