//! Per-company settings that change business rules (SPEC §5.3, §11).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Currency;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CompanySettings {
    pub name: String,
    /// The company's postal address: on invoices and in e-mail footers.
    pub address: Option<crate::catalog::Address>,
    /// The company's tax or VAT number, on invoices.
    pub tax_id: Option<String>,
    pub default_currency: Currency,
    /// Dashboard orders check and decrement stock only when this is on (SPEC §11).
    pub dashboard_orders_decrement_stock: bool,
    /// Cancelling an order returns its units to stock (SPEC §5.4).
    pub restock_on_cancel: bool,
    /// When orders move stock (SPEC §10, §11): at placement (default), or reserved on
    /// confirm, taken on ship and released on cancel.
    pub stock_policy: StockPolicy,
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
    /// How the server prices tax and shipping on storefront orders (buyers cannot set them).
    pub storefront: StorefrontPricing,
    /// How the company's e-mails present themselves.
    pub email: EmailSettings,
    /// Bumped by every change; a change is conditional on the version it was derived from.
    pub version: u64,
    /// The generation of the high-value counters: a `high_value_threshold` change starts a
    /// new one, which the recount job fills (read-only).
    pub high_value_generation: u32,
}

/// When a company's orders move stock (SPEC §10, §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockPolicy {
    /// Placing an order takes its units (Distribu's rule; the default).
    #[default]
    AtPlacement,
    /// Placing an order only checks that its units are available; confirming it reserves
    /// them (out of `stock`, into `reserved`), shipping takes them for good, and cancelling
    /// before shipping puts them back.
    ReserveOnConfirm,
}

impl StockPolicy {
    pub const ALL: [StockPolicy; 2] = [StockPolicy::AtPlacement, StockPolicy::ReserveOnConfirm];

    pub fn as_str(self) -> &'static str {
        match self {
            StockPolicy::AtPlacement => "at_placement",
            StockPolicy::ReserveOnConfirm => "reserve_on_confirm",
        }
    }
}

/// The sender of the company's e-mails as recipients see it. The address itself is the
/// deployment's SES identity (the `SenderEmail` parameter); a company names it and says
/// where replies go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EmailSettings {
    /// The display name on `From` (`"Demo Distributors" <orders@…>`); the company name when unset.
    pub sender_name: Option<String>,
    /// Where replies go (`Reply-To`); none means to the sender address.
    pub reply_to: Option<String>,
    /// The dashboard's address (`https://…`): order e-mails then link to
    /// `<dashboard_url>/orders/<order id>`.
    pub dashboard_url: Option<String>,
}

/// Tax and shipping of a storefront order, computed by the server: a buyer's request
/// carries neither. All zero by default (no tax, free shipping).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct StorefrontPricing {
    /// Percent of each line's `unit_price × quantity` (e.g. `8.25`), rounded per line to the
    /// currency with banker's rounding.
    #[schema(value_type = String)]
    pub tax_rate: Decimal,
    /// A flat shipping charge per order.
    #[schema(value_type = String)]
    pub shipping_amount: Decimal,
    /// Orders whose subtotal reaches this ship free; 0 means no free-shipping threshold.
    #[schema(value_type = String)]
    pub free_shipping_threshold: Decimal,
}

impl StorefrontPricing {
    /// The tax of one line whose `unit_price × quantity` is `gross`.
    pub fn line_tax(&self, gross: Decimal, currency: Currency) -> Result<Decimal, crate::error::Error> {
        crate::money::percent_of(gross, self.tax_rate, currency)
            .filter(|t| *t <= crate::money::MAX_ORDER_TOTAL)
            .ok_or_else(|| {
                crate::error::Error::invalid("items", "the tax on these lines is beyond the largest order amount")
            })
    }

    /// The shipping charge for an order with this subtotal.
    pub fn shipping(&self, subtotal: Decimal) -> Decimal {
        let free = !self.free_shipping_threshold.is_zero() && subtotal >= self.free_shipping_threshold;
        if free {
            Decimal::ZERO
        } else {
            self.shipping_amount
        }
    }
}

impl Default for CompanySettings {
    fn default() -> Self {
        CompanySettings {
            name: String::new(),
            address: None,
            tax_id: None,
            default_currency: Currency::USD,
            dashboard_orders_decrement_stock: false,
            restock_on_cancel: false,
            stock_policy: StockPolicy::AtPlacement,
            low_stock_threshold: 5,
            high_value_threshold: Decimal::from(10_000),
            discount_approval_threshold: None,
            monthly_order_limit: None,
            storefront: StorefrontPricing::default(),
            email: EmailSettings::default(),
            version: 0,
            high_value_generation: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pricing(rate: &str, flat: &str, free: &str) -> StorefrontPricing {
        StorefrontPricing {
            tax_rate: rate.parse().unwrap_or_default(),
            shipping_amount: flat.parse().unwrap_or_default(),
            free_shipping_threshold: free.parse().unwrap_or_default(),
        }
    }

    #[test]
    fn storefront_tax_rounds_half_to_even_per_line() {
        let p = pricing("10", "0", "0");
        // 10% of 0.25 is 0.025: banker's rounding gives 0.02; of 0.35, 0.035 gives 0.04.
        assert_eq!(
            p.line_tax("0.25".parse().unwrap_or_default(), Currency::USD).ok(),
            "0.02".parse().ok()
        );
        assert_eq!(
            p.line_tax("0.35".parse().unwrap_or_default(), Currency::USD).ok(),
            "0.04".parse().ok()
        );
        let jpy = Currency::parse("JPY").expect("JPY");
        assert_eq!(
            p.line_tax("125".parse().unwrap_or_default(), jpy).ok(),
            "12".parse().ok()
        );
    }

    #[test]
    fn free_shipping_starts_at_the_threshold_and_zero_means_none() {
        let p = pricing("0", "9.95", "100");
        assert_eq!(p.shipping("99.99".parse().unwrap_or_default()).to_string(), "9.95");
        assert_eq!(p.shipping("100".parse().unwrap_or_default()), Decimal::ZERO);
        let never_free = pricing("0", "9.95", "0");
        assert_eq!(
            never_free.shipping("1000000".parse().unwrap_or_default()).to_string(),
            "9.95"
        );
        assert_eq!(StorefrontPricing::default().shipping(Decimal::ONE), Decimal::ZERO);
    }
}
