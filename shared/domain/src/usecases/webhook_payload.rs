//! What a webhook delivery says: the order shape of a `standard` integration, the
//! mappings of Shopify's and WooCommerce's own order payloads onto it, and the alerts an
//! order's shipping address gives. Pure: the intake and the worker are in `webhooks`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::webhooks::{INVALID_SHIPPING_POSTAL_CODE, MISSING_SHIPPING_ADDRESS};
use super::DecimalInput;
use crate::catalog::Address;
use crate::integration::IntegrationKind;

/// The order JSON of a `standard` integration (and what the platform payloads are mapped
/// to): Shopify's and WooCommerce's own orders are read into this shape.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookOrder {
    /// The order's id on the platform: one order per (integration, origin id).
    #[schema(min_length = 1, max_length = 128)]
    pub origin_order_id: String,
    /// An order number of your own, unique per company.
    pub order_number: Option<String>,
    pub customer: WebhookCustomer,
    #[serde(default)]
    pub items: Vec<WebhookItem>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    #[schema(max_length = 100)]
    pub shipping_method: Option<String>,
    /// At least 0.
    pub shipping_cost: Option<DecimalInput>,
    /// At least 0: the order's tax, put on its first line.
    pub total_tax: Option<DecimalInput>,
    /// At least 0: the discount the platform took off the lines' prices, kept as the
    /// order's `discount` charge when the integration `can_set_prices` (otherwise the
    /// catalog's prices apply and the platform's discount with them is not the order's).
    pub order_discount: Option<DecimalInput>,
    /// ISO 4217; the company's currency by default.
    pub currency: Option<String>,
    /// `paid` unless the platform says `pending`.
    pub financial_status: Option<String>,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCustomer {
    /// The platform's id for the customer: found again by it.
    #[schema(max_length = 128)]
    pub external_id: Option<String>,
    pub email: Option<String>,
    #[schema(max_length = 200)]
    pub company_name: Option<String>,
    #[schema(max_length = 200)]
    pub contact_name: Option<String>,
    #[schema(max_length = 40)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookItem {
    pub product_id: Option<crate::ids::ProductId>,
    pub sku: Option<String>,
    #[serde(deserialize_with = "crate::whole::de")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: i64,
    /// Used only when the integration `can_set_prices`.
    pub unit_price: Option<DecimalInput>,
    #[schema(max_length = 500)]
    pub notes: Option<String>,
}

/// Reads a delivery's body into the order it describes, for its kind of integration.
pub fn parse_payload(kind: IntegrationKind, body: &str) -> Result<WebhookOrder, String> {
    match kind {
        IntegrationKind::Standard => {
            let value = json_of(body)?;
            serde_path_to_error::deserialize(crate::strict_json::Strict(&value))
                .map_err(|e| format!("{}: {}", e.path(), e.inner()))
        }
        IntegrationKind::Shopify => from_shopify(&json_of(body)?),
        IntegrationKind::Woocommerce => from_woocommerce(&json_of(body)?),
    }
}

fn json_of(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn amount(v: &Value) -> Option<DecimalInput> {
    s(v).and_then(|x| x.parse().ok()).map(DecimalInput)
}

/// Shopify's `orders/create` (REST Admin API order).
fn from_shopify(o: &Value) -> Result<WebhookOrder, String> {
    let id = s(&o["id"]).ok_or("a Shopify order has an `id`")?;
    let address = |a: &Value| {
        (!a.is_null()).then(|| Address {
            address1: s(&a["address1"]),
            address2: s(&a["address2"]),
            city: s(&a["city"]),
            state: s(&a["province_code"]).or_else(|| s(&a["province"])),
            postal_code: s(&a["zip"]),
            country: s(&a["country_code"]),
        })
    };
    let c = &o["customer"];
    let name = |a: &Value| {
        let n = [s(&a["first_name"]), s(&a["last_name"])]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!n.is_empty()).then_some(n)
    };
    let shipping: rust_decimal::Decimal = o["shipping_lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| amount(&l["price"]).map(|d| d.0))
        .sum();
    Ok(WebhookOrder {
        origin_order_id: id,
        order_number: None,
        customer: WebhookCustomer {
            external_id: s(&c["id"]),
            email: s(&o["email"]).or_else(|| s(&c["email"])),
            company_name: s(&o["shipping_address"]["company"])
                .or_else(|| s(&o["billing_address"]["company"]))
                .or_else(|| name(c)),
            contact_name: name(c),
            phone: s(&o["phone"]).or_else(|| s(&c["phone"])),
        },
        items: platform_items(o),
        shipping_address: address(&o["shipping_address"]),
        billing_address: address(&o["billing_address"]),
        shipping_method: o["shipping_lines"][0]["title"].as_str().map(str::to_owned),
        shipping_cost: Some(DecimalInput(shipping)),
        total_tax: amount(&o["total_tax"]),
        // Shopify's line `price` is before discounts; `total_discounts` is what they took.
        order_discount: amount(&o["total_discounts"]),
        currency: s(&o["currency"]),
        financial_status: s(&o["financial_status"]),
        notes: s(&o["note"]),
    })
}

/// The `line_items` of a Shopify or WooCommerce order (both name them the same way:
/// `sku`, `quantity`, `price`).
fn platform_items(o: &Value) -> Vec<WebhookItem> {
    o["line_items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| WebhookItem {
            product_id: None,
            sku: s(&l["sku"]),
            quantity: l["quantity"].as_i64().unwrap_or(0),
            unit_price: amount(&l["price"]),
            notes: None,
        })
        .collect()
}

/// WooCommerce's `order.created` (REST API v3 order).
fn from_woocommerce(o: &Value) -> Result<WebhookOrder, String> {
    let id = s(&o["id"]).ok_or("a WooCommerce order has an `id`")?;
    let address = |a: &Value| {
        (!a.is_null()).then(|| Address {
            address1: s(&a["address_1"]),
            address2: s(&a["address_2"]),
            city: s(&a["city"]),
            state: s(&a["state"]),
            postal_code: s(&a["postcode"]),
            country: s(&a["country"]),
        })
    };
    let b = &o["billing"];
    let name = [s(&b["first_name"]), s(&b["last_name"])]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = (!name.is_empty()).then_some(name);
    let customer_id = o["customer_id"].as_i64().filter(|id| *id > 0).map(|id| id.to_string());
    Ok(WebhookOrder {
        origin_order_id: id,
        order_number: None,
        customer: WebhookCustomer {
            external_id: customer_id,
            email: s(&b["email"]),
            company_name: s(&b["company"]).or_else(|| name.clone()),
            contact_name: name,
            phone: s(&b["phone"]),
        },
        items: platform_items(o),
        shipping_address: address(&o["shipping"]),
        billing_address: address(b),
        shipping_method: o["shipping_lines"][0]["method_title"].as_str().map(str::to_owned),
        shipping_cost: amount(&o["shipping_total"]),
        total_tax: amount(&o["total_tax"]),
        // WooCommerce's line `price` is already net of its discounts (`discount_total`).
        order_discount: None,
        currency: s(&o["currency"]),
        financial_status: match o["status"].as_str() {
            Some("pending") | Some("on-hold") => Some("pending".into()),
            _ => Some("paid".into()),
        },
        notes: s(&o["customer_note"]),
    })
}

/// The alerts an order's shipping address gives: missing parts, or a postal code that
/// is not its country's shape.
pub fn address_alerts(a: Option<&Address>) -> Vec<&'static str> {
    let Some(a) = a else {
        return vec![MISSING_SHIPPING_ADDRESS];
    };
    let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let country_ok = a
        .country
        .as_deref()
        .is_some_and(|c| isocountry::CountryCode::for_alpha2_caseless(c.trim()).is_ok());
    if !present(&a.address1) || !present(&a.city) || !country_ok {
        return vec![MISSING_SHIPPING_ADDRESS];
    }
    let country = a.country.as_deref().unwrap_or_default();
    match a.postal_code.as_deref() {
        Some(code) if crate::postal::valid(country, code) => Vec::new(),
        None if crate::postal::valid(country, "") => Vec::new(),
        _ => vec![INVALID_SHIPPING_POSTAL_CODE],
    }
}
