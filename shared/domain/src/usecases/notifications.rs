//! The notification workers' use case (SPEC §8): given an order event and a worker, send
//! the e-mails it calls for, each at most once per (order, kind) thanks to a claim and a
//! conditional "sent" marker. An error means "retry this message" (SQS redelivers it, and
//! after the configured receives it lands in the dead-letter queue).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::error::Error;
use crate::ids::CompanyId;
use crate::notify::{self, Email, EmailKind};
use crate::order::{Channel, OrderStatus};
use crate::outbox::OutboxEvent;
use crate::ports::{Deps, EmailClaim, Mailer};
use crate::settings::CompanySettings;
pub use crate::usecases::batch_reads::BatchReads;

/// How long a sender holds its claim on an e-mail before another delivery may take over:
/// longer than one worker run (`function_timeout`), so a live sender is never overtaken,
/// and shorter than the queue's visibility timeout, so the redelivery that follows a
/// crashed run finds the claim expired and sends. Midway between the two.
pub fn email_lease_secs(visibility_timeout_secs: i64, function_timeout_secs: i64) -> Result<i64, Error> {
    if visibility_timeout_secs <= function_timeout_secs + 1 {
        return Err(Error::internal(format!(
            "the queue's visibility timeout ({visibility_timeout_secs} s) must exceed the worker's timeout ({function_timeout_secs} s)"
        )));
    }
    Ok((visibility_timeout_secs + function_timeout_secs) / 2)
}

/// The four workers, each its own Lambda and queue in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Worker {
    /// Receipt to the customer, alert to OWNER and ADMIN.
    Receipts,
    /// One e-mail per order listing products now at or below their threshold.
    LowStock,
    /// 80 % and 100 % of the monthly order cap, once per month each.
    CapUsage,
    /// High-value orders to FINANCE.
    Finance,
    /// Not an e-mail worker: places verified webhook deliveries.
    WebhookOrders,
    /// Not an e-mail worker: background work driven by the outbox (the stock-level index
    /// after orders, product imports, high-value recounts), each step bounded.
    Jobs,
}

impl Worker {
    pub const ALL: [Worker; 6] = [
        Worker::Receipts,
        Worker::LowStock,
        Worker::CapUsage,
        Worker::Finance,
        Worker::WebhookOrders,
        Worker::Jobs,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Worker::Receipts => "receipts",
            Worker::LowStock => "low_stock",
            Worker::CapUsage => "cap_usage",
            Worker::Finance => "finance",
            Worker::WebhookOrders => "webhook_orders",
            Worker::Jobs => "jobs",
        }
    }
}

/// What the workers are given.
#[derive(Clone)]
pub struct NotifyDeps {
    pub deps: Deps,
    pub mailer: Arc<dyn Mailer>,
    /// See [`email_lease_secs`].
    pub lease_secs: i64,
    /// The invoice renderer: the receipts worker's (it sends invoices); none elsewhere.
    pub documents: Option<Arc<dyn crate::ports::Documents>>,
}

/// Handles one event for one worker, as one of the batch `reads` belongs to; returns the
/// kinds of e-mail it sent.
pub async fn handle(
    n: &NotifyDeps,
    worker: Worker,
    event: &OutboxEvent,
    reads: &BatchReads,
) -> Result<Vec<EmailKind>, Error> {
    if worker == Worker::WebhookOrders {
        if let crate::outbox::DomainEvent::DeliveryReceived(d) = &event.event {
            crate::usecases::webhooks::process_delivery(&n.deps, &event.company_id, d).await?;
        }
        return Ok(Vec::new());
    }
    if worker == Worker::Jobs {
        crate::usecases::jobs::handle(&n.deps, event, reads).await?;
        return Ok(Vec::new());
    }
    if let crate::outbox::DomainEvent::InvoiceRequested(r) = &event.event {
        return match worker {
            Worker::Receipts => send_invoice(n, event, r, reads).await,
            _ => Ok(Vec::new()),
        };
    }
    // A confirm that took or reserved the units (not a placement) has its own low-stock
    // check: the order's one low-stock e-mail, as a placement that took them would send.
    if let crate::outbox::DomainEvent::OrderStatusChanged(c) = &event.event {
        if worker == Worker::LowStock && c.took_stock {
            let Some(order) = n.deps.store.get_order(&event.company_id, c.order_id).await? else {
                return Ok(Vec::new());
            };
            return low_stock(n, &notify::OrderRef::of(&order), order.tracked_products(), reads).await;
        }
    }
    let Some(id) = event.event.placed_order() else {
        return Ok(Vec::new());
    };
    let store = &n.deps.store;
    let company = &event.company_id;
    // A placement's event carries what the workers need to find they have nothing to
    // send, so they read no order then: no tracked units taken (low stock), no cap month
    // or no cap (cap usage, which never needs the order), a total under the threshold
    // (finance); and what the low-stock e-mail names (the order's number, the products).
    // A draft leaving draft carries less, and is read whole.
    if let crate::outbox::DomainEvent::OrderPlaced(p) = &event.event {
        match worker {
            Worker::LowStock if p.decremented_products.is_empty() => return Ok(Vec::new()),
            Worker::LowStock => {
                let about = notify::OrderRef {
                    company_id: company.clone(),
                    id: p.order_id,
                    order_number: p.order_number.clone(),
                };
                return low_stock(n, &about, p.decremented_products.clone(), reads).await;
            }
            Worker::CapUsage => {
                let settings = reads.settings(&n.deps, company).await?;
                return cap_usage(n, company, p.cap_month.as_deref(), &settings, reads).await;
            }
            Worker::Finance if p.status != OrderStatus::Draft => {
                let settings = reads.settings(&n.deps, company).await?;
                if p.total_amount.value() < settings.high_value_threshold {
                    return Ok(Vec::new());
                }
            }
            _ => {}
        }
    }
    let Some(order) = store.get_order(company, id).await? else {
        tracing::warn!(order_id = %id, "event for an order that does not exist; nothing to send");
        return Ok(Vec::new());
    };
    let settings = reads.settings(&n.deps, company).await?;
    let mut sent = Vec::new();
    match worker {
        Worker::Receipts => {
            // Dashboard orders have no customer and send nothing (SPEC §5.3).
            if order.channel == Channel::Dashboard || order.customer.is_none() {
                return Ok(sent);
            }
            // Each e-mail on its own: a refused receipt does not hold back the staff alert.
            let receipt = match order.customer.as_ref().and_then(|c| c.email.clone()) {
                Some(to) => {
                    send_once(
                        n,
                        &notify::receipt(&order, &notify::Brand::of(&settings), to).from_company(&settings),
                        &mut sent,
                    )
                    .await
                }
                None => Ok(()),
            };
            let staff = reads.recipients(&n.deps, company, EmailKind::StaffAlert).await?;
            let alert = send_once(
                n,
                &notify::staff_alert(&order, &notify::Brand::of(&settings), staff).from_company(&settings),
                &mut sent,
            )
            .await;
            receipt.and(alert)?;
        }
        Worker::LowStock => {
            // (A draft confirmed under `reserve_on_confirm` took its units as a reservation:
            // its event says `took_stock` and was handled above.)
            if !order.stock_decremented {
                return Ok(sent);
            }
            return low_stock(n, &notify::OrderRef::of(&order), order.tracked_products(), reads).await;
        }
        Worker::CapUsage => {
            return cap_usage(n, company, order.cap_month.as_deref(), &settings, reads).await;
        }
        Worker::WebhookOrders | Worker::Jobs => {}
        Worker::Finance => {
            if order.status != OrderStatus::Draft && order.total_amount.value() >= settings.high_value_threshold {
                let to = reads.recipients(&n.deps, company, EmailKind::HighValue).await?;
                send_once(
                    n,
                    &notify::high_value(&order, &notify::Brand::of(&settings), settings.high_value_threshold, to)
                        .from_company(&settings),
                    &mut sent,
                )
                .await?;
            }
        }
    }
    Ok(sent)
}

/// The order's products now at or below their low-stock threshold, in one e-mail: the
/// products and the settings (the company's default threshold, the sender) from the
/// batch's one stock read.
async fn low_stock(
    n: &NotifyDeps,
    order: &notify::OrderRef,
    mut ids: Vec<crate::ids::ProductId>,
    reads: &BatchReads,
) -> Result<Vec<EmailKind>, Error> {
    let mut sent = Vec::new();
    ids.sort();
    ids.dedup();
    let snap = reads.stock(&n.deps, &order.company_id, &ids).await?;
    let low: Vec<_> = ids
        .iter()
        .filter_map(|id| snap.products.get(id))
        .map(|p| (p.clone(), p.threshold(snap.settings.low_stock_threshold)))
        .filter(|(p, t)| p.stock <= *t)
        .collect();
    if !low.is_empty() {
        let to = reads
            .recipients(&n.deps, &order.company_id, EmailKind::LowStock)
            .await?;
        send_once(
            n,
            &notify::low_stock(order, &notify::Brand::of(&snap.settings), &low, to).from_company(&snap.settings),
            &mut sent,
        )
        .await?;
    }
    Ok(sent)
}

/// 80 % and 100 % of the month's cap, each once per month: from the month the order
/// counted in and the usage counter alone.
async fn cap_usage(
    n: &NotifyDeps,
    company: &CompanyId,
    month: Option<&str>,
    settings: &CompanySettings,
    reads: &BatchReads,
) -> Result<Vec<EmailKind>, Error> {
    let mut sent = Vec::new();
    let (Some(month), Some(limit)) = (month, settings.monthly_order_limit) else {
        return Ok(sent);
    };
    let used = reads.monthly_usage(&n.deps, company, month).await?;
    for (reached, percent) in [(false, 80u64), (true, 100)] {
        if u64::from(used) * 100 >= percent * u64::from(limit) {
            let kind = if reached {
                EmailKind::CapReached
            } else {
                EmailKind::CapWarning
            };
            let to = reads.recipients(&n.deps, company, kind).await?;
            send_once(
                n,
                &notify::cap_notice(company, &notify::Brand::of(settings), month, used, limit, reached, to)
                    .from_company(settings),
                &mut sent,
            )
            .await?;
        }
    }
    Ok(sent)
}

/// Claim, send, mark sent; on a failed send give the claim back and fail, so the message is
/// retried. Already sent: skip. Claimed by another delivery and not sent (yet): fail, so
/// the message comes back after the claim's lease, and is sent then if the other never did.
/// The invoice e-mail of one request: the PDF rendered from the order as it is now,
/// attached to the cover e-mail, sent once per request.
async fn send_invoice(
    n: &NotifyDeps,
    event: &OutboxEvent,
    r: &crate::outbox::InvoiceRequested,
    reads: &BatchReads,
) -> Result<Vec<EmailKind>, Error> {
    let documents = n
        .documents
        .as_ref()
        .ok_or_else(|| Error::internal("this worker has no document renderer; invoices go to the receipts worker"))?;
    let company = &event.company_id;
    let Some(order) = n.deps.store.get_order(company, r.order_id).await? else {
        tracing::warn!(order_id = %r.order_id, "invoice requested for an order that does not exist; nothing to send");
        return Ok(Vec::new());
    };
    let settings = reads.settings(&n.deps, company).await?;
    let pdf = documents.invoice(&order, &settings)?;
    let email = notify::invoice_cover(
        &order,
        &notify::Brand::of(&settings),
        r.to.clone(),
        &event.id.to_string(),
        pdf,
    )
    .from_company(&settings);
    let mut sent = Vec::new();
    send_once(n, &email, &mut sent).await?;
    Ok(sent)
}

async fn send_once(n: &NotifyDeps, email: &Email, sent: &mut Vec<EmailKind>) -> Result<(), Error> {
    if email.to.is_empty() {
        tracing::warn!(kind = email.kind.as_str(), key = %email.dedupe_key, "no recipients; e-mail not sent");
        return Ok(());
    }
    let store = &n.deps.store;
    let claim = n.deps.ids.uuid().to_string();
    let now = n.deps.clock.now();
    match store
        .claim_email(&email.company_id, &email.dedupe_key, &claim, now, n.lease_secs)
        .await?
    {
        EmailClaim::Claimed => {}
        EmailClaim::AlreadySent => {
            tracing::info!(kind = email.kind.as_str(), key = %email.dedupe_key, "already sent; skipping the duplicate");
            return Ok(());
        }
        EmailClaim::HeldByOther { until } => {
            tracing::warn!(kind = email.kind.as_str(), key = %email.dedupe_key, %until,
                "another delivery holds this e-mail's claim; retrying after its lease");
            return Err(Error::Conflict {
                code: "email_claimed",
                message: format!(
                    "e-mail {} is claimed by another delivery until {until}",
                    email.dedupe_key
                ),
            });
        }
    }
    match n.mailer.send(email).await {
        Ok(message_id) => {
            store
                .mark_email_sent(&email.company_id, &email.dedupe_key, &claim, n.deps.clock.now())
                .await?;
            tracing::info!(kind = email.kind.as_str(), to = ?email.to, subject = %email.subject, message_id, "e-mail sent");
            sent.push(email.kind);
            Ok(())
        }
        Err(e) => {
            if let Err(release) = store.release_email(&email.company_id, &email.dedupe_key, &claim).await {
                tracing::warn!(error = %release, "could not release the claim; it expires with its lease");
            }
            Err(e)
        }
    }
}
