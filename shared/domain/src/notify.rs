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
    /// An order's invoice, sent on request with the PDF attached.
    Invoice,
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
            EmailKind::Invoice => "invoice",
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
    /// Files sent with it (the invoice's PDF).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A file sent with an e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Email {
    /// An e-mail with no sender name, reply-to or attachments yet (see
    /// [`Email::from_company`]).
    pub fn new(
        company_id: CompanyId,
        kind: EmailKind,
        dedupe_key: String,
        to: Vec<String>,
        subject: String,
        text: String,
        html: String,
    ) -> Email {
        Email {
            company_id,
            kind,
            dedupe_key,
            to,
            subject,
            text,
            html,
            sender_name: None,
            reply_to: None,
            attachments: Vec::new(),
        }
    }

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

/// The lines and totals, as text and as one HTML table whose totals sit under the amounts
/// column. On a phone the unit price column folds to nothing, but stays in the table's
/// grid (not `display:none`, which would shift the line totals out of the totals' column).
fn order_summary(o: &Order) -> (String, String) {
    let money = |a: Amount| format_money(a, o.currency);
    let cell = "padding:8px 6px;border-bottom:1px solid #e5e7eb;vertical-align:top";
    let num = format!("{cell};text-align:right;white-space:nowrap");
    let mut text = String::new();
    let mut html = format!(
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;font-size:14px;margin:8px 0\">\
<tr style=\"color:{MUTED};font-size:12px;text-transform:uppercase;letter-spacing:.04em\"><th align=\"left\" style=\"{cell}\">Item</th><th align=\"right\" style=\"{num}\">Qty</th><th class=\"wide\" align=\"right\" style=\"{num}\">Unit price</th><th align=\"right\" style=\"{num}\">Total</th></tr>"
    );
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
            "<tr><td style=\"{cell}\">{}<br><span style=\"color:{MUTED};font-size:12px\">{}</span></td><td style=\"{num}\">{}</td><td class=\"wide\" style=\"{num}\">{}</td><td style=\"{num}\">{}</td></tr>",
            escape(&l.name),
            escape(l.sku.as_str()),
            l.quantity,
            money(l.unit_price),
            money(l.line_total)
        );
    }
    // Tax, shipping and discount charges are in their rows; the other charges (surcharges,
    // additional costs, adjustments) each get a row of their own, so the rows add up.
    let mut rows: Vec<(String, String)> = vec![("Subtotal".to_owned(), money(o.subtotal_amount))];
    for (label, a) in [("Tax", o.tax_amount), ("Shipping", o.shipping_amount)] {
        if !a.value().is_zero() {
            rows.push((label.to_owned(), money(a)));
        }
    }
    if !o.discount_amount.value().is_zero() {
        rows.push(("Discount".to_owned(), format!("-{}", money(o.discount_amount))));
    }
    use crate::order::ChargeKind::{Discount, Promotion, Shipping, Tax};
    for c in o
        .charges
        .iter()
        .filter(|c| !matches!(c.kind, Tax | Shipping | Discount | Promotion))
    {
        let sign = if c.subtracts() { "-" } else { "" };
        rows.push((c.name.clone(), format!("{sign}{}", money(c.amount))));
    }
    let total = ("Total".to_owned(), money(o.total_amount));
    for (label, a) in rows.iter().chain(std::iter::once(&total)) {
        let _ = writeln!(text, "{label:>10}: {a}");
    }
    let row = |label: &str, amount: &str, strong: bool| {
        let weight = if strong {
            "font-weight:700;font-size:15px;border-top:2px solid #1f2937"
        } else {
            ""
        };
        format!(
            "<tr><td colspan=\"3\" style=\"padding:4px 6px;text-align:right;{weight}\">{}</td><td style=\"padding:4px 6px;text-align:right;white-space:nowrap;{weight}\">{}</td></tr>",
            escape(label),
            escape(amount)
        )
    };
    for (label, a) in &rows {
        html.push_str(&row(label, a, false));
    }
    html.push_str(&row(&total.0, &total.1, true));
    html.push_str("</table>");
    (text, html)
}

/// Who an e-mail is from, as its layout shows it: the company's name, and its dashboard's
/// address when it set one (order e-mails then link to the order).
#[derive(Debug, Clone, Default)]
pub struct Brand {
    pub name: String,
    pub dashboard_url: Option<String>,
    /// The company's postal address on one line, for the footer.
    pub address: Option<String>,
}

impl Brand {
    pub fn of(settings: &crate::settings::CompanySettings) -> Brand {
        Brand {
            name: settings.name.trim().to_owned(),
            dashboard_url: settings.email.dashboard_url.clone(),
            address: settings.address.as_ref().map(|a| {
                [&a.address1, &a.address2, &a.postal_code, &a.city, &a.state, &a.country]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        }
    }

    /// The order's page on the dashboard, when the company set a dashboard URL.
    pub fn order_link(&self, id: OrderId) -> Option<String> {
        self.dashboard_url
            .as_deref()
            .map(|u| format!("{}/orders/{id}", u.trim_end_matches('/')))
    }
}

const ACCENT: &str = "#1d4d8c";
const MUTED: &str = "#6b7280";

/// The one layout every e-mail shares: a 600 px card (full width on a phone) with the
/// company's name at the top, a heading, the body, a button to the order when there is a
/// link, and a footer saying why the reader got it. Tables, inline styles and one media
/// query: what mail clients render alike.
fn layout(brand: &Brand, heading: &str, body: &str, link: Option<(&str, String)>, footer: &str) -> String {
    let button = link.map_or(String::new(), |(label, href)| {
        format!(
            "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" style=\"margin:24px 0 4px\"><tr><td style=\"background:{ACCENT};border-radius:6px\"><a href=\"{}\" style=\"display:inline-block;padding:10px 18px;color:#ffffff;text-decoration:none;font-weight:600\">{}</a></td></tr></table>",
            escape(&href),
            escape(label)
        )
    });
    let name = if brand.name.is_empty() {
        "Orders"
    } else {
        brand.name.as_str()
    };
    let sender = match &brand.address {
        Some(a) if !a.is_empty() => format!("<br>{} · {}", escape(name), escape(a)),
        _ => String::new(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title}</title>\
<style>@media (max-width:620px){{.card{{padding:18px 16px!important}}.wide{{font-size:0!important;line-height:0!important;padding:0!important;width:0!important}}}}</style></head>\
<body style=\"margin:0;padding:0;background:#f3f4f6;color:#1f2937;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5\">\
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#f3f4f6\"><tr><td align=\"center\" style=\"padding:24px 8px\">\
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:600px;background:#ffffff;border-radius:8px;border-top:4px solid {ACCENT}\">\
<tr><td class=\"card\" style=\"padding:20px 28px 0;font-size:17px;font-weight:700;color:{ACCENT}\">{name}</td></tr>\
<tr><td class=\"card\" style=\"padding:12px 28px 24px\"><h1 style=\"margin:0 0 12px;font-size:20px;line-height:1.3\">{heading}</h1>{body}{button}</td></tr>\
<tr><td class=\"card\" style=\"padding:14px 28px 20px;border-top:1px solid #e5e7eb;font-size:12px;color:{MUTED}\">{footer}{sender}</td></tr>\
</table></td></tr></table></body></html>",
        title = escape(heading),
        name = escape(name),
        heading = escape(heading),
        footer = escape(footer),
    )
}

fn paragraph(text: &str) -> String {
    format!("<p style=\"margin:0 0 12px\">{}</p>", escape(text))
}

/// The link as a plain-text line, when there is one.
fn text_link(link: &Option<String>) -> String {
    link.as_ref()
        .map_or(String::new(), |l| format!("\nView the order: {l}\n"))
}

pub fn receipt(o: &Order, brand: &Brand, to: String) -> Email {
    let (lines, table) = order_summary(o);
    let who = o.customer.as_ref().map_or("", |c| c.company_name.as_str());
    let subject = format!("Your order {} with {}", o.order_number, brand.name);
    let placed = o.created_at.format("%Y-%m-%d %H:%M UTC");
    let link = brand.order_link(o.id);
    let text = format!(
        "Thank you for your order, {who}.\n\nOrder {} placed {placed}.\n\n{lines}\nWe will let you know when it ships.\n{}",
        o.order_number,
        text_link(&link)
    );
    let body = format!(
        "{}{}{table}{}",
        paragraph(&format!("Thank you for your order, {who}.")),
        paragraph(&format!("Order {} placed {placed}.", o.order_number)),
        paragraph("We will let you know when it ships.")
    );
    let html = layout(
        brand,
        &format!("Order {} received", o.order_number),
        &body,
        link.map(|l| ("View your order", l)),
        &format!("You receive this because {who} placed an order with {}.", brand.name),
    );
    Email::new(
        o.company_id.clone(),
        EmailKind::Receipt,
        format!("{}:receipt", o.id),
        vec![to],
        subject,
        text,
        html,
    )
}

/// The cover e-mail of an order's invoice: the order's lines and totals in the shared
/// layout, the payment terms, and the invoice PDF (`pdf`) attached. `request` names the
/// request it answers (its event's id): each request is sent once.
pub fn invoice_cover(o: &Order, brand: &Brand, to: Vec<String>, request: &str, pdf: Vec<u8>) -> Email {
    let (lines, table) = order_summary(o);
    let who = o.customer.as_ref().map_or("", |c| c.company_name.as_str());
    let subject = format!("Invoice for order {} from {}", o.order_number, brand.name);
    let filename = format!("invoice-{}.pdf", o.order_number);
    let link = brand.order_link(o.id);
    let mut terms = Vec::new();
    if let Some(p) = &o.payment_terms {
        terms.extend(p.terms.clone());
        terms.extend(p.method.as_ref().map(|m| format!("Payment method: {m}")));
        if let Some(days) = p.due_days {
            let due = o.order_date + chrono::Days::new(u64::from(days));
            terms.push(format!("Payment due within {days} days, by {due}."));
        }
    }
    let opening = format!(
        "Please find attached the invoice for order {} of {} ({filename}).",
        o.order_number, o.order_date
    );
    let greeting = match who {
        "" => "Hello,".to_owned(),
        name => format!("Hello {name},"),
    };
    let text = format!(
        "{greeting}\n\n{opening}\n\n{lines}\n{}{}",
        terms.iter().map(|t| format!("{t}\n")).collect::<String>(),
        text_link(&link)
    );
    let body = format!(
        "{}{}{table}{}",
        paragraph(&greeting),
        paragraph(&opening),
        terms.iter().map(|t| paragraph(t)).collect::<String>()
    );
    let html = layout(
        brand,
        &format!("Invoice for order {}", o.order_number),
        &body,
        link.map(|l| ("View your order", l)),
        &format!(
            "You receive this because {} sent you the invoice of an order.",
            brand.name
        ),
    );
    let mut email = Email::new(
        o.company_id.clone(),
        EmailKind::Invoice,
        format!("{}:invoice:{request}", o.id),
        to,
        subject,
        text,
        html,
    );
    email.attachments.push(Attachment {
        filename,
        content_type: "application/pdf".into(),
        bytes: pdf,
    });
    email
}

pub fn staff_alert(o: &Order, brand: &Brand, to: Vec<String>) -> Email {
    let (lines, table) = order_summary(o);
    let who = o.customer.as_ref().map_or("a customer".to_owned(), |c| {
        format!("{} ({})", c.company_name, c.customer_number)
    });
    let subject = format!(
        "New order {} from {who}: {}",
        o.order_number,
        format_money(o.total_amount, o.currency)
    );
    let link = brand.order_link(o.id);
    let text = format!(
        "{who} placed order {} via {}.\n\n{lines}{}",
        o.order_number,
        o.channel,
        text_link(&link)
    );
    let mut body = paragraph(&format!("{who} placed order {} via {}.", o.order_number, o.channel));
    if let Some(n) = &o.notes {
        body.push_str(&format!(
            "<p style=\"margin:0 0 12px;padding:8px 12px;background:#f9fafb;border-left:3px solid {ACCENT}\">{}</p>",
            escape(n)
        ));
    }
    body.push_str(&table);
    let html = layout(
        brand,
        &format!("New order {}", o.order_number),
        &body,
        link.map(|l| ("Open the order", l)),
        "Sent to the company's owners and admins for every order with a customer.",
    );
    Email::new(
        o.company_id.clone(),
        EmailKind::StaffAlert,
        format!("{}:staff_alert", o.id),
        to,
        subject,
        text,
        html,
    )
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

pub fn low_stock(o: &OrderRef, brand: &Brand, products: &[(Product, u32)], to: Vec<String>) -> Email {
    let subject = format!(
        "Low stock after order {}: {} product(s)",
        o.order_number,
        products.len()
    );
    let mut text = format!(
        "Order {} left these products at or below their low-stock threshold:\n\n",
        o.order_number
    );
    let cell = "padding:8px 6px;border-bottom:1px solid #e5e7eb";
    let num = format!("{cell};text-align:right");
    let mut table = format!(
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;font-size:14px;margin:8px 0\">\
<tr style=\"color:{MUTED};font-size:12px;text-transform:uppercase\"><th align=\"left\" style=\"{cell}\">Product</th><th align=\"right\" style=\"{num}\">Stock</th><th align=\"right\" style=\"{num}\">Threshold</th></tr>"
    );
    for (p, threshold) in products {
        let _ = writeln!(
            text,
            "  {} ({}): {} left (threshold {threshold})",
            p.name, p.sku, p.stock
        );
        let color = if p.stock == 0 { "#b91c1c" } else { "#b45309" };
        let _ = write!(
            table,
            "<tr><td style=\"{cell}\">{}<br><span style=\"color:{MUTED};font-size:12px\">{}</span></td><td style=\"{num};color:{color};font-weight:700\">{}</td><td style=\"{num}\">{threshold}</td></tr>",
            escape(&p.name),
            escape(p.sku.as_str()),
            p.stock
        );
    }
    table.push_str("</table>");
    let link = brand.order_link(o.id);
    text.push_str(&text_link(&link));
    let body = format!(
        "{}{table}",
        paragraph(&format!(
            "Order {} left these products at or below their low-stock threshold:",
            o.order_number
        ))
    );
    let html = layout(
        brand,
        &format!("Low stock after order {}", o.order_number),
        &body,
        link.map(|l| ("Open the order", l)),
        "Sent to the company's owners and admins, once per order that leaves products low.",
    );
    Email::new(
        o.company_id.clone(),
        EmailKind::LowStock,
        format!("{}:low_stock", o.id),
        to,
        subject,
        text,
        html,
    )
}

pub fn cap_notice(
    company: &CompanyId,
    brand: &Brand,
    month: &str,
    used: u32,
    limit: u32,
    reached: bool,
    to: Vec<String>,
) -> Email {
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
    let shown = pct.min(100);
    let bar = format!(
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"margin:4px 0 16px;background:#e5e7eb;border-radius:4px\"><tr><td width=\"{shown}%\" style=\"height:10px;background:{};border-radius:4px\"></td><td></td></tr></table>",
        if reached { "#b91c1c" } else { "#b45309" }
    );
    let body = format!(
        "{}{bar}{}",
        paragraph(&format!(
            "{used} of {limit} customer orders placed in {month} ({pct} %)."
        )),
        paragraph(
            "Customer orders beyond the plan's limit are refused until the month ends (UTC) or the plan changes."
        )
    );
    let heading = if reached {
        "Monthly order limit reached".to_owned()
    } else {
        format!("{pct} % of the monthly order limit used")
    };
    let html = layout(
        brand,
        &heading,
        &body,
        None,
        "Sent to the company's owners and finance, once per month at 80 % and at 100 %.",
    );
    Email::new(
        company.clone(),
        kind,
        format!("cap:{month}:{}", kind.as_str()),
        to,
        subject,
        text,
        html,
    )
}

pub fn high_value(o: &Order, brand: &Brand, threshold: Decimal, to: Vec<String>) -> Email {
    let (lines, table) = order_summary(o);
    let total = format_money(o.total_amount, o.currency);
    let subject = format!("High-value order {}: {total}", o.order_number);
    let who = o
        .customer
        .as_ref()
        .map_or("(no customer)".to_owned(), |c| c.company_name.clone());
    let limit = format_money(Amount::from_decimal(threshold), o.currency);
    let link = brand.order_link(o.id);
    let text = format!(
        "Order {} from {who} totals {total}, at or above the {limit} threshold.\n\n{lines}{}",
        o.order_number,
        text_link(&link)
    );
    let body = format!(
        "{}{table}",
        paragraph(&format!(
            "Order {} from {who} totals {total}, at or above the {limit} threshold.",
            o.order_number
        ))
    );
    let html = layout(
        brand,
        &format!("High-value order {}", o.order_number),
        &body,
        link.map(|l| ("Open the order", l)),
        "Sent to the company's finance users for every order at or above its high-value threshold.",
    );
    Email::new(
        o.company_id.clone(),
        EmailKind::HighValue,
        format!("{}:high_value", o.id),
        to,
        subject,
        text,
        html,
    )
}

/// Which roles receive each kind (the receipt goes to the customer instead).
pub fn recipients(kind: EmailKind) -> &'static [Role] {
    match kind {
        EmailKind::Receipt | EmailKind::Invoice => &[],
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
