//! The renderer on its own: a stored order (the JSON the API answers) renders to a PDF, and
//! a 250-line one (the most an order holds) too, with the time each takes printed (`cargo
//! test --release -p oms-documents -- --nocapture` for the numbers the README quotes).
//! What the PDF says is checked through the API in `tests/it/invoices.rs`.

use oms_documents::invoice::{render, Issuer};
use oms_domain::order::Order;

fn order(lines: usize) -> Order {
    let mut o: Order =
        serde_json::from_str(include_str!("../../domain/tests/fixtures/order.json")).expect("order fixture");
    let first = o.items[0].clone();
    o.items = (0..lines)
        .map(|i| {
            let mut l = first.clone();
            l.line_no = i as u32 + 1;
            l.notes = Some(format!("line note {i}"));
            l
        })
        .collect();
    o
}

#[test]
fn orders_of_one_and_of_250_lines_render() {
    let issuer = Issuer {
        name: "Demo Distributors".into(),
        email: Some("orders@demo.example".into()),
        address: Some(oms_domain::catalog::Address {
            address1: Some("1 Harbour Way".into()),
            city: Some("Portland".into()),
            postal_code: Some("97209".into()),
            country: Some("US".into()),
            ..Default::default()
        }),
        tax_id: Some("US 12-3456789".into()),
    };
    for lines in [1, 250] {
        let o = order(lines);
        let _ = render(&o, &issuer).expect("warm-up");
        let runs = 5;
        let started = std::time::Instant::now();
        let mut size = 0;
        for _ in 0..runs {
            let pdf = render(&o, &issuer).expect("render");
            assert!(pdf.starts_with(b"%PDF-"));
            size = pdf.len();
        }
        let each = started.elapsed() / runs;
        eprintln!("invoice of {lines} line(s): {size} bytes, {each:?} per render");
        assert!(size < 200_000, "fonts are subset: {size} bytes");
    }
}

/// Text a customer or clerk may type renders without a panic or a runaway layout: words
/// longer than a column, characters the fonts lack (emoji, CJK), right-to-left script,
/// control-free but odd whitespace, the longest notes an order takes.
#[test]
fn any_text_an_order_can_hold_renders() {
    let mut o = order(3);
    let long_word = "W".repeat(200);
    o.items[0].name = format!("{long_word} 名前 📦 שלום");
    o.items[1].notes = Some("\u{200b}\u{a0}\t tabs and\u{2028}separators".into());
    o.items[2].sku = oms_domain::catalog::Sku::parse(&"S".repeat(64)).expect("sku");
    o.notes = Some(format!("{} {}", "word ".repeat(390), "x".repeat(40)));
    let issuer = Issuer {
        name: "Ä".repeat(200),
        ..Issuer::default()
    };
    let pdf = render(&o, &issuer).expect("render");
    assert!(pdf.starts_with(b"%PDF-"));
}
