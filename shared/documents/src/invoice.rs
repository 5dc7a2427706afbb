//! The invoice PDF of an order (SPEC §6 `GET /sales/orders/{id}/invoice`): the company, the
//! customer and its addresses, the order's number and dates, every line, the charges, the
//! totals (aligned under the amounts column), the notes and the payment terms. Lines run
//! onto as many pages as they need, each with the page header and the table's header
//! repeated and "page i of n" at its foot. The same order always renders the same text:
//! nothing depends on when it is rendered.

use oms_domain::catalog::Address;
use oms_domain::error::Error;
use oms_domain::money::{Amount, Currency};
use oms_domain::order::{ChargeBasis, Order, OrderLine, ShippingInfo};

use crate::layout::{Doc, Ink, Weight, BOTTOM, MARGIN, PAGE_WIDTH};

/// Who the invoice is from.
#[derive(Debug, Clone, Default)]
pub struct Issuer {
    /// The company's name (settings).
    pub name: String,
    /// Where replies go (settings' e-mail reply-to), if set.
    pub email: Option<String>,
    /// The company's postal address, if set.
    pub address: Option<Address>,
    /// The company's tax or VAT number, if set.
    pub tax_id: Option<String>,
}

impl Issuer {
    /// The issuer the company's settings describe.
    pub fn of(settings: &oms_domain::settings::CompanySettings) -> Issuer {
        Issuer {
            name: settings.name.clone(),
            email: settings.email.reply_to.clone(),
            address: settings.address.clone(),
            tax_id: settings.tax_id.clone(),
        }
    }
}

const RIGHT: f32 = PAGE_WIDTH - MARGIN;
const BODY: f32 = 9.0;
const SMALL: f32 = 7.5;
const LEADING: f32 = 12.0;

/// The table's columns: left edges for text, right edges for numbers.
struct Columns;
impl Columns {
    const SKU: f32 = MARGIN;
    const SKU_ROOM: f32 = 78.0;
    const ITEM: f32 = MARGIN + 84.0;
    const ITEM_ROOM: f32 = 150.0;
    const QTY: f32 = 330.0;
    const UNIT: f32 = 410.0;
    const TAX: f32 = 470.0;
    const TOTAL: f32 = RIGHT;
    const NUMBER_ROOM: f32 = 72.0;
}

/// An amount as the invoice shows it: grouped thousands, the currency's minor units, no
/// currency code (the page says which currency once).
fn money(a: Amount, c: Currency) -> String {
    let full = oms_domain::notify::format_money(a, c);
    full.split_once(' ').map_or(full.clone(), |(_, n)| n.to_owned())
}

fn address_lines(a: &Address) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(a.address1.clone());
    out.extend(a.address2.clone());
    let city = [a.postal_code.as_deref(), a.city.as_deref(), a.state.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !city.is_empty() {
        out.push(city);
    }
    out.extend(a.country.clone());
    out
}

fn ship_to(s: &ShippingInfo) -> Vec<String> {
    let mut out = address_lines(&s.address());
    if let Some(m) = &s.method {
        out.push(format!("Via {m}"));
    }
    if let Some(i) = &s.instructions {
        out.push(i.clone());
    }
    out
}

/// The invoice of `order` from `issuer`, as PDF bytes.
pub fn render(order: &Order, issuer: &Issuer) -> Result<Vec<u8>, Error> {
    let title = format!("Invoice {} - {}", order.order_number, issuer.name);
    let doc = Doc::new(&title).ok_or_else(|| Error::internal("the invoice's embedded fonts cannot be read"))?;
    let mut w = Writer {
        doc,
        order,
        issuer,
        y: 0.0,
    };
    w.y = page_header(&mut w.doc, order, issuer);
    w.parties();
    w.lines();
    w.totals();
    w.terms_and_notes();
    let (company, number) = (issuer.name.clone(), order.order_number.to_string());
    w.doc
        .finish(move |d, page, of| footer(d, &company, &number, page, of))
        .ok_or_else(|| Error::internal("the invoice's fonts could not be subset"))
}

/// The invoice being written, and how far down the page it is.
struct Writer<'a> {
    doc: Doc,
    order: &'a Order,
    issuer: &'a Issuer,
    y: f32,
}

impl Writer<'_> {
    /// Starts a new page when `height` more would run into the footer (with the lines
    /// table's header again when `table` says the table goes on); says whether it did.
    fn room_for(&mut self, height: f32, table: bool) -> bool {
        if self.y + height <= crate::layout::PAGE_HEIGHT - BOTTOM {
            return false;
        }
        self.doc.new_page();
        self.y = page_header(&mut self.doc, self.order, self.issuer);
        if table {
            self.y = table_header(&mut self.doc, self.y);
        }
        true
    }

    /// Who is billed, where it goes, and the order's facts, in three columns.
    fn parties(&mut self) {
        let o = self.order;
        let mut bill_to = Vec::new();
        if let Some(cu) = &o.customer {
            bill_to.push(cu.company_name.clone());
            bill_to.extend(cu.contact_name.clone());
            bill_to.push(format!("Customer {}", cu.customer_number));
        }
        bill_to.extend(o.billing_address.as_ref().map(address_lines).unwrap_or_default());
        if let Some(cu) = &o.customer {
            bill_to.extend(cu.email.clone());
            bill_to.extend(cu.phone.clone());
        }
        if bill_to.is_empty() {
            bill_to.push("(no customer on this order)".to_owned());
        }
        let ship: Vec<String> = o
            .shipping_info
            .as_ref()
            .map(ship_to)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| vec!["(as billed)".to_owned()]);
        let mut facts = vec![
            format!("Order {}", o.order_number),
            format!("Order date {}", o.order_date),
        ];
        facts.extend(o.due_date.map(|d| format!("Due date {d}")));
        facts.push(format!("Status {}", o.status));
        facts.push(format!("Amounts in {}", o.currency.code()));
        let width = (RIGHT - MARGIN - 24.0) / 3.0;
        let mut deepest = self.y;
        for (i, (label, lines)) in [("Bill to", bill_to), ("Ship to", ship), ("Order", facts)]
            .iter()
            .enumerate()
        {
            let x = MARGIN + i as f32 * (width + 12.0);
            let mut by = self.y;
            self.doc.text(label, Weight::Bold, SMALL, Ink::Muted, x, by);
            by += LEADING;
            for (j, line) in lines.iter().enumerate() {
                let weight = if j == 0 { Weight::Bold } else { Weight::Regular };
                for part in self.doc.wrap(line, weight, BODY, width) {
                    self.doc.text(&part, weight, BODY, Ink::Text, x, by);
                    by += LEADING;
                }
            }
            deepest = deepest.max(by);
        }
        self.y = deepest + 14.0;
    }

    /// The lines table, onto as many pages as it needs.
    fn lines(&mut self) {
        self.y = table_header(&mut self.doc, self.y);
        for line in &self.order.items {
            self.line(line);
        }
    }

    fn line(&mut self, line: &OrderLine) {
        let c = self.order.currency;
        let name = self.doc.wrap(&line.name, Weight::Regular, BODY, Columns::ITEM_ROOM);
        let notes = line
            .notes
            .as_deref()
            .map(|n| self.doc.wrap(n, Weight::Regular, SMALL, Columns::ITEM_ROOM))
            .unwrap_or_default();
        let sku = self
            .doc
            .wrap(line.sku.as_str(), Weight::Regular, SMALL, Columns::SKU_ROOM);
        let height = (name.len() + notes.len()).max(sku.len()) as f32 * LEADING + 4.0;
        let _ = self.room_for(height, true);
        let y = self.y;
        let at = |i: usize| y + i as f32 * LEADING;
        for (i, s) in sku.iter().enumerate() {
            self.doc
                .text(s, Weight::Regular, SMALL, Ink::Muted, Columns::SKU, at(i));
        }
        for (i, n) in name.iter().enumerate() {
            self.doc.text(n, Weight::Regular, BODY, Ink::Text, Columns::ITEM, at(i));
        }
        for (i, n) in notes.iter().enumerate() {
            self.doc
                .text(n, Weight::Regular, SMALL, Ink::Muted, Columns::ITEM, at(name.len() + i));
        }
        let numbers = [
            (line.quantity.to_string(), Columns::QTY),
            (money(line.unit_price, c), Columns::UNIT),
            (money(line.tax_amount, c), Columns::TAX),
            (money(line.line_total, c), Columns::TOTAL),
        ];
        for (text, right) in numbers {
            let size = self.doc.fit(&text, Weight::Regular, BODY, Columns::NUMBER_ROOM);
            self.doc.text_right(&text, Weight::Regular, size, Ink::Text, right, y);
        }
        self.y += height;
        self.doc.rule(MARGIN, RIGHT, self.y - LEADING + 3.0, 0.3, Ink::Muted);
    }

    /// The totals, under the amounts column: what the lines add up to, each charge in the
    /// order it applied, and the total; kept together on one page.
    fn totals(&mut self) {
        let rows = total_rows(self.order);
        let _ = self.room_for(rows.len() as f32 * LEADING + 12.0, false);
        self.y += 4.0;
        for (label, amount, strong) in rows {
            let weight = if strong { Weight::Bold } else { Weight::Regular };
            if strong {
                self.doc
                    .rule(Columns::QTY - 40.0, RIGHT, self.y - LEADING + 3.0, 0.8, Ink::Text);
                self.y += 2.0;
            }
            let label_size = self.doc.fit(&label, weight, BODY, Columns::TAX - MARGIN - 200.0);
            self.doc
                .text_right(&label, weight, label_size, Ink::Text, Columns::TAX, self.y);
            let size = self.doc.fit(&amount, weight, BODY, Columns::NUMBER_ROOM);
            self.doc
                .text_right(&amount, weight, size, Ink::Text, Columns::TOTAL, self.y);
            self.y += LEADING;
        }
        self.y += 10.0;
    }

    /// Payment terms and notes, full width, each headed on whichever page it starts.
    fn terms_and_notes(&mut self) {
        let o = self.order;
        let mut terms = Vec::new();
        if let Some(p) = &o.payment_terms {
            terms.extend(p.terms.clone());
            if let Some(days) = p.due_days {
                let due = o.order_date + chrono::Days::new(u64::from(days));
                terms.push(format!("Payment due within {days} days, by {due}"));
            }
            terms.extend(p.method.as_ref().map(|m| format!("Payment method: {m}")));
        }
        let sections = [
            ("Payment terms", terms.join("\n")),
            ("Notes", o.notes.clone().unwrap_or_default()),
        ];
        for (label, body) in sections.iter().filter(|(_, b)| !b.is_empty()) {
            let mut headed = false;
            for line in self.doc.wrap(body, Weight::Regular, BODY, RIGHT - MARGIN) {
                let new_page = self.room_for(if headed { LEADING } else { 2.0 * LEADING }, false);
                if !headed || new_page {
                    self.doc.text(label, Weight::Bold, SMALL, Ink::Muted, MARGIN, self.y);
                    self.y += LEADING;
                    headed = true;
                }
                self.doc.text(&line, Weight::Regular, BODY, Ink::Text, MARGIN, self.y);
                self.y += LEADING;
            }
            self.y += 6.0;
        }
    }
}

/// The totals' rows: (label, amount, bold).
fn total_rows(o: &Order) -> Vec<(String, String, bool)> {
    let c = o.currency;
    let mut rows = vec![("Subtotal".to_owned(), money(o.subtotal_amount, c), false)];
    let line_tax: rust_decimal::Decimal = o.items.iter().map(|l| l.tax_amount.value()).sum();
    let line_discount: rust_decimal::Decimal = o.items.iter().map(|l| l.discount_amount.value()).sum();
    if !line_tax.is_zero() {
        rows.push(("Line tax".to_owned(), money(Amount::from_decimal(line_tax), c), false));
    }
    if !line_discount.is_zero() {
        let off = format!("-{}", money(Amount::from_decimal(line_discount), c));
        rows.push(("Line discounts".to_owned(), off, false));
    }
    for ch in o.charges_or_legacy() {
        let label = match ch.percentage {
            Some(p) => {
                let basis = match ch.basis.unwrap_or_default() {
                    ChargeBasis::Subtotal => "subtotal",
                    ChargeBasis::RunningTotal => "running total",
                };
                format!("{} ({} % of {basis})", ch.name, p.value().normalize())
            }
            None => ch.name.clone(),
        };
        let sign = if ch.subtracts() { "-" } else { "" };
        rows.push((label, format!("{sign}{}", money(ch.amount, c)), false));
    }
    rows.push((format!("Total {}", c.code()), money(o.total_amount, c), true));
    rows
}

/// Every page's foot: whose invoice for which order, and "Page i of n".
fn footer(d: &mut Doc, company: &str, number: &str, page: usize, of: usize) {
    let y = crate::layout::PAGE_HEIGHT - MARGIN + 6.0;
    d.rule(MARGIN, RIGHT, y - 12.0, 0.3, Ink::Muted);
    let left = format!("{company} - invoice for order {number}");
    d.text(&left, Weight::Regular, SMALL, Ink::Muted, MARGIN, y);
    d.text_right(
        &format!("Page {page} of {of}"),
        Weight::Regular,
        SMALL,
        Ink::Muted,
        RIGHT,
        y,
    );
}

/// The top of every page: who it is from, that it is an invoice, and for which order.
/// Returns where the content below it starts.
fn page_header(doc: &mut Doc, order: &Order, issuer: &Issuer) -> f32 {
    let mut y = MARGIN + 14.0;
    let size = doc.fit(&issuer.name, Weight::Bold, 16.0, RIGHT - MARGIN - 140.0);
    doc.text(&issuer.name, Weight::Bold, size, Ink::Accent, MARGIN, y);
    doc.text_right("INVOICE", Weight::Bold, 16.0, Ink::Text, RIGHT, y);
    y += 15.0;
    // Under the name: the address on one line, then the tax number and where to write.
    let address = issuer
        .address
        .as_ref()
        .map(|a| address_lines(a).join(", "))
        .unwrap_or_default();
    let contact = [
        issuer.tax_id.as_ref().map(|t| format!("Tax ID {t}")),
        issuer.email.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("  ·  ");
    let room = RIGHT - MARGIN - 190.0;
    let mut left = y;
    for line in [address, contact].iter().filter(|l| !l.is_empty()) {
        let size = doc.fit(line, Weight::Regular, BODY, room);
        doc.text(line, Weight::Regular, size, Ink::Muted, MARGIN, left);
        left += LEADING;
    }
    doc.text_right(
        &format!("Order {}  ·  {}", order.order_number, order.order_date),
        Weight::Regular,
        BODY,
        Ink::Muted,
        RIGHT,
        y,
    );
    y = y.max(left - LEADING) + 8.0;
    doc.rule(MARGIN, RIGHT, y, 0.8, Ink::Accent);
    y + 20.0
}

/// The lines table's header. Returns where the first row goes.
fn table_header(doc: &mut Doc, y: f32) -> f32 {
    doc.text("SKU", Weight::Bold, SMALL, Ink::Muted, Columns::SKU, y);
    doc.text("Item", Weight::Bold, SMALL, Ink::Muted, Columns::ITEM, y);
    for (label, right) in [
        ("Qty", Columns::QTY),
        ("Unit price", Columns::UNIT),
        ("Tax", Columns::TAX),
        ("Line total", Columns::TOTAL),
    ] {
        doc.text_right(label, Weight::Bold, SMALL, Ink::Muted, right, y);
    }
    doc.rule(MARGIN, RIGHT, y + 5.0, 0.5, Ink::Text);
    y + 5.0 + LEADING + 2.0
}
