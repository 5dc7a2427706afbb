//! Orders (SPEC §5): the order and its lines, their enums, and the money rules.

pub mod charges;
pub mod index;
mod number;
pub mod query;
pub mod status;
mod totals;

pub use charges::{ChargeBasis, ChargeDirection, ChargeInput, ChargeKind, OrderCharge};
pub use number::OrderNumber;
pub use totals::{compute_totals, LineAmounts, Totals};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::Role;
use crate::catalog::{Address, Fulfillment, Sku};
use crate::ids::{CompanyId, CustomerId, OrderId, ProductId, UserId};
use crate::money::{Amount, Currency};

macro_rules! snake_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod children;
pub use children::{ChildRef, OrderKind, Payment, PaymentKind};

snake_enum!(
    /// The canonical lifecycle (SPEC §5.4).
    OrderStatus {
        Draft => "draft",
        Pending => "pending",
        PendingApproval => "pending_approval",
        Confirmed => "confirmed",
        Processing => "processing",
        OnHold => "on_hold",
        Shipped => "shipped",
        Delivered => "delivered",
        Completed => "completed",
        Cancelled => "cancelled",
    }
);

impl Order {
    /// The products of the lines that track inventory (a product on two lines, twice): the
    /// products whose stock the order's stock steps move.
    pub fn tracked_products(&self) -> Vec<ProductId> {
        self.items
            .iter()
            .filter(|l| l.track_inventory)
            .map(|l| l.product_id)
            .collect()
    }

    /// Refuses an order too large to store as one item (422 `order_too_large`), with the
    /// same answer on every adapter.
    pub fn check_fits(&self) -> Result<(), crate::error::Error> {
        let size = serde_json::to_vec(self).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > MAX_ORDER_BYTES {
            return Err(crate::error::Error::LimitExceeded {
                code: "order_too_large",
                message: format!(
                    "this order would take {} KB to store; an order holds at most {} KB. Shorten line notes or split it into several orders",
                    size.div_ceil(1024),
                    MAX_ORDER_BYTES / 1024
                ),
            });
        }
        Ok(())
    }
}

impl Order {
    /// The order's charges; for an order stored before charges existed, the fixed shipping
    /// and order-level discount its amounts carry, as charges, so an edit keeps them.
    pub fn charges_or_legacy(&self) -> Vec<OrderCharge> {
        if !self.charges.is_empty() {
            return self.charges.clone();
        }
        let line_discounts: rust_decimal::Decimal = self.items.iter().map(|l| l.discount_amount.value()).sum();
        charges::legacy_charges(
            self.shipping_amount.value(),
            self.discount_amount.value() - line_discounts,
        )
    }
}

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Completed | OrderStatus::Cancelled)
    }
}

snake_enum!(
    /// Which door the order came through; decides stock, cap and e-mail rules.
    Channel { Storefront => "storefront", Dashboard => "dashboard", Api => "api", Webhook => "webhook" }
);
snake_enum!(
    /// Where the order originated, for channel reporting.
    Source { OnlineStore => "online_store", Manual => "manual", Phone => "phone", Email => "email", Api => "api" }
);
snake_enum!(Priority { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" });
snake_enum!(FinancialStatus { Pending => "pending", Paid => "paid", Refunded => "refunded" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentMethod {
    Local,
    Dropship,
    Mixed,
}

impl FulfillmentMethod {
    /// LOCAL or DROPSHIP when every line agrees, MIXED otherwise.
    pub fn of(lines: &[OrderLine]) -> FulfillmentMethod {
        let local = lines.iter().any(|l| l.fulfillment == Fulfillment::Local);
        let drop = lines.iter().any(|l| l.fulfillment == Fulfillment::Dropship);
        match (local, drop) {
            (true, true) => FulfillmentMethod::Mixed,
            (false, true) => FulfillmentMethod::Dropship,
            _ => FulfillmentMethod::Local,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    pub method: Option<String>,
    #[serde(alias = "street", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub address1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub address2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub instructions: Option<String>,
}

impl ShippingInfo {
    /// The address's rules plus bounds on the method (100 characters) and the
    /// instructions (500).
    pub fn validate(&self) -> Result<(), crate::error::Error> {
        self.address().validate()?;
        bounded("method", self.method.as_deref(), 100)?;
        bounded("instructions", self.instructions.as_deref(), 500)
    }

    pub fn address(&self) -> Address {
        Address {
            address1: self.address1.clone(),
            address2: self.address2.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentTerms {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 50)]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    pub terms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 3650)]
    #[serde(default, deserialize_with = "crate::whole::de_opt")]
    pub due_days: Option<u32>,
}

impl PaymentTerms {
    /// The method (50 characters), the terms (100) and up to ten years of `due_days`.
    pub fn validate(&self) -> Result<(), crate::error::Error> {
        bounded("method", self.method.as_deref(), 50)?;
        bounded("terms", self.terms.as_deref(), 100)?;
        if self.due_days.is_some_and(|d| d > 3_650) {
            return Err(crate::error::Error::invalid(
                "due_days",
                "due_days must be at most 3650",
            ));
        }
        Ok(())
    }
}

fn bounded(name: &str, v: Option<&str>, max: usize) -> Result<(), crate::error::Error> {
    if v.is_some_and(|s| s.chars().count() > max) {
        return Err(crate::error::Error::invalid(
            name,
            format!("{name} must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// The customer as it was when the order was placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerSummary {
    pub id: CustomerId,
    pub customer_number: String,
    pub company_name: String,
    pub contact_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Who placed the order (the "Placed by" column for dashboard orders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlacedBy {
    pub user_id: UserId,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub line_no: u32,
    pub product_id: ProductId,
    pub sku: Sku,
    /// The product's name at placement. Its description is not copied: it can be long,
    /// and the product has it.
    pub name: String,
    pub quantity: u32,
    /// The price snapshotted at placement (customer override, explicit, or catalog).
    pub unit_price: Amount,
    pub tax_amount: Amount,
    pub discount_amount: Amount,
    pub line_total: Amount,
    pub fulfillment: Fulfillment,
    /// Whether this line's product had inventory tracking on at placement.
    pub track_inventory: bool,
    pub notes: Option<String>,
    /// On a child order: the parent's line this one came from.
    #[serde(default)]
    pub parent_line_no: Option<u32>,
}

/// An order is one DynamoDB item (at most 400 KB): its JSON may take at most this much,
/// which leaves room for the index attributes and DynamoDB's own per-attribute overhead.
/// Every free-text field is bounded, but 250 lines of long multi-byte names and notes can
/// still add up past it, so the whole order is measured before any write.
pub const MAX_ORDER_BYTES: usize = 350 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub id: OrderId,
    pub company_id: CompanyId,
    pub order_number: OrderNumber,
    /// A sale, or a child of one (a return, an invoice: SPEC §10).
    #[serde(default)]
    pub kind: OrderKind,
    /// A child's parent sale.
    #[serde(default)]
    pub parent_id: Option<OrderId>,
    /// A sale's child orders, as each is now.
    #[serde(default)]
    pub children: Vec<ChildRef>,
    /// An invoice's payments and refunds, in the order recorded.
    #[serde(default)]
    pub payments: Vec<Payment>,
    /// An invoice's payments less its refunds; a sale's, summed over its invoices.
    #[serde(default)]
    pub paid_amount: Amount,
    /// An invoice whose payments cover its total.
    #[serde(default)]
    pub is_paid: bool,
    /// A return that put its units back into stock (voiding it takes them out again).
    #[serde(default)]
    pub restocked: bool,
    pub origin_order_id: Option<String>,
    pub integration_id: Option<String>,
    pub channel: Channel,
    pub source: Source,
    pub status: OrderStatus,
    pub customer_id: Option<CustomerId>,
    pub customer: Option<CustomerSummary>,
    pub placed_by: PlacedBy,
    pub sales_rep_id: Option<UserId>,
    pub order_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub priority: Priority,
    pub currency: Currency,
    pub billing_address: Option<Address>,
    pub shipping_info: Option<ShippingInfo>,
    pub payment_terms: Option<PaymentTerms>,
    pub financial_status: FinancialStatus,
    pub fulfillment_method: FulfillmentMethod,
    pub alerts: Vec<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    pub quote_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub items: Vec<OrderLine>,
    /// Order-level charges (SPEC §10), in the order they apply; the amounts below follow
    /// from the lines and these. Orders stored before charges existed have none and carry
    /// their shipping and order discount in the amounts alone ([`Order::charges_or_legacy`]).
    #[serde(default)]
    pub charges: Vec<OrderCharge>,
    pub subtotal_amount: Amount,
    pub tax_amount: Amount,
    pub shipping_amount: Amount,
    pub discount_amount: Amount,
    pub total_amount: Amount,
    /// True when the order's units have left stock for good: at placement (the
    /// `at_placement` policy), or when the order shipped its reservation.
    pub stock_decremented: bool,
    /// True while the order holds its units reserved (`reserve_on_confirm`: from confirm
    /// until it ships or is cancelled).
    #[serde(default)]
    pub stock_reserved: bool,
    /// The UTC month (`2026-11`) whose order cap this order counts against, if any.
    pub cap_month: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancellation_reason: Option<String>,
    /// While `on_hold`: the status it left, which is where it resumes.
    #[serde(default)]
    pub held_from: Option<OrderStatus>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every write; updates are conditional on it.
    pub version: u64,
    /// The generation of the company's high-value counters this order is counted in (see
    /// [`query::HighValueCounting`]). Internal: stored, never shown.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub hv_generation: u32,
}
