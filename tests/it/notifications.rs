//! Notifications end to end (SPEC §8): orders through the API, the relay and the four
//! workers in-process, e-mails read back from a memory mailer; on both adapters.

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oms_adapters::mail::MemoryMailer;
use oms_api::workers::{self, LocalWorkers, MAX_RECEIVES};
use oms_domain::notify::{Email, EmailKind};
use oms_domain::usecases::notifications::{handle, BatchReads, NotifyDeps, Worker};
use oms_tests::TEST_LEASE_SECS;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, ORDERS};

on_both_adapters!(
    a_storefront_order_sends_a_receipt_and_a_staff_alert,
    dashboard_orders_send_nothing,
    one_low_stock_email_lists_every_product_that_dropped,
    a_reservation_that_leaves_stock_low_sends_the_low_stock_email,
    a_duplicate_delivery_sends_one_email,
    a_failed_send_is_retried_and_sent_once,
    a_poison_message_is_dead_lettered_not_dropped,
    events_left_by_a_crash_are_delivered_by_the_sweep,
    cap_notices_go_out_once_each_across_concurrent_orders,
    high_value_orders_alert_finance,
    order_emails_share_one_layout_and_link_to_the_order,
);

fn start(app: &TestApp) -> (MemoryMailer, LocalWorkers) {
    let mailer = MemoryMailer::default();
    let w = workers::spawn(app.app().deps.clone(), Arc::new(mailer.clone()));
    (mailer, w)
}

/// Waits until `done` holds for what was sent (or 10 s pass), then returns it.
async fn sent_when(mailer: &MemoryMailer, done: impl Fn(&[Email]) -> bool) -> Vec<Email> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let sent = mailer.sent();
        if done(&sent) || Instant::now() > until {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the relay has nothing pending, then a little longer for the workers.
async fn settled(app: &TestApp) {
    let until = Instant::now() + Duration::from_secs(10);
    while !app.store().pending_outbox(1, 0).await.expect("pending").is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
}

fn of(sent: &[Email], kind: EmailKind) -> Vec<Email> {
    sent.iter().filter(|e| e.kind == kind).cloned().collect()
}

async fn a_storefront_order_sends_a_receipt_and_a_staff_alert(app: TestApp) {
    let d = demo(&app).await;
    let (mailer, _w) = start(&app);
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 2)])))
        .await;
    assert_eq!(r.status, 201);
    let number = r.body["data"]["order_number"].as_str().expect("number").to_owned();
    let sent = sent_when(&mailer, |s| s.len() >= 2).await;
    let receipt = of(&sent, EmailKind::Receipt);
    assert_eq!(receipt.len(), 1, "{sent:?}");
    assert_eq!(receipt[0].to, vec!["orders@acme.example"]);
    assert!(receipt[0].subject.contains(&number));
    assert!(
        receipt[0]
            .text
            .contains("2 x Premium Widget (WIDGET-001) @ USD 89.99 = USD 179.98"),
        "{}",
        receipt[0].text
    );
    assert!(receipt[0].html.contains("USD 179.98"));
    assert!(!receipt[0].html.contains("/orders/"), "no dashboard URL, no link");
    let alert = of(&sent, EmailKind::StaffAlert);
    assert_eq!(alert.len(), 1);
    let mut to = alert[0].to.clone();
    to.sort();
    assert_eq!(
        to,
        vec!["ops@demo.example", "owner@demo.example"],
        "every OWNER and ADMIN, not STAFF or FINANCE"
    );
    settled(&app).await;
    assert_eq!(mailer.sent().len(), 2, "no low-stock or finance e-mail for this order");
}

async fn dashboard_orders_send_nothing(app: TestApp) {
    let d = demo(&app).await;
    let (mailer, _w) = start(&app);
    assert_eq!(
        app.call("POST", ORDERS, &d.staff, Some(items(&[("BOLT-M8", 3)])))
            .await
            .status,
        201
    );
    settled(&app).await;
    assert!(mailer.sent().is_empty(), "{:?}", mailer.sent());
}

async fn one_low_stock_email_lists_every_product_that_dropped(app: TestApp) {
    let d = demo(&app).await;
    let owner = &d.owner;
    for (sku, stock, threshold) in [
        ("LOW-A", 6, None),
        ("LOW-B", 12, Some(10)),
        ("LOW-C", 3, None),
        ("FINE-D", 50, None),
    ] {
        let mut body = json!({"sku": sku, "name": format!("Part {sku}"), "price": "1.00", "stock": stock});
        if let Some(t) = threshold {
            body["low_stock_threshold"] = json!(t);
        }
        assert_eq!(
            app.call("POST", "/api/v1/products", owner, Some(body)).await.status,
            201
        );
    }
    let (mailer, _w) = start(&app);
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(items(&[("LOW-A", 1), ("LOW-B", 2), ("LOW-C", 1), ("FINE-D", 1)])),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sent = sent_when(&mailer, |s| !of(s, EmailKind::LowStock).is_empty()).await;
    settled(&app).await;
    let low = of(&mailer.sent(), EmailKind::LowStock);
    assert_eq!(low.len(), 1, "one e-mail per order, not per product: {sent:?}");
    let text = &low[0].text;
    assert!(text.contains("Part LOW-A (LOW-A): 5 left (threshold 5)"), "{text}");
    assert!(text.contains("Part LOW-B (LOW-B): 10 left (threshold 10)"), "{text}");
    assert!(text.contains("Part LOW-C (LOW-C): 2 left (threshold 5)"), "{text}");
    assert!(!text.contains("FINE-D"), "{text}");
}

/// Under `reserve_on_confirm` the units leave `stock` at the confirm: that is when the
/// order's one low-stock e-mail goes (none at placement, none again at shipping).
async fn a_reservation_that_leaves_stock_low_sends_the_low_stock_email(app: TestApp) {
    let d = demo(&app).await;
    let owner = &d.owner;
    crate::support::stock_policy(&app, &d, "reserve_on_confirm").await;
    let body = json!({"sku": "LOW-R", "name": "Part LOW-R", "price": "1.00", "stock": 7});
    assert_eq!(
        app.call("POST", "/api/v1/products", owner, Some(body)).await.status,
        201
    );
    let (mailer, _w) = start(&app);
    let r = app.call("POST", ORDERS, &d.buyer, Some(items(&[("LOW-R", 3)]))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    settled(&app).await;
    assert!(
        of(&mailer.sent(), EmailKind::LowStock).is_empty(),
        "placing took nothing"
    );
    for s in ["confirmed", "processing", "shipped"] {
        let r = app
            .call(
                "POST",
                &format!("{ORDERS}/{id}/status"),
                owner,
                Some(json!({"status": s})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    sent_when(&mailer, |s| !of(s, EmailKind::LowStock).is_empty()).await;
    settled(&app).await;
    let low = of(&mailer.sent(), EmailKind::LowStock);
    assert_eq!(low.len(), 1, "{low:?}");
    assert!(
        low[0].text.contains("Part LOW-R (LOW-R): 4 left (threshold 5)"),
        "{}",
        low[0].text
    );
}

async fn a_duplicate_delivery_sends_one_email(app: TestApp) {
    let d = demo(&app).await;
    assert_eq!(
        app.call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
            .await
            .status,
        201
    );
    let event = app
        .store()
        .pending_outbox(10, 0)
        .await
        .expect("pending")
        .pop()
        .expect("an event");
    let mailer = MemoryMailer::default();
    let n = NotifyDeps {
        deps: app.app().deps.clone(),
        mailer: Arc::new(mailer.clone()),
        lease_secs: TEST_LEASE_SECS,
        documents: None,
    };
    // SQS delivers the same message twice (at least once), even concurrently. A copy that
    // finds the other's claim not yet marked sent fails (SQS brings it back later) rather
    // than taking the e-mail for sent.
    let (one, two) = (BatchReads::default(), BatchReads::default());
    let (a, b) = tokio::join!(
        handle(&n, Worker::Receipts, &event, &one),
        handle(&n, Worker::Receipts, &event, &two)
    );
    for r in [&a, &b] {
        if let Err(e) = r {
            assert!(
                matches!(
                    e,
                    oms_domain::Error::Conflict {
                        code: "email_claimed",
                        ..
                    }
                ),
                "{e:?}"
            );
        }
    }
    handle(&n, Worker::Receipts, &event, &Default::default())
        .await
        .expect("a later delivery finds both sent");
    assert_eq!(of(&mailer.sent(), EmailKind::Receipt).len(), 1);
    assert_eq!(of(&mailer.sent(), EmailKind::StaffAlert).len(), 1);
}

async fn a_failed_send_is_retried_and_sent_once(app: TestApp) {
    let d = demo(&app).await;
    let (mailer, w) = start(&app);
    mailer.fail_next(2);
    assert_eq!(
        app.call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
            .await
            .status,
        201
    );
    let sent = sent_when(&mailer, |s| s.len() >= 2).await;
    settled(&app).await;
    assert_eq!(of(&sent, EmailKind::Receipt).len(), 1);
    assert_eq!(of(&mailer.sent(), EmailKind::StaffAlert).len(), 1);
    assert!(w.dead_letters().is_empty());
}

async fn a_poison_message_is_dead_lettered_not_dropped(app: TestApp) {
    let d = demo(&app).await;
    let (mailer, w) = start(&app);
    mailer.fail_next(1_000);
    assert_eq!(
        app.call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
            .await
            .status,
        201
    );
    let until = Instant::now() + Duration::from_secs(20);
    while w.dead_letters().is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead = w.dead_letters();
    assert_eq!(
        dead.len(),
        1,
        "the receipts worker gave up after {MAX_RECEIVES} deliveries: {dead:?}"
    );
    assert_eq!(dead[0].worker, Worker::Receipts);
    assert!(mailer.sent().is_empty());
    // The claim was given back, so a redrive from the dead-letter queue can still send it.
    mailer.fail_next(0);
    let n = NotifyDeps {
        deps: app.app().deps.clone(),
        mailer: Arc::new(mailer.clone()),
        lease_secs: TEST_LEASE_SECS,
        documents: None,
    };
    handle(&n, Worker::Receipts, &dead[0].event, &Default::default())
        .await
        .expect("redrive");
    assert_eq!(of(&mailer.sent(), EmailKind::Receipt).len(), 1);
}

async fn events_left_by_a_crash_are_delivered_by_the_sweep(app: TestApp) {
    let d = demo(&app).await;
    // Orders commit while no relay runs: the process "crashed" after the commit.
    for _ in 0..3 {
        assert_eq!(
            app.call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
                .await
                .status,
            201
        );
    }
    assert_eq!(
        app.store().pending_outbox(100, 0).await.expect("pending").len(),
        3,
        "the events wait in the outbox"
    );
    let (mailer, _w) = start(&app);
    let sent = sent_when(&mailer, |s| of(s, EmailKind::Receipt).len() >= 3).await;
    assert_eq!(of(&sent, EmailKind::Receipt).len(), 3);
    settled(&app).await;
    assert!(app.store().pending_outbox(100, 0).await.expect("pending").is_empty());
}

async fn cap_notices_go_out_once_each_across_concurrent_orders(app: TestApp) {
    let d = demo(&app).await;
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.monthly_order_limit = Some(5);
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let (mailer, _w) = start(&app);
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..7)
        .map(|_| {
            let (app, token) = (app.clone(), d.buyer.clone());
            tokio::spawn(async move {
                app.call("POST", ORDERS, &token, Some(items(&[("WIDGET-001", 1)])))
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 5, "{statuses:?}");
    sent_when(&mailer, |s| !of(s, EmailKind::CapReached).is_empty()).await;
    settled(&app).await;
    let sent = mailer.sent();
    let warning = of(&sent, EmailKind::CapWarning);
    let reached = of(&sent, EmailKind::CapReached);
    assert_eq!(
        (warning.len(), reached.len()),
        (1, 1),
        "{:?}",
        sent.iter().map(|e| &e.subject).collect::<Vec<_>>()
    );
    let mut to = reached[0].to.clone();
    to.sort();
    assert_eq!(
        to,
        vec!["finance@demo.example", "owner@demo.example"],
        "OWNER and FINANCE"
    );
    assert!(reached[0].subject.contains("5 of 5"), "{}", reached[0].subject);
}

async fn high_value_orders_alert_finance(app: TestApp) {
    let d = demo(&app).await;
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.high_value_threshold = "500".parse().expect("decimal");
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let (mailer, _w) = start(&app);
    assert_eq!(
        app.call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 5)])))
            .await
            .status,
        201,
        "449.95: below"
    );
    assert_eq!(
        app.call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 6)])))
            .await
            .status,
        201,
        "539.94: above"
    );
    let sent = sent_when(&mailer, |s| !of(s, EmailKind::HighValue).is_empty()).await;
    settled(&app).await;
    let hv = of(&mailer.sent(), EmailKind::HighValue);
    assert_eq!(hv.len(), 1, "{sent:?}");
    assert_eq!(hv[0].to, vec!["finance@demo.example"]);
    assert!(hv[0].subject.contains("USD 539.94"), "{}", hv[0].subject);
}

/// Every kind shares one responsive layout with the company's name; with a dashboard URL
/// set, order e-mails link to the order (HTML button and plain-text line); the totals are
/// rows of the lines' table, under its amounts column.
async fn order_emails_share_one_layout_and_link_to_the_order(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call(
            "PATCH",
            "/api/v1/settings",
            &d.owner,
            Some(json!({"monthly_order_limit": 1, "high_value_threshold": "100", "email": {"dashboard_url": "https://dash.example.com/app/"}, "address": {"address1": "1 Harbour Way", "city": "Portland", "postal_code": "97209", "country": "US"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (mailer, _w) = start(&app);
    // Receipt, staff alert, low stock (BOLT-M8 starts at 3, threshold 5), high value, cap.
    let mut body = items(&[("WIDGET-001", 2), ("BOLT-M8", 1)]);
    body["notes"] = json!("Ring <twice> & wait");
    let r = app.call("POST", ORDERS, &d.buyer, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let total = r.body["data"]["total_amount"].as_str().expect("total").to_owned();
    // A cap of 1: the one order passes 80 % and reaches 100 %, both notices.
    let sent = sent_when(&mailer, |s| s.len() >= 6).await;
    let kinds: Vec<EmailKind> = sent.iter().map(|e| e.kind).collect();
    for k in [
        EmailKind::Receipt,
        EmailKind::StaffAlert,
        EmailKind::LowStock,
        EmailKind::HighValue,
        EmailKind::CapWarning,
        EmailKind::CapReached,
    ] {
        assert!(kinds.contains(&k), "{k:?} in {kinds:?}");
    }
    let link = format!("https://dash.example.com/app/orders/{id}");
    for e in &sent {
        assert!(e.html.starts_with("<!doctype html>"), "{:?}", e.kind);
        assert!(e.html.contains("name=\"viewport\""), "{:?}: responsive", e.kind);
        assert!(e.html.contains("max-width:600px"), "{:?}", e.kind);
        assert!(e.html.contains("Demo Distributors"), "{:?}: the company's name", e.kind);
        assert!(
            e.html.contains("1 Harbour Way, 97209, Portland, US"),
            "{:?}: its address in the footer",
            e.kind
        );
        let about_the_order = !matches!(e.kind, EmailKind::CapReached | EmailKind::CapWarning);
        assert_eq!(e.html.contains(&link), about_the_order, "{:?}: the link", e.kind);
        assert_eq!(
            e.text.contains(&link),
            about_the_order,
            "{:?}: the link in text",
            e.kind
        );
        assert!(
            !e.text.contains('<') || e.kind == EmailKind::StaffAlert,
            "{:?}: plain text stays plain",
            e.kind
        );
    }
    let alert = of(&sent, EmailKind::StaffAlert);
    assert!(
        alert[0].html.contains("Ring &lt;twice&gt; &amp; wait"),
        "notes are escaped"
    );
    // The total is a row of the lines' table: label over three columns, amount in the fourth.
    let receipt = &of(&sent, EmailKind::Receipt)[0].html;
    let grouped = format!("USD {total}");
    let at = receipt
        .find(&format!(">{grouped}</td></tr></table>"))
        .expect("the total closes the lines' table");
    let row = &receipt[receipt[..at].rfind("<tr>").expect("row")..at];
    assert!(row.contains("colspan=\"3\"") && row.contains(">Total<"), "{row}");
}
