//! Sending an order's invoice by e-mail (issue 15): the request is recorded (audit entry
//! and outbox event, one transaction) and answered at once; the receipts worker renders
//! the PDF and sends the cover e-mail with it attached, once per request (the event's id
//! names the e-mail's sent marker).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::catalog::parse_email;
use crate::error::{Error, FieldErrors};
use crate::ids::{EventId, OrderId};
use crate::order::{OrderNumber, OrderStatus};
use crate::outbox::{DomainEvent, InvoiceRequested, OutboxEvent};
use crate::ports::Deps;
use crate::usecases::orders::get_order;

/// The most addresses one invoice e-mail goes to.
pub const MAX_INVOICE_RECIPIENTS: usize = 10;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInvoiceRequest {
    /// Who gets it: 1 to 10 e-mail addresses. Absent: the order's customer's e-mail.
    #[schema(schema_with = recipients_schema)]
    #[serde(default, deserialize_with = "super::present")]
    pub to: Option<Vec<String>>,
}

/// 1 to 10 e-mail addresses.
fn recipients_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
                .min_length(Some(3))
                .max_length(Some(254)),
        )
        .min_items(Some(1))
        .max_items(Some(MAX_INVOICE_RECIPIENTS))
        .description(Some("1 to 10 e-mail addresses; absent: the order's customer's e-mail."))
        .into()
}

/// The request, recorded: the e-mail follows from the outbox within seconds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvoiceEmailQueued {
    pub order_id: OrderId,
    #[schema(value_type = String)]
    pub order_number: OrderNumber,
    pub to: Vec<String>,
    /// Names this request's e-mail (sent once, however often its event is delivered).
    pub request_id: EventId,
}

pub async fn email_invoice(
    deps: &Deps,
    actor: &Actor,
    id: OrderId,
    req: EmailInvoiceRequest,
) -> Result<InvoiceEmailQueued, Error> {
    actor.require(Permission::InvoicesSend)?;
    let order = get_order(deps, actor, id).await?;
    let named = req.to.map(checked).transpose()?;
    match order.status {
        OrderStatus::Draft => {
            return Err(Error::Conflict {
                code: "invoice_unavailable",
                message: format!("order {} is a draft: it has no invoice to send yet", order.order_number),
            })
        }
        OrderStatus::Cancelled => {
            return Err(Error::Conflict {
                code: "invoice_unavailable",
                message: format!("order {} is cancelled: its invoice is not sent", order.order_number),
            })
        }
        _ => {}
    }
    let to = match named {
        Some(to) => to,
        None => match order.customer.as_ref().and_then(|c| c.email.clone()) {
            Some(email) => vec![email],
            None => {
                return Err(Error::invalid(
                    "to",
                    "the order has no customer e-mail address: name the recipients in `to`",
                ))
            }
        },
    };
    let now = deps.clock.now();
    let request_id = EventId::new(deps.ids.uuid());
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::InvoiceSent,
        EntityKind::Order,
        id,
        None,
        None,
        json!({ "order_number": order.order_number, "to": to, "request_id": request_id }),
    );
    let event = OutboxEvent {
        id: request_id,
        company_id: actor.company_id.clone(),
        subject: id.to_string(),
        occurred_at: now,
        event: DomainEvent::InvoiceRequested(InvoiceRequested {
            order_id: id,
            order_number: order.order_number.clone(),
            to: to.clone(),
        }),
    };
    deps.store.record(&audit, &event).await?;
    tracing::info!(order_id = %id, recipients = to.len(), "invoice e-mail requested");
    Ok(InvoiceEmailQueued {
        order_id: id,
        order_number: order.order_number,
        to,
        request_id,
    })
}

/// The addresses named, checked, repeats dropped.
fn checked(named: Vec<String>) -> Result<Vec<String>, Error> {
    let mut errors = FieldErrors::default();
    if named.is_empty() || named.len() > MAX_INVOICE_RECIPIENTS {
        errors.push("to", format!("`to` names 1 to {MAX_INVOICE_RECIPIENTS} addresses"));
    }
    let mut to: Vec<String> = Vec::new();
    for (i, a) in named.iter().enumerate() {
        match parse_email(a) {
            Ok(a) if !to.iter().any(|t| t.eq_ignore_ascii_case(&a)) => to.push(a),
            Ok(_) => {}
            Err(_) => errors.push(
                format!("to[{i}]"),
                format!("`{}` is not an e-mail address", a.chars().take(100).collect::<String>()),
            ),
        }
    }
    errors.finish()?;
    Ok(to)
}
