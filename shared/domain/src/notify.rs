//! Notifications (SPEC §8): which e-mails an order event leads to, for whom, and what they
//! say. Pure: the workers' use case (`usecases::notifications`) decides when to send, the
//! `Mailer` port delivers, and a "sent" marker per (order, kind) keeps each one to once.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

use crate::auth::Role;
use crate::catalog::Product;
use crate::ids::{CompanyId, OrderId, UserId};
use crate::money::{Amount, Currency};
use crate::order::{Order, OrderNumber};

/// A company user: a person who signs in to the dashboard (its `id` is the identity
/// provider's `sub`) and who receives the staff, stock, cap and finance e-mails of its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub company_id: CompanyId,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Deactivated users receive no e-mail and stay in the audit trail.
    #[serde(default = "yes")]
    pub active: bool,
    /// Bumped by every change; a change is conditional on it.
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    Receipt,
    StaffAlert,
    LowStock,
    CapWarning,
    CapReached,
    HighValue,
}

impl EmailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Receipt => "receipt",
            EmailKind::StaffAlert => "staff_alert",
            EmailKind::LowStock => "low_stock",
            EmailKind::CapWarning => "cap_warning",
            EmailKind::CapReached => "cap_reached",
            EmailKind::HighValue => "high_value",
        }
    }
}

/// One e-mail, with plain-text and HTML bodies. `dedupe_key` names it for the sent marker:
/// `<order id>:<kind>`, or `cap:<month>:<kind>` for the monthly notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub company_id: CompanyId,
    pub kind: EmailKind,
    pub dedupe_key: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The display name on `From` (the address is the deployment's sender).
    pub sender_name: Option<String>,
    /// `Reply-To`, when the company set one.
    pub reply_to: Option<String>,
}

impl Email {
    /// Presented as the company's settings say: its sender name (else its name) and reply-to.
    pub fn from_company(mut self, settings: &crate::settings::CompanySettings) -> Email {
        let name = settings.name.trim();
        self.sender_name = settings
            .email
            .sender_name
            .clone()
            .or_else(|| (!name.is_empty()).then(|| name.to_owned()));
        self.reply_to = settings.email.reply_to.clone();
        self
    }
}

/// `USD 1,234.50`: the ISO code (unambiguous across a distributor's customers) and the
/// amount with thousands separators and the currency's minor units.
pub fn format_money(amount: Amount, currency: Currency) -> String {
    let s = amount.in_currency(currency).to_string();
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{} {sign}{grouped}.{f}", currency.code()),
        None => format!("{} {sign}{grouped}", currency.code()),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The lines and totals, as text and as an HTML table.
fn order_summary(o: &Order) -> (String, String) {
    let money = |a: Amount| format_money(a, o.currency);
    let mut text = String::new();
    let mut html = String::from("<table cellpadding=\"4\" style=\"border-collapse:collapse\"><tr><th align=\"left\">Item</th><th align=\"left\">SKU</th><th align=\"right\">Qty</th><th align=\"right\">Unit price</th><th align=\"right\">Total</th></tr>");
    for l in &o.items {
        let _ = writeln!(
            text,
            "  {} x {} ({}) @ {} = {}",
            l.quantity,
            l.name,
            l.sku,
            money(l.unit_price),
            money(l.line_total)
        );
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td align=\"right\">{}</td><td align=\"right\">{}</td><td align=\"right\">{}</td></tr>",
            escape(&l.name),
            escape(l.sku.as_str()),
            l.quantity,
            money(l.unit_price),
            money(l.line_total)
        );
    }
    html.push_str("</table><table cellpadding=\"4\">");
    // Tax, shipping and discount charges are in their rows; the other charges (surcharges,
    // additional costs, adjustments) each get a row of their own, so the rows add up.
    let mut rows: Vec<(String, String)> = [
        ("Subtotal", o.subtotal_amount),
        ("Tax", o.tax_amount),
        ("Shipping", o.shipping_amount),
        ("Discount", o.discount_amount),
    ]
    .into_iter()
    .map(|(label, a)| (label.to_owned(), money(a)))
    .collect();
    use crate::order::ChargeKind::{Discount, Promotion, Shipping, Tax};
    for c in o
        .charges
        .iter()
        .filter(|c| !matches!(c.kind, Tax | Shipping | Discount | Promotion))
    {
        let sign = if c.subtracts() { "-" } else { "" };
        rows.push((c.name.clone(), format!("{sign}{}", money(c.amount))));
    }
    rows.push(("Total".to_owned(), money(o.total_amount)));
    for (label, a) in rows {
        let _ = writeln!(text, "{label:>10}: {a}");
        let _ = write!(html, "<tr><td>{}</td><td align=\"right\">{a}</td></tr>", escape(&label));
    }
    html.push_str("</table>");
    (text, html)
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2>{body}</body></html>",
        escape(title)
    )
}

pub fn receipt(o: &Order, company_name: &str, to: String) -> Email {
    let (lines, table) = order_summary(o);
    let who = o.customer.as_ref().map_or("", |c| c.company_name.as_str());
    let subject = format!("Your order {} with {company_name}", o.order_number);
    let text = format!(
        "Thank you for your order, {who}.\n\nOrder {} placed {}.\n\n{lines}\nWe will let you know when it ships.\n",
        o.order_number,
        o.created_at.format("%Y-%m-%d %H:%M UTC")
    );
    let html = page(
        &subject,
        &format!(
            "<p>Thank you for your order, {}.</p>{table}<p>We will let you know when it ships.</p>",
            escape(who)
        ),
    );
    Email {
        company_id: o.company_id.clone(),
        kind: EmailKind::Receipt,
        dedupe_key: format!("{}:receipt", o.id),
        to: vec![to],
        subject,
        text,
        html,
        sender_name: None,
        reply_to: None,
    }
}

pub fn staff_alert(o: &Order, to: Vec<String>) -> Email {
    let (lines, table) = order_summary(o);
    let who = o.customer.as_ref().map_or("a customer".to_owned(), |c| {
        format!("{} ({})", c.company_name, c.customer_number)
    });
    let subject = format!(
        "New order {} from {who}: {}",
        o.order_number,
        format_money(o.total_amount, o.currency)
    );
    let text = format!("{who} placed order {} via {}.\n\n{lines}", o.order_number, o.channel);
    let html = page(
        &subject,
        &format!(
            "<p>{} placed order {} via {}.</p>{table}",
            escape(&who),
            escape(o.order_number.as_str()),
            o.channel
        ),
    );
    Email {
        company_id: o.company_id.clone(),
        kind: EmailKind::StaffAlert,
        dedupe_key: format!("{}:staff_alert", o.id),
        to,
        subject,
        text,
        html,
        sender_name: None,
        reply_to: None,
    }
}

/// One e-mail per order listing every ordered product now at or below its threshold.
/// Which order an e-mail is about, when it needs no more of it: what a placement's event
/// carries, so the low-stock worker reads no order.
#[derive(Debug, Clone)]
pub struct OrderRef {
    pub company_id: CompanyId,
    pub id: OrderId,
    pub order_number: OrderNumber,
}

impl OrderRef {
    pub fn of(o: &Order) -> OrderRef {
        OrderRef {
            company_id: o.company_id.clone(),
            id: o.id,
            order_number: o.order_number.clone(),
        }
    }
}

pub fn low_stock(o: &OrderRef, products: &[(Product, u32)], to: Vec<String>) -> Email {
    let subject = format!(
        "Low stock after order {}: {} product(s)",
        o.order_number,
        products.len()
    );
    let mut text = format!(
        "Order {} left these products at or below their low-stock threshold:\n\n",
        o.order_number
    );
    let mut html = String::from("<table cellpadding=\"4\"><tr><th align=\"left\">Product</th><th align=\"left\">SKU</th><th align=\"right\">Stock</th><th align=\"right\">Threshold</th></tr>");
    for (p, threshold) in products {
        let _ = writeln!(
            text,
            "  {} ({}): {} left (threshold {threshold})",
            p.name, p.sku, p.stock
        );
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td align=\"right\">{}</td><td align=\"right\">{threshold}</td></tr>",
            escape(&p.name),
            escape(p.sku.as_str()),
            p.stock
        );
    }
    html.push_str("</table>");
    let html = page(&subject, &html);
    Email {
        company_id: o.company_id.clone(),
        kind: EmailKind::LowStock,
        dedupe_key: format!("{}:low_stock", o.id),
        to,
        subject,
        text,
        html,
        sender_name: None,
        reply_to: None,
    }
}

pub fn cap_notice(company: &CompanyId, month: &str, used: u32, limit: u32, reached: bool, to: Vec<String>) -> Email {
    let kind = if reached {
        EmailKind::CapReached
    } else {
        EmailKind::CapWarning
    };
    let pct = if limit == 0 {
        100
    } else {
        u64::from(used) * 100 / u64::from(limit)
    };
    let subject = if reached {
        format!("Monthly order limit reached: {used} of {limit} for {month}")
    } else {
        format!("{pct}% of the monthly order limit used: {used} of {limit} for {month}")
    };
    let text = format!(
        "{subject}.\n\nCustomer orders beyond the plan's limit are refused until the month ends (UTC) or the plan changes.\n"
    );
    let html = page(
        &subject,
        "<p>Customer orders beyond the plan's limit are refused until the month ends (UTC) or the plan changes.</p>",
    );
    Email {
        company_id: company.clone(),
        kind,
        dedupe_key: format!("cap:{month}:{}", kind.as_str()),
        to,
        subject,
        text,
        html,
        sender_name: None,
        reply_to: None,
    }
}

pub fn high_value(o: &Order, threshold: Decimal, to: Vec<String>) -> Email {
    let (lines, table) = order_summary(o);
    let total = format_money(o.total_amount, o.currency);
    let subject = format!("High-value order {}: {total}", o.order_number);
    let who = o
        .customer
        .as_ref()
        .map_or("(no customer)".to_owned(), |c| c.company_name.clone());
    let limit = format_money(Amount::from_decimal(threshold), o.currency);
    let text = format!(
        "Order {} from {who} totals {total}, at or above the {limit} threshold.\n\n{lines}",
        o.order_number
    );
    let html = page(
        &subject,
        &format!(
            "<p>Order from {} totals {total}, at or above the {limit} threshold.</p>{table}",
            escape(&who)
        ),
    );
    Email {
        company_id: o.company_id.clone(),
        kind: EmailKind::HighValue,
        dedupe_key: format!("{}:high_value", o.id),
        to,
        subject,
        text,
        html,
        sender_name: None,
        reply_to: None,
    }
}

/// Which roles receive each kind (the receipt goes to the customer instead).
pub fn recipients(kind: EmailKind) -> &'static [Role] {
    match kind {
        EmailKind::Receipt => &[],
        EmailKind::StaffAlert | EmailKind::LowStock => &[Role::Owner, Role::Admin],
        EmailKind::CapWarning | EmailKind::CapReached => &[Role::Owner, Role::Finance],
        EmailKind::HighValue => &[Role::Finance],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn money_is_grouped_with_the_currency_code_and_minor_units() {
        let usd = Currency::USD;
        let a = |s: &str| Amount::from_decimal(Decimal::from_str(s).unwrap_or_default());
        assert_eq!(format_money(a("1234567.5"), usd), "USD 1,234,567.50");
        assert_eq!(format_money(a("999"), usd), "USD 999.00");
        assert_eq!(format_money(a("0"), usd), "USD 0.00");
        let jpy = Currency::parse("JPY").expect("JPY");
        assert_eq!(format_money(a("1234"), jpy), "JPY 1,234");
        let bhd = Currency::parse("BHD").expect("BHD");
        assert_eq!(format_money(a("12.5"), bhd), "BHD 12.500");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<b>&\"</b>"), "&lt;b&gt;&amp;&quot;&lt;/b&gt;");
    }
}
