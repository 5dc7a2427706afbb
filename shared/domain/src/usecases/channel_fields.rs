//! Who may set what when placing an order: the request fields each channel's callers may
//! set. A storefront buyer (a CUSTOMER token) describes what it wants and where it goes;
//! the distributor decides the rest (numbers, dates of record, prices, tax, shipping,
//! priority, who sold it). Staff (dashboard and API orders) and integrations set every
//! field, within the bounds placement checks for everyone; only integrations set
//! `origin_order_id`. The README's "Who may set what" table is this file.

use super::place_order::{CreateOrderItem, CreateOrderRequest};
use crate::error::FieldErrors;
use crate::order::Channel;

/// What a storefront order may carry.
pub const STOREFRONT_FIELDS: &[&str] = &[
    "customer_id",
    "items",
    "billing_address",
    "shipping_info",
    "due_date",
    "payment_terms",
    "notes",
    "quote_id",
];
/// What each storefront line may carry.
pub const STOREFRONT_ITEM_FIELDS: &[&str] = &["product_id", "sku", "quantity", "notes"];
/// Of the payment terms, a buyer chooses the method; credit terms are the distributor's.
pub const STOREFRONT_PAYMENT_FIELDS: &[&str] = &["method"];

macro_rules! set_fields {
    ($value:expr; $($name:ident),* $(,)?) => {{
        let mut f: Vec<&'static str> = Vec::new();
        $( if $value.$name.is_some() { f.push(stringify!($name)); } )*
        f
    }};
}

impl CreateOrderRequest {
    /// The top-level fields this request sets (`items` always).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut f = set_fields!(self; customer_id, order_number, origin_order_id, status, source,
            priority, order_date, due_date, currency, billing_address, shipping_info, payment_terms,
            sales_rep_id, notes, tags, custom_fields, quote_id, opportunity_id, shipping_amount,
            discount_amount, charges);
        f.push("items");
        f
    }
}

impl CreateOrderItem {
    pub fn fields(&self) -> Vec<&'static str> {
        let mut f = set_fields!(self; product_id, sku, unit_price, tax_amount, discount_amount, notes);
        f.push("quantity");
        f
    }
}

/// Records every field `channel`'s caller may not set, by its JSON path.
pub(crate) fn refuse_unsettable(channel: Channel, req: &CreateOrderRequest, errors: &mut FieldErrors) {
    if channel != Channel::Storefront {
        return;
    }
    let refuse = |errors: &mut FieldErrors, field: String| {
        let message = format!("{field} is set by the distributor, not by a storefront order");
        errors.push(field, message);
    };
    for f in req.fields().into_iter().filter(|f| !STOREFRONT_FIELDS.contains(f)) {
        refuse(errors, f.to_owned());
    }
    for (i, item) in req.items.iter().enumerate() {
        for f in item
            .fields()
            .into_iter()
            .filter(|f| !STOREFRONT_ITEM_FIELDS.contains(f))
        {
            refuse(errors, format!("items[{i}].{f}"));
        }
    }
    if let Some(p) = &req.payment_terms {
        let set = set_fields!(p; method, terms, due_days);
        for f in set.into_iter().filter(|f| !STOREFRONT_PAYMENT_FIELDS.contains(f)) {
            refuse(errors, format!("payment_terms.{f}"));
        }
    }
}
