//! Integrations and their order webhooks (SPEC §3, §5.3, §13): managing integrations, the
//! intake of a signed delivery (verified over the raw body, recorded with its outbox event
//! before the answer), and the worker that places it through the ordinary placement use
//! case (channel `webhook`), holding the order with alerts instead of refusing it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::customers::{create_customer, CreateCustomerRequest};
use super::place_order::{place_webhook_order, CreateOrderItem, CreateOrderRequest, Placement, WebhookContext};
use super::text;
pub use super::webhook_payload::{address_alerts, parse_payload, WebhookCustomer, WebhookItem, WebhookOrder};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission, Role};
use crate::catalog::parse_email;
use crate::error::{Error, FieldErrors};
use crate::ids::{CompanyId, CustomerId, DeliveryId, EventId, IntegrationId, UserId};
use crate::integration::{
    kept_headers, new_secret, Delivery, DeliveryDetail, DeliveryPayload, DeliveryStatus, Integration, IntegrationKind,
    IntegrationView, Secret,
};
use crate::order::{PaymentTerms, ShippingInfo};
use crate::outbox::{DeliveryReceived, DomainEvent, OutboxEvent};
use crate::ports::{Deps, Page, PageRequest, RecordedDelivery};
use crate::webhook::{self, Verified};

/// Alerts that hold a webhook order for a person instead of refusing it.
pub const MISSING_SHIPPING_ADDRESS: &str = "missingShippingAddress";
pub const INVALID_SHIPPING_POSTAL_CODE: &str = "invalidShippingPostalCode";
pub const NO_ORDER_ITEMS: &str = "noOrderItems";
pub const INSUFFICIENT_STOCK: &str = "insufficientStock";

// ---------------------------------------------------------------------------------------
// Managing integrations

/// `POST /api/v1/integrations`, as parsed (the rules between fields are checked in
/// [`create_integration`]; [`NewIntegration`] is how the OpenAPI document states them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegrationRequest {
    pub name: String,
    pub kind: IntegrationKind,
    /// Whether its deliveries' line prices are used (else the catalog's).
    #[serde(default)]
    pub can_set_prices: bool,
    /// Shopify or WooCommerce only: the secret the platform already uses.
    pub secret: Option<String>,
}

/// A new integration: a `standard` one, whose `whsec_` secret is always generated, or a
/// platform's, which may bring the secret the platform is already configured with.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum NewIntegration {
    Standard(NewStandardIntegration),
    Platform(NewPlatformIntegration),
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStandardIntegration {
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]")]
    pub name: String,
    pub kind: StandardKind,
    #[serde(default)]
    pub can_set_prices: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlatformIntegration {
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]")]
    pub name: String,
    pub kind: PlatformKind,
    #[serde(default)]
    pub can_set_prices: bool,
    /// The secret the platform already uses: 16-200 visible ASCII characters (no spaces).
    /// Without it one is generated, to configure the platform with.
    // `(?![\s\S])` rather than `$`: an ECMA-262 `$` is the end of the string, but
    // Python's (which generators of test data use) also matches before a final newline.
    #[schema(min_length = 16, max_length = 200, pattern = "^[!-~]{16,200}(?![\\s\\S])")]
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StandardKind {
    Standard,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlatformKind {
    Shopify,
    Woocommerce,
}

/// An integration with its secret: answered only on creation and on rotation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntegrationWithSecret {
    #[serde(flatten)]
    pub integration: IntegrationView,
    /// Shown only now: store it in the platform (Standard Webhooks: `whsec_…`).
    pub secret: String,
}

pub async fn create_integration(
    deps: &Deps,
    actor: &Actor,
    req: CreateIntegrationRequest,
    base_url: &str,
) -> Result<IntegrationWithSecret, Error> {
    actor.require(Permission::IntegrationsWrite)?;
    let mut errors = FieldErrors::default();
    let name = text(&mut errors, "name", Some(req.name), 100);
    if name.is_none() && !errors.has("name") {
        errors.push("name", "name is required");
    }
    // A pasted secret often brings a newline: surrounding whitespace is not part of it.
    let given = req.secret.map(|s| s.trim().to_owned());
    let secret = match (req.kind, given) {
        (_, None) => new_secret(req.kind),
        (IntegrationKind::Standard, Some(_)) => {
            errors.push(
                "secret",
                "a standard integration's secret is generated (whsec_…), not given",
            );
            String::new()
        }
        (_, Some(s)) if !(16..=200).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_graphic()) => {
            errors.push(
                "secret",
                "a platform secret is 16-200 visible ASCII characters, without spaces",
            );
            String::new()
        }
        (_, Some(s)) => s,
    };
    errors.finish()?;
    let now = deps.clock.now();
    let integration = Integration {
        id: IntegrationId::new(deps.ids.uuid()),
        company_id: actor.company_id.clone(),
        name: name.unwrap_or_default(),
        kind: req.kind,
        can_set_prices: req.can_set_prices,
        active: true,
        secrets: vec![Secret::current(secret.clone())],
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let audit = integration_audit(deps, actor, AuditAction::IntegrationCreated, &integration, now);
    deps.store.create_integration(&integration, &audit).await?;
    Ok(IntegrationWithSecret {
        integration: integration.view(base_url),
        secret,
    })
}

fn integration_audit(
    deps: &Deps,
    actor: &Actor,
    action: AuditAction,
    i: &Integration,
    now: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        action,
        EntityKind::Integration,
        i.id,
        None,
        None,
        // Never a secret in the audit log.
        json!({ "name": i.name, "kind": i.kind, "can_set_prices": i.can_set_prices, "active": i.active }),
    )
}

/// The caller's company's integration. A deleted (disabled) one is gone for the API, as a
/// DELETE promises (404); it stays in the table for the deliveries it already accepted,
/// which the worker still places, and for the audit log.
async fn own_integration(deps: &Deps, actor: &Actor, id: IntegrationId) -> Result<Integration, Error> {
    actor.require(Permission::IntegrationsWrite)?;
    match deps.store.find_integration(id).await? {
        // Another company's integration does not exist as far as this caller can tell.
        Some(i) if i.company_id == actor.company_id && i.active => Ok(i),
        _ => Err(Error::not_found("integration", id)),
    }
}

pub async fn list_integrations(deps: &Deps, actor: &Actor, base_url: &str) -> Result<Vec<IntegrationView>, Error> {
    actor.require(Permission::IntegrationsWrite)?;
    let all = deps.store.list_integrations(&actor.company_id).await?;
    Ok(all.iter().filter(|i| i.active).map(|i| i.view(base_url)).collect())
}

pub async fn get_integration(
    deps: &Deps,
    actor: &Actor,
    id: IntegrationId,
    base_url: &str,
) -> Result<IntegrationView, Error> {
    Ok(own_integration(deps, actor, id).await?.view(base_url))
}

/// A new secret; the old one keeps verifying for 24 hours.
pub async fn rotate_secret(
    deps: &Deps,
    actor: &Actor,
    id: IntegrationId,
    base_url: &str,
) -> Result<IntegrationWithSecret, Error> {
    let before = own_integration(deps, actor, id).await?;
    let now = deps.clock.now();
    let secret = new_secret(before.kind);
    let mut after = before.clone();
    after.secrets = before.rotated(secret.clone(), now);
    after.updated_at = now;
    after.version = before.version + 1;
    let audit = integration_audit(deps, actor, AuditAction::IntegrationSecretRotated, &after, now);
    deps.store.update_integration(&before, &after, &audit).await?;
    Ok(IntegrationWithSecret {
        integration: after.view(base_url),
        secret,
    })
}

/// Deletes the integration by disabling it: from now on its deliveries answer 410 and the
/// API no longer shows it (404).
pub async fn disable_integration(
    deps: &Deps,
    actor: &Actor,
    id: IntegrationId,
    base_url: &str,
) -> Result<IntegrationView, Error> {
    let before = own_integration(deps, actor, id).await?;
    let now = deps.clock.now();
    let mut after = before.clone();
    after.active = false;
    after.updated_at = now;
    after.version = before.version + 1;
    let audit = integration_audit(deps, actor, AuditAction::IntegrationDisabled, &after, now);
    deps.store.update_integration(&before, &after, &audit).await?;
    Ok(after.view(base_url))
}

fn gone(id: IntegrationId) -> Error {
    Error::Gone {
        message: format!("integration {id} is disabled; its deliveries are no longer accepted"),
    }
}

// ---------------------------------------------------------------------------------------
// Intake

/// What the intake answered.
#[derive(Debug)]
pub enum Intake {
    /// Verified and recorded; placed by the worker (202).
    Accepted(Delivery),
    /// The same webhook id as an earlier delivery: that one (200), nothing placed.
    Replayed(Delivery),
    /// WooCommerce's set-up ping (200), nothing stored.
    Ping,
}

/// `POST /api/v1/webhooks/{integration_id}/orders`: no JWT; the integration's signature
/// over the raw body is the authentication. Recorded durably (the body, the headers that
/// matter, the time) with its outbox event in one transaction before the answer.
pub async fn receive(
    deps: &Deps,
    integration_id: IntegrationId,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
) -> Result<Intake, Error> {
    let unknown = || Error::Unauthenticated {
        message: "no such integration, or a bad signature".into(),
    };
    let integration = deps.store.find_integration(integration_id).await?.ok_or_else(unknown)?;
    if !integration.active {
        return Err(gone(integration_id));
    }
    let now = deps.clock.now();
    let verified = webhook::verify(integration.kind, &integration.secrets, header, body, now).map_err(|r| {
        tracing::warn!(integration_id = %integration_id, reason = %r, "webhook refused");
        Error::Unauthenticated {
            message: format!("the delivery is not signed by this integration: {r}"),
        }
    })?;
    let webhook_id = match verified {
        Verified::Ping => return Ok(Intake::Ping),
        Verified::Delivery { webhook_id } => webhook_id,
    };
    let webhook_id = webhook_id.map(|w| w.chars().take(200).collect::<String>());
    let body =
        String::from_utf8(body.to_vec()).map_err(|_| Error::invalid("body", "a webhook body must be UTF-8 JSON"))?;
    let delivery = Delivery {
        id: DeliveryId::new(deps.ids.uuid()),
        company_id: integration.company_id.clone(),
        integration_id,
        kind: integration.kind,
        webhook_id,
        received_at: now,
        status: DeliveryStatus::Received,
        attempts: 0,
        order_id: None,
        alerts: Vec::new(),
        error: None,
        updated_at: now,
    };
    let payload = DeliveryPayload {
        body,
        headers: kept_headers(header),
    };
    match deps
        .store
        .record_delivery(&delivery, &payload, &delivery_event(deps, &delivery, now))
        .await?
    {
        RecordedDelivery::New => {
            tracing::info!(delivery_id = %delivery.id, integration_id = %integration_id, "webhook delivery recorded");
            Ok(Intake::Accepted(delivery))
        }
        RecordedDelivery::Replay(earlier) => Ok(Intake::Replayed(*earlier)),
    }
}

fn delivery_event(deps: &Deps, d: &Delivery, now: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent {
        id: EventId::new(deps.ids.uuid()),
        company_id: d.company_id.clone(),
        subject: d.id.to_string(),
        occurred_at: now,
        event: DomainEvent::DeliveryReceived(DeliveryReceived {
            delivery_id: d.id,
            integration_id: d.integration_id,
        }),
    }
}

// ---------------------------------------------------------------------------------------
// The delivery log

pub async fn list_deliveries(
    deps: &Deps,
    actor: &Actor,
    integration: IntegrationId,
    status: Option<DeliveryStatus>,
    page: PageRequest,
) -> Result<Page<Delivery>, Error> {
    own_integration(deps, actor, integration).await?;
    deps.store
        .list_deliveries(&actor.company_id, integration, status, &page)
        .await
}

async fn own_delivery(
    deps: &Deps,
    actor: &Actor,
    integration: IntegrationId,
    id: DeliveryId,
) -> Result<Delivery, Error> {
    own_integration(deps, actor, integration).await?;
    match deps.store.get_delivery(&actor.company_id, id).await? {
        Some(d) if d.integration_id == integration => Ok(d),
        _ => Err(Error::not_found("delivery", id)),
    }
}

/// One delivery with its payload as received.
pub async fn get_delivery(
    deps: &Deps,
    actor: &Actor,
    integration: IntegrationId,
    id: DeliveryId,
) -> Result<DeliveryDetail, Error> {
    let delivery = own_delivery(deps, actor, integration, id).await?;
    let payload = deps
        .store
        .get_delivery_payload(&actor.company_id, id)
        .await?
        .ok_or_else(|| Error::internal("a delivery without its payload"))?;
    Ok(DeliveryDetail { delivery, payload })
}

/// Runs a failed delivery again (after the missing SKU was added, say): back to
/// `received`, with an outbox event, in one write.
pub async fn retry_delivery(
    deps: &Deps,
    actor: &Actor,
    integration: IntegrationId,
    id: DeliveryId,
) -> Result<Delivery, Error> {
    let d = own_delivery(deps, actor, integration, id).await?;
    if d.status != DeliveryStatus::Failed {
        return Err(Error::Conflict {
            code: "delivery_not_failed",
            message: format!(
                "delivery {id} is {}; only a failed delivery can be retried",
                d.status.as_str()
            ),
        });
    }
    let now = deps.clock.now();
    let mut again = d.clone();
    again.status = DeliveryStatus::Received;
    again.updated_at = now;
    if !deps
        .store
        .retry_delivery(&again, &delivery_event(deps, &again, now))
        .await?
    {
        return Err(Error::Conflict {
            code: "delivery_not_failed",
            message: format!("delivery {id} changed meanwhile; reload it"),
        });
    }
    Ok(again)
}

// ---------------------------------------------------------------------------------------
// The worker: placing a delivery (what the payload says: `webhook_payload`)

/// What the worker did with a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    pub status: DeliveryStatus,
    pub order_id: Option<crate::ids::OrderId>,
}

/// The webhook worker: places one delivery through the ordinary placement use case and
/// records what happened on it. A delivery that cannot be placed (an unknown SKU, a body
/// that does not parse) is marked `failed` with the reason and can be retried; a failure
/// of the store is an error, and SQS delivers the event again. Placing is idempotent on
/// the delivery (its id is the placement's idempotency key), so a worker that died after
/// placing and before marking the delivery marks it on the next try, still one order.
pub async fn process_delivery(deps: &Deps, company: &CompanyId, event: &DeliveryReceived) -> Result<Processed, Error> {
    let Some(mut delivery) = deps.store.get_delivery(company, event.delivery_id).await? else {
        tracing::warn!(delivery_id = %event.delivery_id, "an event for a delivery that does not exist");
        return Ok(Processed {
            status: DeliveryStatus::Failed,
            order_id: None,
        });
    };
    if !matches!(delivery.status, DeliveryStatus::Received) {
        // Done already (a redelivered event).
        return Ok(Processed {
            status: delivery.status,
            order_id: delivery.order_id,
        });
    }
    let integration = deps
        .store
        .find_integration(delivery.integration_id)
        .await?
        .ok_or_else(|| Error::internal("a delivery of an integration that does not exist"))?;
    let payload = deps
        .store
        .get_delivery_payload(company, delivery.id)
        .await?
        .ok_or_else(|| Error::internal("a delivery without its payload"))?;
    let outcome = place(deps, &integration, &delivery, &payload.body).await;
    delivery.attempts += 1;
    delivery.updated_at = deps.clock.now();
    match outcome {
        Ok(placement) => {
            let (order, existing) = match placement {
                Placement::Created(o) | Placement::Replayed(o) => (o, false),
                Placement::Existing(o) => (o, true),
            };
            delivery.status = match (existing, order.alerts.is_empty()) {
                (true, _) => DeliveryStatus::Duplicate,
                (false, true) => DeliveryStatus::Placed,
                (false, false) => DeliveryStatus::Held,
            };
            delivery.order_id = Some(order.id);
            delivery.alerts = order.alerts.clone();
            delivery.error = None;
        }
        // Refused for what the delivery says: failed, with why, until retried.
        Err(
            e @ (Error::Validation { .. }
            | Error::NotFound { .. }
            | Error::Conflict { .. }
            | Error::LimitExceeded { .. }
            | Error::IdempotencyKeyReused),
        ) => {
            delivery.status = DeliveryStatus::Failed;
            delivery.error = Some(e.to_string());
        }
        // The store or a rule outside the delivery: let SQS bring it back.
        Err(e) => return Err(e),
    }
    if !deps.store.update_delivery(&delivery).await? {
        // Another run (a redelivered event) marked it first, with the same order: the
        // placement is idempotent on the delivery.
        let now = deps.store.get_delivery(company, delivery.id).await?.unwrap_or(delivery);
        return Ok(Processed {
            status: now.status,
            order_id: now.order_id,
        });
    }
    tracing::info!(delivery_id = %delivery.id, status = delivery.status.as_str(), order_id = ?delivery.order_id, "webhook delivery processed");
    Ok(Processed {
        status: delivery.status,
        order_id: delivery.order_id,
    })
}

/// Parses the delivery, finds or creates its customer, and places the order as the
/// integration (channel `webhook`), with the alerts its address and items give.
async fn place(deps: &Deps, integration: &Integration, delivery: &Delivery, body: &str) -> Result<Placement, Error> {
    let order = parse_payload(integration.kind, body)
        .map_err(|e| Error::invalid("body", format!("the delivery's order could not be read: {e}")))?;
    let actor = Actor {
        user_id: UserId::parse(&format!("integration-{}", integration.id))?,
        company_id: integration.company_id.clone(),
        role: Role::Integration,
        customer_id: None,
    };
    for (field, v) in [("shipping_cost", order.shipping_cost), ("total_tax", order.total_tax)] {
        if v.is_some_and(|d| d.0.is_sign_negative() && !d.0.is_zero()) {
            return Err(Error::invalid(field, format!("{field} must be at least 0")));
        }
    }
    let customer = customer_for(deps, integration, &actor, &order.customer).await?;
    let mut alerts: Vec<String> = address_alerts(order.shipping_address.as_ref())
        .into_iter()
        .map(str::to_owned)
        .collect();
    if order.items.is_empty() {
        alerts.push(NO_ORDER_ITEMS.to_owned());
    }
    let items: Vec<CreateOrderItem> = order
        .items
        .iter()
        .enumerate()
        .map(|(i, l)| CreateOrderItem {
            product_id: l.product_id,
            sku: l.sku.clone(),
            quantity: l.quantity,
            unit_price: l.unit_price.filter(|_| integration.can_set_prices),
            // The order's tax goes on its first line (totals: tax = Σ line tax).
            tax_amount: (i == 0).then_some(order.total_tax).flatten(),
            discount_amount: None,
            notes: l.notes.clone(),
        })
        .collect();
    let shipping_info = order.shipping_address.as_ref().map(|a| ShippingInfo {
        method: order.shipping_method.clone(),
        address1: a.address1.clone(),
        address2: a.address2.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        postal_code: a.postal_code.clone(),
        country: a
            .country
            .clone()
            .filter(|c| isocountry::CountryCode::for_alpha2_caseless(c).is_ok()),
        instructions: None,
    });
    let request = CreateOrderRequest {
        customer_id: Some(customer),
        order_number: order.order_number.clone(),
        origin_order_id: Some(order.origin_order_id.clone()),
        status: None,
        source: None,
        priority: None,
        order_date: None,
        due_date: None,
        currency: order.currency.clone(),
        billing_address: order.billing_address.clone().filter(|a| a.validate().is_ok()),
        shipping_info,
        payment_terms: None::<PaymentTerms>,
        sales_rep_id: None,
        notes: order.notes.clone(),
        tags: None,
        custom_fields: None,
        quote_id: None,
        opportunity_id: None,
        shipping_amount: order.shipping_cost,
        discount_amount: order.order_discount.filter(|_| integration.can_set_prices),
        charges: None,
        items,
    };
    let paid = !matches!(order.financial_status.as_deref(), Some("pending"));
    let ctx = WebhookContext {
        integration_id: integration.id,
        alerts,
        paid,
    };
    place_webhook_order(deps, &actor, request, ctx, delivery.id.to_string()).await
}

/// The customer the delivery names: by the integration's id for it, then by e-mail, or
/// a new one (remembered under the integration's id).
async fn customer_for(
    deps: &Deps,
    integration: &Integration,
    actor: &Actor,
    c: &WebhookCustomer,
) -> Result<CustomerId, Error> {
    let external = c
        .external_id
        .as_deref()
        .map(|x| x.chars().take(128).collect::<String>());
    let email = c.email.as_deref().and_then(|e| parse_email(e).ok());
    let found = deps
        .store
        .find_customer_for(
            &integration.company_id,
            integration.id,
            external.as_deref(),
            email.as_deref(),
        )
        .await?;
    let id = match found {
        Some(id) => id,
        None => {
            let name = c
                .company_name
                .clone()
                .or_else(|| c.contact_name.clone())
                .or_else(|| email.clone())
                .unwrap_or_else(|| format!("{} customer", integration.name));
            let created = create_customer(
                deps,
                &Actor {
                    role: Role::Owner,
                    ..actor.clone()
                },
                CreateCustomerRequest {
                    company_name: name.chars().take(200).collect(),
                    contact_name: c.contact_name.as_ref().map(|n| n.chars().take(200).collect()),
                    email: email.clone(),
                    phone: c.phone.as_ref().map(|p| p.chars().take(40).collect()),
                    billing_address: None,
                    shipping_address: None,
                },
            )
            .await?;
            created.id
        }
    };
    if let Some(x) = external.filter(|x| !x.is_empty()) {
        deps.store
            .link_customer(&integration.company_id, integration.id, &x, id)
            .await?;
    }
    Ok(id)
}
