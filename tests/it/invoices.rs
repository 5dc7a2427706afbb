//! The invoice PDF (issue 15 point 1): what it shows, read back out of the PDF with
//! poppler's `pdftotext` (`.ci/poppler.sh` installs it; `OMS_TEST_PDFTOTEXT` names it), its
//! pages when the lines run long, and who may fetch it. On both adapters.

use serde_json::{json, Value};
use std::io::Write;
use std::process::Command;

use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, ORDERS};

on_both_adapters!(
    an_invoice_shows_the_order_and_its_numbers_add_up,
    a_long_order_runs_onto_pages_each_with_its_headers,
    only_who_may_read_the_order_gets_its_invoice,
    an_emailed_invoice_goes_once_per_request_with_the_pdf_attached,
    a_refused_invoice_email_records_nothing,
);

/// The text of each page of `pdf`, laid out as on the page (`pdftotext -layout`).
fn pdf_pages(pdf: &[u8]) -> Vec<String> {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF: {:?}", &pdf[..pdf.len().min(40)]);
    let tool = std::env::var("OMS_TEST_PDFTOTEXT").unwrap_or_else(|_| "pdftotext".to_owned());
    let mut child = Command::new(&tool)
        .args(["-layout", "-enc", "UTF-8", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("the invoice tests read PDFs with `{tool}` (poppler-utils): {e}; run `make test`, or .ci/poppler.sh")
        });
    child.stdin.take().expect("stdin").write_all(pdf).expect("write pdf");
    let out = child.wait_with_output().expect("pdftotext");
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

async fn invoice(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    pdf_pages(&invoice_pdf(app, token, id).await)
}

async fn invoice_pdf(app: &TestApp, token: &str, id: &str) -> Vec<u8> {
    let (status, headers, pdf) = app.download(&format!("{ORDERS}/{id}/invoice"), token).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(headers["content-disposition"]
        .to_str()
        .is_ok_and(|v| v.contains("invoice-ORD-")));
    pdf
}

/// An amount as the invoice prints it: thousands grouped (`1,313.13`).
fn grouped(amount: &str) -> String {
    let (int, frac) = amount.split_once('.').expect("decimals");
    let digits: Vec<char> = int.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    format!("{out}.{frac}")
}

fn id_of(r: &Value) -> String {
    r["data"]["id"].as_str().expect("id").to_owned()
}

async fn an_invoice_shows_the_order_and_its_numbers_add_up(app: TestApp) {
    let d = demo(&app).await;
    let seller = json!({"address": {"address1": "1 Harbour Way", "city": "Portland", "state": "OR", "postal_code": "97209", "country": "US"}, "tax_id": "US 12-3456789"});
    let r = app.call("PATCH", "/api/v1/settings", &d.owner, Some(seller)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = json!({
        "customer_id": d.t.acme,
        "items": [
            {"sku": "WIDGET-001", "quantity": 12, "tax_amount": "96.00", "notes": "Blue, boxed in pairs"},
            {"sku": "GADGET-002", "quantity": 1},
            {"sku": "BOLT-M8", "quantity": 2, "discount_amount": "20.00"},
        ],
        "shipping_info": {"address1": "9 Dock Road", "city": "Oakland", "state": "CA", "postal_code": "94607", "country": "US", "method": "Freight"},
        "payment_terms": {"terms": "Net 30", "due_days": 30, "method": "Bank transfer"},
        "due_date": "2099-01-15",
        "notes": "Deliver to the loading bay behind the warehouse; call ahead.",
        "charges": [
            {"type": "shipping", "name": "Freight", "amount": "45.00"},
            {"type": "promotion", "name": "Loyalty", "percentage": "5"},
        ],
    });
    let r = app.call("POST", ORDERS, &d.owner, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["data"];
    let pdf = invoice_pdf(&app, &d.owner, &id_of(&r.body)).await;
    let pages = pdf_pages(&pdf);
    assert_eq!(pages.len(), 1, "a short order is one page");
    let page = &pages[0];
    let number = o["order_number"].as_str().expect("number");
    let money = |v: &Value| grouped(v.as_str().expect("amount"));
    for want in [
        "Demo Distributors",
        "1 Harbour Way, 97209 Portland OR, US",
        "Tax ID US 12-3456789",
        "INVOICE",
        number,
        "Acme Corporation",
        "Alice Buyer",
        "123 Main St",
        "9 Dock Road",
        "Via Freight",
        "Net 30",
        "Payment method: Bank transfer",
        "Due date 2099-01-15",
        "Deliver to the loading bay",
        "Blue, boxed in pairs",
        "Amounts in USD",
        "Page 1 of 1",
    ] {
        assert!(page.contains(want), "the invoice shows {want:?}:\n{page}");
    }
    // Every line: its SKU, quantity, unit price, tax and total on one row.
    for l in o["items"].as_array().expect("items") {
        let sku = l["sku"].as_str().expect("sku");
        let row = page
            .lines()
            .find(|row| row.contains(sku))
            .unwrap_or_else(|| panic!("{sku}:\n{page}"));
        for v in [&l["unit_price"], &l["tax_amount"], &l["line_total"]] {
            assert!(row.contains(&money(v)), "{sku}'s row shows {v}: {row}");
        }
        let quantity = l["quantity"].to_string();
        assert!(row.split_whitespace().any(|w| w == quantity), "{row}");
    }
    // The totals: subtotal, line tax, line discounts, each charge, the total, each on its
    // row with its amount, the amounts right-aligned in one column.
    let row = |label: &str| -> String {
        page.lines()
            .find(|r| r.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row:\n{page}"))
            .to_owned()
    };
    assert!(row("Subtotal").contains(&money(&o["subtotal_amount"])));
    assert!(row("Line tax").contains("96.00"));
    assert!(row("Line discounts").contains("-20.00"));
    assert!(row("Freight").ends_with("45.00"), "{}", row("Freight"));
    let loyalty = row("Loyalty (5 % of subtotal)");
    assert!(
        loyalty.ends_with(&format!("-{}", money(&o["charges"][1]["amount"]))),
        "{loyalty}"
    );
    let total = row("Total USD");
    assert!(total.ends_with(&money(&o["total_amount"])), "{total}");
    // In the PDF itself, every amount of the totals ends where the line totals end.
    let words = pdf_words(&pdf);
    let right_of = |text: &str| -> Vec<f32> { words.iter().filter(|(w, _)| w == text).map(|(_, x)| *x).collect() };
    let column = right_of(&money(&o["items"][0]["line_total"]));
    assert_eq!(column.len(), 1, "{words:?}");
    for amount in [
        money(&o["subtotal_amount"]),
        "96.00".to_owned(),
        "-20.00".to_owned(),
        "45.00".to_owned(),
        format!("-{}", money(&o["charges"][1]["amount"])),
        money(&o["total_amount"]),
    ] {
        let edges = right_of(&amount);
        assert!(
            edges.iter().any(|x| (x - column[0]).abs() < 0.5),
            "{amount} ends at {edges:?}, the amounts column at {}",
            column[0]
        );
    }
}

/// Each word of the PDF's first page with the x of its right edge (`pdftotext -bbox`).
fn pdf_words(pdf: &[u8]) -> Vec<(String, f32)> {
    let tool = std::env::var("OMS_TEST_PDFTOTEXT").unwrap_or_else(|_| "pdftotext".to_owned());
    let mut child = Command::new(&tool)
        .args(["-bbox", "-f", "1", "-l", "1", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pdftotext");
    child.stdin.take().expect("stdin").write_all(pdf).expect("write pdf");
    let out = String::from_utf8(child.wait_with_output().expect("pdftotext").stdout).expect("utf-8");
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            let x_max = l.split("xMax=\"").nth(1)?.split('"').next()?.parse().ok()?;
            let word = l.split('>').nth(1)?.split('<').next()?.to_owned();
            Some((word, x_max))
        })
        .collect()
}

async fn a_long_order_runs_onto_pages_each_with_its_headers(app: TestApp) {
    let d = demo(&app).await;
    // 250 lines (the most an order holds), dashboard: no stock moves.
    let skus = ["WIDGET-001", "GADGET-002", "BOLT-M8"];
    let lines: Vec<Value> = (0..250)
        .map(|i| json!({"sku": skus[i % 3], "quantity": i + 1, "notes": format!("line note {i}")}))
        .collect();
    let r = app.call("POST", ORDERS, &d.staff, Some(json!({"items": lines}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["data"];
    let started = std::time::Instant::now();
    let pages = invoice(&app, &d.staff, &id_of(&r.body)).await;
    eprintln!(
        "250-line invoice: {} pages in {:?} (debug build)",
        pages.len(),
        started.elapsed()
    );
    assert!(pages.len() >= 5, "250 lines need several pages, got {}", pages.len());
    let n = pages.len();
    let number = o["order_number"].as_str().expect("number");
    for (i, page) in pages.iter().enumerate() {
        for want in ["INVOICE", number, "Demo Distributors", "Line total", "Unit price"] {
            assert!(page.contains(want), "page {} repeats {want:?}:\n{page}", i + 1);
        }
        assert!(
            page.contains(&format!("Page {} of {n}", i + 1)),
            "page {}:\n{page}",
            i + 1
        );
    }
    // Every line appears once, in order, with its note.
    let all = pages.join("\n");
    let mut at = 0;
    for i in 0..250 {
        let note = format!("line note {i}");
        let found = all[at..]
            .find(&format!("{note}\n"))
            .or_else(|| all[at..].find(&format!("{note} ")));
        let found = found.unwrap_or_else(|| panic!("{note} after offset {at}"));
        at += found + note.len();
    }
    // The total is on the last page only.
    let grouped = grouped(o["total_amount"].as_str().expect("total"));
    assert!(
        pages[n - 1]
            .lines()
            .any(|l| l.contains("Total USD") && l.trim_end().ends_with(&grouped)),
        "{grouped}:\n{}",
        pages[n - 1]
    );
    assert!(pages[..n - 1].iter().all(|p| !p.contains("Total USD")));
}

async fn only_who_may_read_the_order_gets_its_invoice(app: TestApp) {
    let d = demo(&app).await;
    let mine = app.call("POST", ORDERS, &d.buyer, Some(items(&[("BOLT-M8", 1)]))).await;
    assert_eq!(mine.status, 201, "{}", mine.body);
    let theirs = app
        .call(
            "POST",
            ORDERS,
            &d.staff,
            Some(json!({"customer_id": d.t.globex, "items": [{"sku": "BOLT-M8", "quantity": 1}]})),
        )
        .await;
    let path = |r: &Value| format!("{ORDERS}/{}/invoice", id_of(r));
    assert_eq!(invoice(&app, &d.buyer, &id_of(&mine.body)).await.len(), 1);
    assert_eq!(invoice(&app, &d.finance, &id_of(&mine.body)).await.len(), 1);
    let other_customer = app.call("GET", &path(&theirs.body), &d.buyer, None).await;
    assert_eq!(
        other_customer.status, 404,
        "another customer's order: {}",
        other_customer.body
    );
    let rival = app.token("rival-co", "OWNER", None);
    let other_tenant = app.call("GET", &path(&mine.body), &rival, None).await;
    assert_eq!(
        other_tenant.status, 404,
        "another tenant's order: {}",
        other_tenant.body
    );
    let forged = app.call("GET", &path(&mine.body), "not-a-token", None).await;
    assert_eq!(forged.status, 401);
    let missing = app
        .call(
            "GET",
            &format!("{ORDERS}/00000000-0000-4000-8000-00000000dead/invoice"),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
    let junk = app
        .call("GET", &format!("{ORDERS}/not-a-uuid/invoice"), &d.owner, None)
        .await;
    assert_eq!(junk.status, 404);
}

/// `POST …/invoice/email`: answered 202 at once; the receipts worker then sends one cover
/// e-mail per request, the PDF attached (the same document `GET …/invoice` gives), to the
/// customer or to the addresses named; each request is audited.
async fn an_emailed_invoice_goes_once_per_request_with_the_pdf_attached(app: TestApp) {
    use oms_domain::notify::EmailKind;
    let d = demo(&app).await;
    let mailer = oms_adapters::mail::MemoryMailer::default();
    let _w = oms_api::workers::spawn(app.app().deps.clone(), std::sync::Arc::new(mailer.clone()));
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 3)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let number = r.body["data"]["order_number"].as_str().expect("number").to_owned();
    let total = r.body["data"]["total_amount"].as_str().expect("total").to_owned();
    let customer_email = r.body["data"]["customer"]["email"]
        .as_str()
        .expect("customer e-mail")
        .to_owned();

    let url = format!("{ORDERS}/{id}/invoice/email");
    let send = |body: Option<Value>| app.call("POST", &url, &d.finance, body);
    let first = send(None).await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(first.body["data"]["to"], json!([customer_email]));
    let second = send(Some(
        json!({"to": ["ap@acme.example", "AP@acme.example", "cfo@acme.example"]}),
    ))
    .await;
    assert_eq!(second.status, 202, "{}", second.body);
    assert_eq!(
        second.body["data"]["to"],
        json!(["ap@acme.example", "cfo@acme.example"]),
        "repeats dropped"
    );

    let invoices = || -> Vec<oms_domain::notify::Email> {
        mailer
            .sent()
            .into_iter()
            .filter(|e| e.kind == EmailKind::Invoice)
            .collect()
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while invoices().len() < 2 && std::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let sent = invoices();
    assert_eq!(sent.len(), 2, "one per request: {sent:?}");
    let mut recipients: Vec<Vec<String>> = sent.iter().map(|e| e.to.clone()).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        vec![
            vec!["ap@acme.example".to_owned(), "cfo@acme.example".to_owned()],
            vec![customer_email]
        ]
    );
    for e in &sent {
        assert_eq!(e.subject, format!("Invoice for order {number} from Demo Distributors"));
        assert!(e.text.contains(&format!("invoice for order {number}")), "{}", e.text);
        assert!(
            e.html.contains(&total) && e.text.contains(&total),
            "the totals are in the e-mail"
        );
        assert_eq!(e.attachments.len(), 1);
        let a = &e.attachments[0];
        assert_eq!(
            (a.filename.as_str(), a.content_type.as_str()),
            (format!("invoice-{number}.pdf").as_str(), "application/pdf")
        );
        let page = pdf_pages(&a.bytes).join("\n");
        assert!(page.contains(&number) && page.contains(&total), "{page}");
        // The MIME the SES adapter sends carries it as an attachment.
        let mime =
            String::from_utf8(oms_adapters::mail::mime(e, "orders@test.example", "<t@oms.local>").expect("mime"))
                .expect("utf-8");
        assert!(
            mime.contains("multipart/mixed") && mime.contains(&format!("filename=\"invoice-{number}.pdf\"")),
            "{mime}"
        );
    }
    let log = invoices_sent(&app, &d.owner, &id).await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(log.body["data"].as_array().map(Vec::len), Some(2), "{}", log.body);
}

async fn a_refused_invoice_email_records_nothing(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let url = format!("{ORDERS}/{id}/invoice/email");
    let before = app.counts(&d.t.company).await;
    let eleven: Vec<String> = (0..11).map(|i| format!("a{i}@acme.example")).collect();
    for (body, field) in [
        (json!({"to": []}), "to"),
        (json!({"to": eleven}), "to"),
        (json!({"to": ["ok@acme.example", "not an address"]}), "to[1]"),
        (json!({"to": "ap@acme.example"}), "to"),
        (json!({"cc": ["ap@acme.example"]}), "cc"),
    ] {
        let r = app.call("POST", &url, &d.owner, Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert!(
            r.fields().contains(&field) || r.message().contains(field),
            "{body}: {}",
            r.body
        );
    }
    // Who may not: a customer (even for its own order), another company (404).
    let r = app.call("POST", &url, &d.buyer, None).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "permission_error"), "{}", r.body);
    let rival = app.token("rival-co", "OWNER", None);
    assert_eq!(app.call("POST", &url, &rival, None).await.status, 404);
    // Nothing to send: a draft, a cancelled order, a customer without an e-mail.
    let draft = crate::support::place_draft(&app, &d, "WIDGET-001", 1).await;
    let r = app
        .call("POST", &format!("{ORDERS}/{draft}/invoice/email"), &d.owner, None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "invoice_unavailable"),
        "{}",
        r.body
    );
    let cancelled = crate::support::order_in(&app, &d, oms_domain::order::OrderStatus::Cancelled).await;
    let r = app
        .call("POST", &format!("{ORDERS}/{cancelled}/invoice/email"), &d.owner, None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "invoice_unavailable"),
        "{}",
        r.body
    );
    let walk_in = crate::support::place(&app, &d).await;
    let r = app
        .call("POST", &format!("{ORDERS}/{walk_in}/invoice/email"), &d.owner, None)
        .await;
    assert_eq!((r.status.as_u16(), r.fields()), (422, vec!["to"]), "{}", r.body);

    let after = app.counts(&d.t.company).await;
    // Only the orders' own events: the draft's, the cancelled one's two, the walk-in's.
    assert_eq!(after.outbox - before.outbox, 1 + 2 + 1);
    let log = invoices_sent(&app, &d.owner, &id).await;
    assert_eq!(log.body["data"].as_array().map(Vec::len), Some(0), "{}", log.body);
}

/// The order's `InvoiceSent` audit entries.
async fn invoices_sent(app: &TestApp, token: &str, id: &str) -> oms_tests::Reply {
    let path = format!("/api/v1/audit-log?entity=order&entity_id={id}&action=InvoiceSent");
    app.call("GET", &path, token, None).await
}
