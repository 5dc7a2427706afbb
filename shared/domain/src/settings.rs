//! Per-company settings that change business rules (SPEC §5.3, §11).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Currency;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CompanySettings {
    pub name: String,
    pub default_currency: Currency,
    /// Dashboard orders check and decrement stock only when this is on (SPEC §11).
    pub dashboard_orders_decrement_stock: bool,
    /// Cancelling an order returns its units to stock (SPEC §5.4).
    pub restock_on_cancel: bool,
    /// Products without their own threshold are "low" at or below this.
    pub low_stock_threshold: u32,
    /// Orders at or above this total alert finance and show as high-value.
    #[schema(value_type = String)]
    pub high_value_threshold: Decimal,
    /// Orders whose discount exceeds this go to `pending_approval`; none means never.
    #[schema(value_type = Option<String>)]
    pub discount_approval_threshold: Option<Decimal>,
    /// The plan's monthly cap on customer-placed orders; none means unlimited.
    pub monthly_order_limit: Option<u32>,
}

impl Default for CompanySettings {
    fn default() -> Self {
        CompanySettings {
            name: String::new(),
            default_currency: Currency::USD,
            dashboard_orders_decrement_stock: false,
            restock_on_cancel: false,
            low_stock_threshold: 5,
            high_value_threshold: Decimal::from(10_000),
            discount_approval_threshold: None,
            monthly_order_limit: None,
        }
    }
}
