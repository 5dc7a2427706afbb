//! Append-only audit entries (SPEC §9), written in the same transaction as the change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{Actor, Role};
use crate::ids::{CompanyId, EventId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AuditAction {
    OrderPlaced,
    OrderStatusChanged,
    OrderUpdated,
    /// An order's invoice was sent by e-mail (asked for; the e-mail follows from the outbox).
    InvoiceSent,
    /// A return or an invoice was made from a sale's lines.
    ChildOrderCreated,
    /// A payment or refund was recorded on an invoice.
    PaymentRecorded,
    ProductCreated,
    ProductUpdated,
    StockAdjusted,
    ProductBulkUpdated,
    ProductsImported,
    CustomerCreated,
    CustomerPriceSet,
    CustomerUpdated,
    CustomerPriceDeleted,
    SettingsUpdated,
    IntegrationCreated,
    IntegrationSecretRotated,
    IntegrationDisabled,
    UserCreated,
    UserUpdated,
    UserDeactivated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Order,
    Product,
    Customer,
    Settings,
    Integration,
    User,
    Import,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Order => "order",
            EntityKind::Product => "product",
            EntityKind::Customer => "customer",
            EntityKind::Settings => "settings",
            EntityKind::Integration => "integration",
            EntityKind::User => "user",
            EntityKind::Import => "import",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: EventId,
    pub company_id: CompanyId,
    pub at: DateTime<Utc>,
    pub actor_id: UserId,
    pub actor_role: Role,
    pub action: AuditAction,
    pub entity: EntityKind,
    pub entity_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    /// A few facts worth reading without diffing (e.g. the order total).
    #[schema(value_type = Object)]
    pub summary: Value,
}

impl AuditEntry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: EventId,
        at: DateTime<Utc>,
        actor: &Actor,
        action: AuditAction,
        entity: EntityKind,
        entity_id: impl ToString,
        before: Option<Value>,
        after: Option<Value>,
        summary: Value,
    ) -> AuditEntry {
        AuditEntry {
            id,
            company_id: actor.company_id.clone(),
            at,
            actor_id: actor.user_id.clone(),
            actor_role: actor.role,
            action,
            entity,
            entity_id: entity_id.to_string(),
            before,
            after,
            summary,
        }
    }
}
