//! Transactional outbox (SPEC §2): an event that must lead to an e-mail or a follow-up is
//! written in the same transaction as the change, then relayed to a queue. A crash between
//! commit and relay delays the event; it never drops it.
//!
//! Events are typed: each kind carries its own fields, and consumers match on the enum,
//! never on JSON by string. On the wire (DynamoDB item, SQS body) the kind is the `kind`
//! field next to the event's own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CompanyId, CustomerId, DeliveryId, EventId, IntegrationId, OrderId, ProductId};
use crate::money::{Amount, Currency};
use crate::order::{Channel, OrderNumber, OrderStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    pub id: EventId,
    pub company_id: CompanyId,
    /// The entity the event is about (an order id).
    pub subject: String,
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: DomainEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DomainEvent {
    OrderPlaced(OrderPlaced),
    OrderStatusChanged(OrderStatusChanged),
    OrderUpdated(OrderUpdated),
    /// A verified webhook delivery to place (or to place again, after a retry).
    DeliveryReceived(DeliveryReceived),
    /// A product import to apply (the jobs worker resumes it where it stands).
    ImportQueued(ImportQueued),
    /// The high-value threshold changed: recount the counters of this generation.
    HighValueRecount(HighValueRecount),
    /// A relative stock adjustment moved a product's stock (its index entries follow).
    StockAdjusted(StockAdjusted),
    /// Someone asked for an order's invoice to be e-mailed (the receipts worker renders
    /// and sends it, once per request: the event's id names the e-mail).
    InvoiceRequested(InvoiceRequested),
    /// A return or an invoice made from a sale (a return that restocked names its products).
    ChildOrderCreated(ChildOrderCreated),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildOrderCreated {
    pub order_id: OrderId,
    pub parent_id: OrderId,
    /// (`kind` names the event itself on the wire.)
    pub child_kind: crate::order::OrderKind,
    pub restocked_products: Vec<ProductId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRequested {
    pub order_id: OrderId,
    pub order_number: OrderNumber,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockAdjusted {
    pub product_id: crate::ids::ProductId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HighValueRecount {
    pub generation: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportQueued {
    pub import_id: crate::ids::ImportId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryReceived {
    pub delivery_id: DeliveryId,
    pub integration_id: IntegrationId,
}

/// A new order (a draft too: it places nothing until it leaves draft).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: OrderId,
    pub order_number: OrderNumber,
    pub channel: Channel,
    pub status: OrderStatus,
    pub customer_id: Option<CustomerId>,
    pub total_amount: Amount,
    pub currency: Currency,
    pub cap_month: Option<String>,
    pub decremented_products: Vec<ProductId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderStatusChanged {
    pub order_id: OrderId,
    pub order_number: OrderNumber,
    pub customer_id: Option<CustomerId>,
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub restocked: bool,
    /// The change took the order's units out of stock (a confirm that reserved them, or
    /// took a held order's): the low-stock check follows it.
    #[serde(default)]
    pub took_stock: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderUpdated {
    pub order_id: OrderId,
    pub order_number: OrderNumber,
    pub customer_id: Option<CustomerId>,
    pub status: OrderStatus,
    /// The top-level order fields that changed.
    pub fields: Vec<String>,
}

impl DomainEvent {
    /// The order the event changed (its search entry and counters follow it); none for a
    /// delivery not placed yet, an invoice request (which changes no order), or a child
    /// order (listed on its parent, in no list or count of its own).
    pub fn order_id(&self) -> Option<OrderId> {
        match self {
            DomainEvent::OrderPlaced(e) => Some(e.order_id),
            DomainEvent::OrderStatusChanged(e) => Some(e.order_id),
            DomainEvent::OrderUpdated(e) => Some(e.order_id),
            DomainEvent::InvoiceRequested(_)
            | DomainEvent::ChildOrderCreated(_)
            | DomainEvent::DeliveryReceived(_)
            | DomainEvent::ImportQueued(_)
            | DomainEvent::HighValueRecount(_)
            | DomainEvent::StockAdjusted(_) => None,
        }
    }

    /// The order this event places, if it is a placement: a new order that is not a
    /// draft, or a draft leaving draft for anything but cancelled.
    pub fn placed_order(&self) -> Option<OrderId> {
        match self {
            DomainEvent::OrderPlaced(e) if e.status != OrderStatus::Draft => Some(e.order_id),
            DomainEvent::OrderStatusChanged(e) if e.from == OrderStatus::Draft && e.to != OrderStatus::Cancelled => {
                Some(e.order_id)
            }
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            DomainEvent::OrderPlaced(_) => "order_placed",
            DomainEvent::OrderStatusChanged(_) => "order_status_changed",
            DomainEvent::OrderUpdated(_) => "order_updated",
            DomainEvent::DeliveryReceived(_) => "delivery_received",
            DomainEvent::ImportQueued(_) => "import_queued",
            DomainEvent::HighValueRecount(_) => "high_value_recount",
            DomainEvent::StockAdjusted(_) => "stock_adjusted",
            DomainEvent::InvoiceRequested(_) => "invoice_requested",
            DomainEvent::ChildOrderCreated(_) => "child_order_created",
        }
    }
}
