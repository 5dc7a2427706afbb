//! Integrations (SPEC §3, §13): a shop platform, marketplace or ERP that posts signed
//! order webhooks, its secrets, and the deliveries it sends.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::{CompanyId, DeliveryId, IntegrationId, OrderId};

/// How an integration signs and shapes its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// Standard Webhooks 1.0, with this service's own order JSON.
    Standard,
    /// Shopify's `orders/create` webhook.
    Shopify,
    /// WooCommerce's `order.created` webhook (REST API v3 order).
    Woocommerce,
}

impl IntegrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Standard => "standard",
            IntegrationKind::Shopify => "shopify",
            IntegrationKind::Woocommerce => "woocommerce",
        }
    }
}

/// How long the previous secret still verifies after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A signing secret: the current one has no expiry; the one a rotation replaced expires
/// 24 hours after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub value: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Secret {
    pub fn current(value: impl Into<String>) -> Secret {
        Secret {
            value: value.into(),
            expires_at: None,
        }
    }

    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

/// A new secret for `kind`: for Standard Webhooks `whsec_` and the base64 of 32 random
/// bytes (the specification asks for 24 to 64); for the platforms, 32 random bytes as
/// base64, which the platform is configured with.
pub fn new_secret(kind: IntegrationKind) -> String {
    let bytes: [u8; 32] = rand::random();
    match kind {
        IntegrationKind::Standard => format!("{}{}", crate::webhook::STANDARD_PREFIX, STANDARD.encode(bytes)),
        IntegrationKind::Shopify | IntegrationKind::Woocommerce => STANDARD.encode(bytes),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub id: IntegrationId,
    pub company_id: CompanyId,
    pub name: String,
    pub kind: IntegrationKind,
    /// Whether its deliveries' line prices are used (else the catalog's).
    pub can_set_prices: bool,
    /// A deleted integration is disabled: its deliveries answer 410.
    pub active: bool,
    /// The current secret first; after a rotation, the previous one until it expires.
    pub secrets: Vec<Secret>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl Integration {
    /// The secrets after a rotation at `now`: the new one, and the old current one for
    /// another 24 hours (an older, still-overlapping one is dropped).
    pub fn rotated(&self, new: String, now: DateTime<Utc>) -> Vec<Secret> {
        let mut secrets = vec![Secret::current(new)];
        if let Some(old) = self.secrets.iter().find(|s| s.expires_at.is_none()) {
            secrets.push(Secret {
                value: old.value.clone(),
                expires_at: Some(now + Duration::hours(ROTATION_OVERLAP_HOURS)),
            });
        }
        secrets
    }

    /// What the API shows: never a secret.
    pub fn view(&self, base_url: &str) -> IntegrationView {
        IntegrationView {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind,
            can_set_prices: self.can_set_prices,
            active: self.active,
            webhook_url: webhook_url(base_url, self.id),
            previous_secret_expires_at: self.secrets.iter().filter_map(|s| s.expires_at).max(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The URL an integration posts its orders to.
pub fn webhook_url(base_url: &str, id: IntegrationId) -> String {
    format!("{}/api/v1/webhooks/{id}/orders", base_url.trim_end_matches('/'))
}

/// An integration as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntegrationView {
    pub id: IntegrationId,
    pub name: String,
    pub kind: IntegrationKind,
    pub can_set_prices: bool,
    pub active: bool,
    pub webhook_url: String,
    /// While a rotation's overlap runs: when the previous secret stops verifying.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Stored, waiting for the worker.
    Received,
    /// Placed as an order.
    Placed,
    /// Placed, held (`pending` with alerts) for a person to look at.
    Held,
    /// Could not be placed (an unknown SKU, a payload that does not parse); retryable.
    Failed,
    /// The same order as an earlier delivery (its origin id): nothing placed again.
    Duplicate,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Received,
        DeliveryStatus::Placed,
        DeliveryStatus::Held,
        DeliveryStatus::Failed,
        DeliveryStatus::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Received => "received",
            DeliveryStatus::Placed => "placed",
            DeliveryStatus::Held => "held",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// One webhook delivery: when it came, and what placing it did. Its payload (the raw body
/// and the headers that matter) is stored beside it, with it, before the 2xx
/// ([`DeliveryPayload`]); the delivery log lists deliveries without their payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    pub company_id: CompanyId,
    pub integration_id: IntegrationId,
    pub kind: IntegrationKind,
    /// The platform's id for the delivery (Standard Webhooks `webhook-id`, Shopify
    /// `X-Shopify-Webhook-Id`); deliveries are deduplicated on it.
    pub webhook_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    /// Times the worker ran it (a retry runs it again).
    pub attempts: u32,
    pub order_id: Option<OrderId>,
    pub alerts: Vec<String>,
    pub error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What a delivery carried, exactly as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryPayload {
    /// The body as received (UTF-8; a delivery that is not is refused before storing).
    pub body: String,
    /// The headers that matter (see [`kept_headers`]); never a signature.
    pub headers: BTreeMap<String, String>,
}

/// A delivery with its payload: what `GET …/deliveries/{id}` shows.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    #[serde(flatten)]
    pub payload: DeliveryPayload,
}

/// The headers worth keeping with a delivery: the signature scheme's, the platform's
/// topic and ids, the content type. Everything else is dropped.
pub fn kept_headers(header: &dyn Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    const KEEP: &[&str] = &[
        "content-type",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
        "x-shopify-triggered-at",
        "x-wc-webhook-topic",
        "x-wc-webhook-source",
        "x-wc-webhook-id",
        "x-wc-webhook-delivery-id",
    ];
    KEEP.iter()
        .filter_map(|k| header(k).map(|v| ((*k).to_owned(), v.chars().take(500).collect())))
        .collect()
}
