//! Transactional outbox (SPEC §2): an event that must lead to an e-mail or a follow-up is
//! written in the same transaction as the change, then relayed to a queue. A crash between
//! commit and relay delays the event; it never drops it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{CompanyId, EventId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    OrderPlaced,
    OrderStatusChanged,
    OrderUpdated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    pub id: EventId,
    pub company_id: CompanyId,
    pub kind: EventKind,
    /// The entity the event is about (an order id).
    pub subject: String,
    pub occurred_at: DateTime<Utc>,
    pub data: Value,
}
