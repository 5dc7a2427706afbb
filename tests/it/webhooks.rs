//! Order webhooks from integrations (issue 12), on both adapters: deliveries signed by an
//! independent implementation (Python's `standardwebhooks` package and `hmac`), verified
//! over the raw body, recorded before the answer, placed by the webhook worker through the
//! ordinary placement use case, never lost and never placed twice.

use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{json, Value};

use oms_api::demo::DemoIntegration;
use oms_domain::ids::IntegrationId;
use oms_domain::integration::IntegrationKind::{self, Shopify, Standard, Woocommerce};
use oms_tests::webhooks::sign;
use oms_tests::{on_both_adapters, ManualClock, Reply, TestApp};

use crate::support::{demo, stock, Demo, ATTENTION, ORDERS};

on_both_adapters!(
    a_platforms_discount_is_the_orders_only_where_its_prices_are,
    a_standard_delivery_is_recorded_as_sent_then_placed,
    bad_signatures_stale_timestamps_and_unknown_integrations_store_nothing,
    a_replayed_delivery_answers_the_first_and_places_nothing,
    a_rotated_secret_verifies_for_24_hours_then_only_the_new_one,
    the_woocommerce_ping_is_answered_and_stores_nothing,
    concurrent_duplicates_record_one_delivery_and_one_order,
    one_origin_order_under_two_delivery_ids_is_one_order,
    each_alert_holds_the_order_for_a_person,
    an_order_held_for_stock_takes_it_when_confirmed,
    under_reservation_a_webhook_order_is_held_by_what_is_available_and_reserved_on_confirm,
    an_unknown_sku_fails_the_delivery_until_a_retry_after_it_is_added,
    a_worker_that_dies_after_placing_leaves_one_order,
    another_companys_integration_is_out_of_reach,
    integrations_are_managed_by_owners_and_admins_and_never_show_a_secret,
    the_delivery_log_pages_newest_first_and_filters_by_status,
    shopify_and_woocommerce_orders_are_read_as_their_platforms_send_them,
    prices_numbers_and_amounts_follow_the_integrations_rights,
    webhook_orders_count_toward_the_monthly_cap,
);

const INTEGRATIONS: &str = "/api/v1/integrations";

type Headers = Vec<(String, String)>;

fn sample(name: &str) -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events/webhooks")
        .join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
    // Compact, as the platforms send it.
    v.to_string()
}

fn now(app: &TestApp) -> i64 {
    app.app().deps.clock.now().timestamp()
}

fn integ(d: &Demo, kind: IntegrationKind) -> &DemoIntegration {
    d.t.integration(kind).expect("demo integration")
}

/// Posts `body` to a demo integration, signed by Python with its secret.
async fn send(app: &TestApp, i: &DemoIntegration, body: &str, delivery: &str) -> Reply {
    let headers = sign(i.kind, i.secret, body, delivery, now(app));
    app.post_webhook(&i.id.to_string(), headers, body).await
}

fn order_body(origin: &str, items: Value) -> String {
    json!({
        "origin_order_id": origin,
        "customer": {"external_id": "C-1", "email": "buyer@initech.example", "company_name": "Initech LLC"},
        "items": items,
        "shipping_address": {"address1": "4120 Freidrich Ln", "city": "Austin", "state": "TX", "postal_code": "78744", "country": "US"},
    })
    .to_string()
}

fn deliveries_path(id: impl std::fmt::Display) -> String {
    format!("{INTEGRATIONS}/{id}/deliveries")
}

async fn delivery(app: &TestApp, d: &Demo, i: IntegrationId, id: &str) -> Value {
    let r = app
        .call("GET", &format!("{}/{id}", deliveries_path(i)), &d.owner, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].clone()
}

async fn deliveries(app: &TestApp, d: &Demo, i: IntegrationId, query: &str) -> Vec<Value> {
    let r = app
        .call(
            "GET",
            &format!("{}?per_page=100{query}", deliveries_path(i)),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().cloned().unwrap_or_default()
}

async fn order(app: &TestApp, d: &Demo, id: &Value) -> Value {
    let id = id.as_str().expect("an order id");
    let r = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].clone()
}

/// The orders an integration placed for an origin id.
async fn orders_for(app: &TestApp, d: &Demo, origin: &str) -> Vec<Value> {
    let r = app
        .call("GET", &format!("{ORDERS}?origin_order_id={origin}"), &d.owner, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().cloned().unwrap_or_default()
}

async fn a_standard_delivery_is_recorded_as_sent_then_placed(app: TestApp) {
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    let body = sample("standard-order.json");
    let widgets = stock(&app, &d, "WIDGET-001").await;
    let r = send(&app, i, &body, "msg_2b7Xq0Yt").await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "received");
    let id = r.body["data"]["delivery_id"].as_str().expect("delivery id").to_owned();

    // Recorded before the answer: the body exactly as sent, the headers that matter, no
    // signature kept.
    let stored = delivery(&app, &d, i.id, &id).await;
    assert_eq!(stored["status"], "received");
    assert_eq!(stored["body"], body.as_str());
    assert_eq!(stored["headers"]["webhook-id"], "msg_2b7Xq0Yt");
    assert!(stored["headers"].get("webhook-signature").is_none(), "{stored}");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets, "nothing placed yet");

    // The worker places it through the ordinary use case, channel webhook.
    app.relay().await;
    let stored = delivery(&app, &d, i.id, &id).await;
    assert_eq!(stored["status"], "placed", "{stored}");
    assert_eq!(stored["attempts"], 1);
    let o = order(&app, &d, &stored["order_id"]).await;
    assert_eq!(o["channel"], "webhook");
    assert_eq!(o["origin_order_id"], "ERP-SO-100245");
    assert_eq!(
        o["integration_id"].as_str().map(|s| s.contains(&i.id.to_string())),
        Some(true),
        "{o}"
    );
    assert_eq!(o["financial_status"], "paid");
    assert_eq!(o["fulfillment_method"], "LOCAL");
    assert_eq!(o["alerts"], json!([]));
    assert_eq!(o["items"].as_array().map(Vec::len), Some(2));
    // Catalog prices (the integration may not set them), its shipping and tax.
    assert_eq!(o["items"][0]["unit_price"], "99.99");
    assert_eq!(o["shipping_amount"], "12.00");
    assert_eq!(o["tax_amount"], "36.75");
    assert_eq!(o["customer"]["company_name"], "Initech LLC");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets - 3);

    // The customer is found again by the integration's id for it, then by e-mail.
    let customer = o["customer_id"].clone();
    let again = json!({"origin_order_id": "ERP-SO-100246", "customer": {"external_id": "ERP-CUST-0042", "email": "someone-else@initech.example"},
        "items": [{"sku": "GADGET-002", "quantity": 1}],
        "shipping_address": {"address1": "1 Main", "city": "Austin", "postal_code": "78701", "country": "US"}})
    .to_string();
    let by_email = json!({"origin_order_id": "ERP-SO-100247", "customer": {"email": "PURCHASING@initech.example"},
        "items": [{"sku": "GADGET-002", "quantity": 1}],
        "shipping_address": {"address1": "1 Main", "city": "Austin", "postal_code": "78701", "country": "US"}})
    .to_string();
    let acme = json!({"origin_order_id": "ERP-SO-100248", "customer": {"email": "orders@acme.example"},
        "items": [{"sku": "GADGET-002", "quantity": 1}],
        "shipping_address": {"address1": "1 Main", "city": "Austin", "postal_code": "78701", "country": "US"}})
    .to_string();
    for (n, b) in [&again, &by_email, &acme].into_iter().enumerate() {
        assert_eq!(send(&app, i, b, &format!("msg_again_{n}")).await.status, 202);
    }
    app.relay().await;
    for (origin, want) in [
        ("ERP-SO-100246", customer.clone()),
        ("ERP-SO-100247", customer.clone()),
        ("ERP-SO-100248", json!(d.t.acme.to_string())),
    ] {
        let found = orders_for(&app, &d, origin).await;
        assert_eq!(found.len(), 1, "{origin}");
        assert_eq!(order(&app, &d, &found[0]["id"]).await["customer_id"], want, "{origin}");
    }
}

async fn bad_signatures_stale_timestamps_and_unknown_integrations_store_nothing(app: TestApp) {
    let d = demo(&app).await;
    let std_i = integ(&d, Standard);
    let shop = integ(&d, Shopify);
    let woo = integ(&d, Woocommerce);
    let body = order_body("BAD-1", json!([{"sku": "WIDGET-001", "quantity": 1}]));
    let t = now(&app);
    let with = |mut h: Vec<(String, String)>, k: &str, v: &str| {
        h.retain(|(name, _)| name != k);
        h.push((k.to_owned(), v.to_owned()));
        h
    };
    let without = |mut h: Vec<(String, String)>, k: &str| {
        h.retain(|(name, _)| name != k);
        h
    };
    let good = sign(Standard, std_i.secret, &body, "msg_bad", t);
    let wrong_secret = sign(Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &body, "msg_bad", t);
    let cases: Vec<(&str, String, Headers, String)> = vec![
        ("another secret", std_i.id.to_string(), wrong_secret, body.clone()),
        (
            "a changed body",
            std_i.id.to_string(),
            good.clone(),
            body.replace("BAD-1", "BAD-2"),
        ),
        (
            "six minutes old",
            std_i.id.to_string(),
            sign(Standard, std_i.secret, &body, "msg_bad", t - 360),
            body.clone(),
        ),
        (
            "six minutes ahead",
            std_i.id.to_string(),
            sign(Standard, std_i.secret, &body, "msg_bad", t + 360),
            body.clone(),
        ),
        (
            "another webhook id",
            std_i.id.to_string(),
            with(good.clone(), "webhook-id", "msg_other"),
            body.clone(),
        ),
        (
            "a timestamp not signed",
            std_i.id.to_string(),
            with(good.clone(), "webhook-timestamp", &(t + 1).to_string()),
            body.clone(),
        ),
        (
            "no signature",
            std_i.id.to_string(),
            without(good.clone(), "webhook-signature"),
            body.clone(),
        ),
        (
            "no timestamp",
            std_i.id.to_string(),
            without(good.clone(), "webhook-timestamp"),
            body.clone(),
        ),
        (
            "a v2 signature",
            std_i.id.to_string(),
            with(good.clone(), "webhook-signature", "v2,AAAA"),
            body.clone(),
        ),
        (
            "garbage signature",
            std_i.id.to_string(),
            with(good.clone(), "webhook-signature", "v1,%%%"),
            body.clone(),
        ),
        (
            "an unknown integration",
            IntegrationId::new(uuid::Uuid::new_v4()).to_string(),
            good.clone(),
            body.clone(),
        ),
        ("not an id", "not-an-id".into(), good.clone(), body.clone()),
        (
            "shopify, another secret",
            shop.id.to_string(),
            sign(Shopify, "not-the-secret", &body, "s1", t),
            body.clone(),
        ),
        (
            "shopify, no signature",
            shop.id.to_string(),
            without(sign(Shopify, shop.secret, &body, "s1", t), "x-shopify-hmac-sha256"),
            body.clone(),
        ),
        (
            "shopify, signed by the standard scheme",
            shop.id.to_string(),
            good.clone(),
            body.clone(),
        ),
        (
            "woocommerce, another secret",
            woo.id.to_string(),
            sign(Woocommerce, "not-the-secret", &body, "w1", t),
            body.clone(),
        ),
        ("woocommerce, unsigned order", woo.id.to_string(), vec![], body.clone()),
    ];
    for (what, integration, headers, body) in cases {
        let r = app.post_webhook(&integration, headers, &body).await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert_eq!(r.code(), "unauthorized", "{what}");
    }
    // A body over the API's limit is refused before anything else, however it is signed.
    let huge = format!(
        r#"{{"origin_order_id": "BIG-1", "notes": "{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let r = app
        .post_webhook(
            &std_i.id.to_string(),
            sign(Standard, std_i.secret, &huge, "msg_big", t),
            &huge,
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.code(), "payload_too_large");
    // Nothing stored, nothing placed.
    for i in [std_i, shop, woo] {
        assert!(deliveries(&app, &d, i.id, "").await.is_empty());
    }
    let c = app.counts(&d.t.company).await;
    assert_eq!((c.orders, c.outbox), (0, 0), "{c:?}");
    // The good one still goes through (the refusals were not a lockout).
    assert_eq!(app.post_webhook(&std_i.id.to_string(), good, &body).await.status, 202);
}

async fn a_replayed_delivery_answers_the_first_and_places_nothing(app: TestApp) {
    let d = demo(&app).await;
    for (kind, id) in [
        (Standard, "msg_replay"),
        (Shopify, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
    ] {
        let i = integ(&d, kind);
        let body = match kind {
            Shopify => sample("shopify-orders-create.json"),
            _ => order_body("REPLAY-1", json!([{"sku": "WIDGET-001", "quantity": 1}])),
        };
        let first = send(&app, i, &body, id).await;
        assert_eq!(first.status, 202, "{}", first.body);
        let again = send(&app, i, &body, id).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!(again.body["data"]["delivery_id"], first.body["data"]["delivery_id"]);
        app.relay().await;
        // After it was placed, a replay still answers the same delivery, now placed.
        let late = send(&app, i, &body, id).await;
        assert_eq!(late.status, 200);
        assert_eq!(late.body["data"]["delivery_id"], first.body["data"]["delivery_id"]);
        assert_eq!(late.body["data"]["status"], "placed", "{kind:?}");
        assert_eq!(deliveries(&app, &d, i.id, "").await.len(), 1, "{kind:?}");
    }
    assert_eq!(app.counts(&d.t.company).await.orders, 2);
}

async fn a_rotated_secret_verifies_for_24_hours_then_only_the_new_one(app: TestApp) {
    let clock = ManualClock::at("2026-11-30T10:00:00Z");
    let app = app.with_clock(clock.clone());
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    let r = app
        .call(
            "POST",
            &format!("{INTEGRATIONS}/{}/rotate-secret", i.id),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_secret = r.body["data"]["secret"].as_str().expect("the new secret").to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != i.secret);
    assert_eq!(r.body["data"]["previous_secret_expires_at"], "2026-12-01T10:00:00Z");
    let post = |secret: String, n: u32| {
        let app = &app;
        async move {
            let body = order_body(&format!("ROT-{n}"), json!([{"sku": "WIDGET-001", "quantity": 1}]));
            let headers = sign(Standard, &secret, &body, &format!("msg_rot_{n}"), now(app));
            app.post_webhook(&i.id.to_string(), headers, &body).await.status
        }
    };
    // During the overlap both verify; so does a signature list with both (as senders
    // send during a rotation).
    clock.set("2026-12-01T09:59:00Z");
    assert_eq!(post(i.secret.to_owned(), 1).await, 202);
    assert_eq!(post(new_secret.clone(), 2).await, 202);
    let body = order_body("ROT-3", json!([{"sku": "WIDGET-001", "quantity": 1}]));
    let old_sig = sign(Standard, i.secret, &body, "msg_rot_3", now(&app));
    let new_sig = sign(Standard, &new_secret, &body, "msg_rot_3", now(&app));
    let pick = |h: &[(String, String)]| h.iter().find(|(k, _)| k == "webhook-signature").map(|(_, v)| v.clone());
    let mut both = new_sig.clone();
    both.retain(|(k, _)| k != "webhook-signature");
    both.push((
        "webhook-signature".into(),
        format!(
            "{} {}",
            pick(&old_sig).unwrap_or_default(),
            pick(&new_sig).unwrap_or_default()
        ),
    ));
    assert_eq!(app.post_webhook(&i.id.to_string(), both, &body).await.status, 202);
    // 24 hours after the rotation only the new one does.
    clock.set("2026-12-01T10:00:01Z");
    assert_eq!(post(i.secret.to_owned(), 4).await, 401);
    assert_eq!(post(new_secret.clone(), 5).await, 202);
    // A second rotation ends the first one's overlap early: the oldest secret is dropped.
    let r = app
        .call(
            "POST",
            &format!("{INTEGRATIONS}/{}/rotate-secret", i.id),
            &d.owner,
            None,
        )
        .await;
    let newest = r.body["data"]["secret"].as_str().expect("secret").to_owned();
    assert_eq!(post(new_secret, 6).await, 202);
    assert_eq!(post(newest, 7).await, 202);
    assert_eq!(post(i.secret.to_owned(), 8).await, 401);
}

async fn the_woocommerce_ping_is_answered_and_stores_nothing(app: TestApp) {
    let d = demo(&app).await;
    let woo = integ(&d, Woocommerce);
    let form = vec![(
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    let r = app
        .post_webhook(&woo.id.to_string(), form.clone(), "webhook_id=12")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "ping");
    assert!(r.body["data"]["delivery_id"].is_null());
    // Only that exact shape is a ping; only a WooCommerce integration answers it.
    for (i, body) in [
        (woo, "webhook_id=12&x=1"),
        (woo, "{\"id\": 1}"),
        (integ(&d, Shopify), "webhook_id=12"),
    ] {
        let r = app.post_webhook(&i.id.to_string(), form.clone(), body).await;
        assert_eq!(r.status, 401, "{body}: {}", r.body);
    }
    assert!(deliveries(&app, &d, woo.id, "").await.is_empty());
    assert_eq!(app.counts(&d.t.company).await.outbox, 0);
}

async fn concurrent_duplicates_record_one_delivery_and_one_order(app: TestApp) {
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    let body = order_body("DUP-1", json!([{"sku": "BOLT-M8", "quantity": 1}]));
    let headers = sign(Standard, i.secret, &body, "msg_dup", now(&app));
    let target = i.id.to_string();
    let replies = join_all((0..12).map(|_| app.post_webhook(&target, headers.clone(), &body))).await;
    let accepted = replies.iter().filter(|r| r.status == 202).count();
    assert_eq!(
        accepted,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|r| r.status == 202 || r.status == 200));
    let ids: std::collections::HashSet<_> = replies.iter().map(|r| r.body["data"]["delivery_id"].clone()).collect();
    assert_eq!(ids.len(), 1, "every answer names the one delivery");
    app.relay().await;
    assert_eq!(deliveries(&app, &d, i.id, "").await.len(), 1);
    assert_eq!(orders_for(&app, &d, "DUP-1").await.len(), 1);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 2);
}

async fn one_origin_order_under_two_delivery_ids_is_one_order(app: TestApp) {
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    // Two deliveries of one order (the platform re-sent it under a new id), placed by
    // workers running at the same time.
    let body = order_body("ORIGIN-1", json!([{"sku": "BOLT-M8", "quantity": 1}]));
    let mut events = Vec::new();
    for n in 0..4 {
        let r = send(&app, i, &body, &format!("msg_origin_{n}")).await;
        assert_eq!(r.status, 202);
        events.push(oms_domain::outbox::DeliveryReceived {
            delivery_id: oms_domain::ids::DeliveryId::parse(r.body["data"]["delivery_id"].as_str().unwrap_or_default())
                .expect("id"),
            integration_id: i.id,
        });
    }
    let deps = app.app().deps.clone();
    let company = d.t.company.clone();
    let outcomes = join_all(events.iter().map(|e| {
        let (deps, company) = (deps.clone(), company.clone());
        async move { oms_domain::usecases::webhooks::process_delivery(&deps, &company, e).await }
    }))
    .await;
    let mut orders = std::collections::HashSet::new();
    for o in &outcomes {
        let p = o.as_ref().expect("processed");
        orders.insert(p.order_id);
    }
    assert_eq!(orders.len(), 1, "{outcomes:?}");
    assert_eq!(orders_for(&app, &d, "ORIGIN-1").await.len(), 1);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 2, "stock taken once");
    let log = deliveries(&app, &d, i.id, "").await;
    let placed = log.iter().filter(|x| x["status"] == "placed").count();
    let duplicate = log.iter().filter(|x| x["status"] == "duplicate").count();
    assert_eq!((placed, duplicate), (1, 3), "{log:?}");
    assert!(log.iter().all(|x| x["order_id"] == log[0]["order_id"]));
    // The relay redelivering their events changes nothing.
    app.relay().await;
    assert_eq!(orders_for(&app, &d, "ORIGIN-1").await.len(), 1);
}

async fn each_alert_holds_the_order_for_a_person(app: TestApp) {
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    let addr = |a: Value| {
        json!({"origin_order_id": format!("ALERT-{}", uuid::Uuid::new_v4().simple()), "customer": {"email": "a@b.example"},
               "items": [{"sku": "WIDGET-001", "quantity": 1}], "shipping_address": a})
    };
    let good = json!({"address1": "Hauptstraße 5", "city": "Berlin", "postal_code": "10115", "country": "DE"});
    let with = |k: &str, v: Value| {
        let mut a = good.clone();
        a[k] = v;
        addr(a)
    };
    let no_address = {
        let mut b = addr(Value::Null);
        b.as_object_mut().map(|o| o.remove("shipping_address"));
        b
    };
    let mut no_items = addr(good.clone());
    no_items["items"] = json!([]);
    let mut short = addr(good.clone());
    short["items"] = json!([{"sku": "BOLT-M8", "quantity": 4}]);
    let cases: Vec<(Value, &[&str])> = vec![
        (addr(good.clone()), &[]),
        (with("postal_code", json!("SW1A 1AA")).tap_country("GB"), &[]),
        (with("postal_code", json!("100-0001")).tap_country("JP"), &[]),
        (no_address, &["missingShippingAddress"]),
        (with("address1", json!("  ")), &["missingShippingAddress"]),
        (with("city", Value::Null), &["missingShippingAddress"]),
        (with("country", json!("Germany")), &["missingShippingAddress"]),
        (with("country", json!("XX")), &["missingShippingAddress"]),
        (with("postal_code", json!("1011")), &["invalidShippingPostalCode"]),
        (with("postal_code", json!("ABCDE")), &["invalidShippingPostalCode"]),
        (with("postal_code", Value::Null), &["invalidShippingPostalCode"]),
        (
            with("postal_code", json!("94105")).tap_country("CA"),
            &["invalidShippingPostalCode"],
        ),
        (no_items, &["noOrderItems"]),
        (short, &["insufficientStock"]),
    ];
    let bolts = stock(&app, &d, "BOLT-M8").await;
    let mut held = Vec::new();
    for (n, (body, want)) in cases.iter().enumerate() {
        let r = send(&app, i, &body.to_string(), &format!("msg_alert_{n}")).await;
        assert_eq!(r.status, 202, "{body}: {}", r.body);
        app.relay().await;
        let stored = delivery(
            &app,
            &d,
            i.id,
            r.body["data"]["delivery_id"].as_str().unwrap_or_default(),
        )
        .await;
        let o = order(&app, &d, &stored["order_id"]).await;
        assert_eq!(o["alerts"], json!(want), "{body}");
        assert_eq!(stored["alerts"], json!(want), "{body}");
        let expected = if want.is_empty() { "placed" } else { "held" };
        assert_eq!(stored["status"], expected, "{body}");
        if !want.is_empty() {
            assert_eq!(o["status"], "pending", "held orders wait for a person: {body}");
            held.push((o["id"].clone(), want[0]));
        }
    }
    assert_eq!(
        stock(&app, &d, "BOLT-M8").await,
        bolts,
        "a held short order moves no stock"
    );
    // Each is in requires-attention with its reason.
    let r = app
        .call("GET", &format!("{ATTENTION}?per_page=100"), &d.owner, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = r.body["data"].as_array().cloned().unwrap_or_default();
    for (id, reason) in held {
        let row = listed
            .iter()
            .find(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed"));
        let reasons = row["reasons"].as_array().cloned().unwrap_or_default();
        assert!(reasons.contains(&json!(reason)), "{row}");
    }
}

trait TapCountry {
    fn tap_country(self, c: &str) -> Value;
}
impl TapCountry for Value {
    fn tap_country(mut self, c: &str) -> Value {
        self["shipping_address"]["country"] = json!(c);
        self
    }
}

async fn an_order_held_for_stock_takes_it_when_confirmed(app: TestApp) {
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    let body = order_body(
        "SHORT-1",
        json!([{"sku": "BOLT-M8", "quantity": 5}, {"sku": "WIDGET-001", "quantity": 2}]),
    );
    assert_eq!(send(&app, i, &body, "msg_short").await.status, 202);
    app.relay().await;
    let o = orders_for(&app, &d, "SHORT-1").await.remove(0);
    let id = o["id"].as_str().expect("id").to_owned();
    let (bolts, widgets) = (stock(&app, &d, "BOLT-M8").await, stock(&app, &d, "WIDGET-001").await);
    let path = format!("{ORDERS}/{id}/status");
    let confirm = || app.call("POST", &path, &d.owner, Some(json!({"status": "confirmed"})));
    // Still short: refused whole, nothing moved.
    let r = confirm().await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.code(), "insufficient_stock");
    assert_eq!(
        (stock(&app, &d, "BOLT-M8").await, stock(&app, &d, "WIDGET-001").await),
        (bolts, widgets)
    );
    // Restocked: confirming takes the stock atomically and clears the alert.
    let r = app
        .call(
            "POST",
            &format!("/api/v1/products/{}/stock-adjustments", d.id("BOLT-M8")),
            &d.staff,
            Some(json!({"delta": 10, "reason": "delivery"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = confirm().await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["alerts"], json!([]));
    assert_eq!(stock(&app, &d, "BOLT-M8").await, bolts + 10 - 5);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets - 2);
    // Cancelling it now returns what it took (it took it once).
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/status"),
            &d.owner,
            Some(json!({"status": "cancelled", "cancellation_reason": "test", "restock": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, bolts + 10);
}

/// Under `reserve_on_confirm` a webhook order takes nothing when placed: it is held only
/// when what is available is short, and confirming it reserves (refused whole while short).
async fn under_reservation_a_webhook_order_is_held_by_what_is_available_and_reserved_on_confirm(app: TestApp) {
    let d = demo(&app).await;
    crate::support::stock_policy(&app, &d, "reserve_on_confirm").await;
    let i = integ(&d, Standard);
    let (bolts, widgets) = (stock(&app, &d, "BOLT-M8").await, stock(&app, &d, "WIDGET-001").await);
    let fits = order_body("RES-FITS", json!([{"sku": "WIDGET-001", "quantity": 2}]));
    let short = order_body("RES-SHORT", json!([{"sku": "BOLT-M8", "quantity": bolts + 1}]));
    assert_eq!(send(&app, i, &fits, "msg_res_fits").await.status, 202);
    assert_eq!(send(&app, i, &short, "msg_res_short").await.status, 202);
    app.relay().await;
    let mut whole = Vec::new();
    for origin in ["RES-FITS", "RES-SHORT"] {
        let listed = orders_for(&app, &d, origin).await.remove(0);
        let path = format!("{ORDERS}/{}", listed["id"].as_str().unwrap_or_default());
        whole.push(app.call("GET", &path, &d.owner, None).await.body["data"].clone());
    }
    let (fits, short) = (whole[0].clone(), whole[1].clone());
    assert_eq!(fits["alerts"], json!([]), "{fits}");
    assert_eq!(short["alerts"], json!(["insufficientStock"]), "{short}");
    assert_eq!(
        (stock(&app, &d, "BOLT-M8").await, stock(&app, &d, "WIDGET-001").await),
        (bolts, widgets),
        "placing takes nothing under reservation"
    );
    let status_of = |o: &Value| format!("{ORDERS}/{}/status", o["id"].as_str().unwrap_or_default());
    let confirmed = || Some(json!({"status": "confirmed"}));
    let r = app.call("POST", &status_of(&fits), &d.owner, confirmed()).await;
    assert_eq!(
        (r.status.as_u16(), r.body["data"]["stock_reserved"].clone()),
        (200, json!(true)),
        "{}",
        r.body
    );
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets - 2);
    let r = app.call("POST", &status_of(&short), &d.owner, confirmed()).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "insufficient_stock"), "{}", r.body);
    let r = app
        .call(
            "POST",
            &format!("/api/v1/products/{}/stock-adjustments", d.id("BOLT-M8")),
            &d.staff,
            Some(json!({"delta": 1, "reason": "delivery"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.call("POST", &status_of(&short), &d.owner, confirmed()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["data"]["alerts"].clone(),
            r.body["data"]["stock_reserved"].clone()
        ),
        (json!([]), json!(true))
    );
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 0);
}

async fn an_unknown_sku_fails_the_delivery_until_a_retry_after_it_is_added(app: TestApp) {
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    let body = order_body(
        "NEW-SKU-1",
        json!([{"sku": "WIDGET-001", "quantity": 1}, {"sku": "NEW-THING", "quantity": 2}]),
    );
    let r = send(&app, i, &body, "msg_unknown").await;
    let id = r.body["data"]["delivery_id"].as_str().expect("id").to_owned();
    app.relay().await;
    let failed = delivery(&app, &d, i.id, &id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().is_some_and(|e| e.contains("NEW-THING")),
        "{failed}"
    );
    assert!(failed["order_id"].is_null());
    assert!(orders_for(&app, &d, "NEW-SKU-1").await.is_empty());
    let retry = format!("{}/{id}/retry", deliveries_path(i.id));
    // Retrying a delivery that is not failed is refused.
    let placed_body = order_body("NEW-SKU-0", json!([{"sku": "WIDGET-001", "quantity": 1}]));
    let placed = send(&app, i, &placed_body, "msg_known").await;
    app.relay().await;
    let r = app
        .call(
            "POST",
            &format!(
                "{}/{}/retry",
                deliveries_path(i.id),
                placed.body["data"]["delivery_id"].as_str().unwrap_or_default()
            ),
            &d.owner,
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "delivery_not_failed"));
    // The SKU is added; the retry places it.
    let r = app
        .call(
            "POST",
            "/api/v1/products",
            &d.owner,
            Some(json!({"sku": "NEW-THING", "name": "New thing", "price": "5.00", "stock": 10})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let product = format!("/api/v1/products/{}", r.body["data"]["id"].as_str().unwrap_or_default());
    let r = app.call("POST", &retry, &d.owner, None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "received");
    app.relay().await;
    let done = delivery(&app, &d, i.id, &id).await;
    assert_eq!(done["status"], "placed", "{done}");
    assert_eq!(done["attempts"], 2);
    assert!(done["error"].is_null());
    assert_eq!(orders_for(&app, &d, "NEW-SKU-1").await.len(), 1);
    assert_eq!(app.call("GET", &product, &d.owner, None).await.body["data"]["stock"], 8);
    // A second retry of a placed delivery is refused; nothing placed twice.
    assert_eq!(app.call("POST", &retry, &d.owner, None).await.status, 409);
}

async fn a_worker_that_dies_after_placing_leaves_one_order(app: TestApp) {
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    let body = order_body("CRASH-1", json!([{"sku": "BOLT-M8", "quantity": 1}]));
    let r = send(&app, i, &body, "msg_crash").await;
    let id =
        oms_domain::ids::DeliveryId::parse(r.body["data"]["delivery_id"].as_str().unwrap_or_default()).expect("id");
    // The worker placed the order and died before marking the delivery: the store is
    // exactly what that leaves (the order and its effects committed; the delivery still
    // `received`; its event to be delivered again by SQS).
    app.relay().await;
    let store = app.store();
    let mut d0 = store
        .get_delivery(&d.t.company, id)
        .await
        .expect("read")
        .expect("delivery");
    let placed_order = d0.order_id;
    assert!(placed_order.is_some());
    d0.status = oms_domain::integration::DeliveryStatus::Received;
    d0.order_id = None;
    reset_delivery(&app, &d0).await;
    let event = oms_domain::outbox::DeliveryReceived {
        delivery_id: id,
        integration_id: i.id,
    };
    // SQS delivers the event again, twice at once.
    let deps = app.app().deps.clone();
    let runs =
        join_all((0..2).map(|_| oms_domain::usecases::webhooks::process_delivery(&deps, &d.t.company, &event))).await;
    for r in &runs {
        let p = r.as_ref().expect("processed");
        assert_eq!(p.order_id, placed_order, "the same order");
    }
    let after = delivery(&app, &d, i.id, &id.to_string()).await;
    assert_eq!(after["status"], "placed", "{after}");
    assert_eq!(orders_for(&app, &d, "CRASH-1").await.len(), 1);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 2, "stock taken once");
}

/// Puts a delivery back as a crash left it (test-only: bypasses the `received` guard).
async fn reset_delivery(app: &TestApp, d: &oms_domain::integration::Delivery) {
    match &app.backend {
        oms_tests::Backend::Memory(m) => m.put_delivery_for_tests(d),
        oms_tests::Backend::Dynamo(s) => s.put_delivery_for_tests(d).await.expect("reset"),
    }
}

async fn another_companys_integration_is_out_of_reach(app: TestApp) {
    let d = demo(&app).await;
    // Company B, with its own integration and owner.
    let b_owner = app.token("bravo", "OWNER", None);
    let r = app
        .call(
            "POST",
            INTEGRATIONS,
            &b_owner,
            Some(json!({"name": "B shop", "kind": "standard"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let b_id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let b_secret = r.body["data"]["secret"].as_str().expect("secret").to_owned();
    let a = integ(&d, Standard);
    let body = order_body("ISO-1", json!([{"sku": "WIDGET-001", "quantity": 1}]));
    // A's secret on B's URL, and B's secret on A's URL: refused.
    let r = app
        .post_webhook(&b_id, sign(Standard, a.secret, &body, "m1", now(&app)), &body)
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .post_webhook(
            &a.id.to_string(),
            sign(Standard, &b_secret, &body, "m2", now(&app)),
            &body,
        )
        .await;
    assert_eq!(r.status, 401);
    // B's own delivery lands in B, never in A: B has no WIDGET-001, so it fails there.
    let r = app
        .post_webhook(&b_id, sign(Standard, &b_secret, &body, "m3", now(&app)), &body)
        .await;
    assert_eq!(r.status, 202);
    let b_delivery = r.body["data"]["delivery_id"].as_str().expect("id").to_owned();
    app.relay().await;
    assert!(orders_for(&app, &d, "ISO-1").await.is_empty(), "nothing placed for A");
    assert_eq!(app.counts(&d.t.company).await.orders, 0);
    // A's owner cannot see or touch B's integration or its deliveries: 404.
    for (method, path) in [
        ("GET", format!("{INTEGRATIONS}/{b_id}")),
        ("POST", format!("{INTEGRATIONS}/{b_id}/rotate-secret")),
        ("DELETE", format!("{INTEGRATIONS}/{b_id}")),
        ("GET", deliveries_path(&b_id)),
        ("GET", format!("{}/{b_delivery}", deliveries_path(&b_id))),
        ("POST", format!("{}/{b_delivery}/retry", deliveries_path(&b_id))),
        ("GET", format!("{}/{b_delivery}", deliveries_path(a.id))),
        ("POST", format!("{}/{b_delivery}/retry", deliveries_path(a.id))),
    ] {
        let r = app.call(method, &path, &d.owner, None).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
    }
    let listed = app.call("GET", INTEGRATIONS, &d.owner, None).await;
    assert!(!listed.body.to_string().contains(&b_id));
    // And B's integration still works for B.
    let r = app.call("GET", &format!("{INTEGRATIONS}/{b_id}"), &b_owner, None).await;
    assert_eq!(r.status, 200);
}

async fn integrations_are_managed_by_owners_and_admins_and_never_show_a_secret(app: TestApp) {
    let d = demo(&app).await;
    let admin = app.token(d.t.company.as_str(), "ADMIN", None);
    let mut secrets = Vec::new();
    for (token, kind) in [(&d.owner, "standard"), (&admin, "shopify"), (&d.owner, "woocommerce")] {
        let r = app
            .call(
                "POST",
                INTEGRATIONS,
                token,
                Some(json!({"name": format!("My {kind}"), "kind": kind, "can_set_prices": false})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let data = &r.body["data"];
        let id = data["id"].as_str().expect("id").to_owned();
        assert_eq!(
            data["webhook_url"],
            format!("http://127.0.0.1:3000/api/v1/webhooks/{id}/orders")
        );
        let secret = data["secret"].as_str().expect("secret").to_owned();
        if kind == "standard" {
            let raw = secret.strip_prefix("whsec_").expect("whsec_ prefix");
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(raw).expect("base64");
            assert!(bytes.len() >= 24, "{} bytes", bytes.len());
        } else {
            assert!(secret.len() >= 32, "{secret}");
        }
        secrets.push((id, secret));
    }
    assert_ne!(secrets[0].1, secrets[2].1);
    // A platform's existing secret may be given; a standard one is always generated.
    let r = app
        .call(
            "POST",
            INTEGRATIONS,
            &d.owner,
            Some(json!({"name": "Existing shop", "kind": "shopify", "secret": "shpss_0123456789abcdef0123"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["secret"], "shpss_0123456789abcdef0123");
    // Pasted with a newline: the newline is not part of it.
    let r = app
        .call(
            "POST",
            INTEGRATIONS,
            &d.owner,
            Some(json!({"name": "Pasted", "kind": "woocommerce", "secret": " ck_0123456789abcdef0123\n"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["secret"], "ck_0123456789abcdef0123");
    for bad in [
        json!({"name": "x", "kind": "standard", "secret": "whsec_AAAAAAAAAAAAAAAAAAAAAAAA"}),
        json!({"name": "x", "kind": "ftp"}),
        json!({"name": "", "kind": "standard"}),
        json!({"name": "x", "kind": "shopify", "secret": "short"}),
        json!({"name": "x", "kind": "shopify", "secret": "sixteen chars with spaces"}),
        json!({"name": "x", "kind": "woocommerce", "secret": "caf\u{e9}-0123456789abcdef"}),
        json!({"name": "   ", "kind": "standard"}),
        json!({"name": "x", "kind": "standard", "colour": "red"}),
    ] {
        let r = app.call("POST", INTEGRATIONS, &d.owner, Some(bad.clone())).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    // Reads never show a secret.
    let list = app.call("GET", INTEGRATIONS, &d.owner, None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(3 + 3 + 2));
    let text = list.body.to_string();
    for (id, secret) in &secrets {
        assert!(!text.contains(secret.as_str()));
        let one = app.call("GET", &format!("{INTEGRATIONS}/{id}"), &d.owner, None).await;
        assert_eq!(one.status, 200);
        assert!(!one.body.to_string().contains(secret.as_str()));
        assert!(one.body["data"].get("secret").is_none());
    }
    for i in &d.t.integrations {
        assert!(!text.contains(i.secret));
    }
    // Staff, finance, buyers and integrations may not manage them.
    for token in [&d.staff, &d.finance, &d.buyer, &d.integration] {
        for (method, path) in [
            ("GET", INTEGRATIONS.to_owned()),
            ("POST", INTEGRATIONS.to_owned()),
            ("GET", format!("{INTEGRATIONS}/{}", secrets[0].0)),
            ("POST", format!("{INTEGRATIONS}/{}/rotate-secret", secrets[0].0)),
            ("DELETE", format!("{INTEGRATIONS}/{}", secrets[0].0)),
            ("GET", deliveries_path(&secrets[0].0)),
        ] {
            let body = (method == "POST" && path == INTEGRATIONS).then(|| json!({"name": "x", "kind": "standard"}));
            let r = app.call(method, &path, token, body).await;
            assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        }
    }
    // Deleting disables: its deliveries answer 410, with nothing stored. One it accepted
    // before is still placed.
    let (id, secret) = &secrets[0];
    let before = order_body("BEFORE-1", json!([{"sku": "WIDGET-001", "quantity": 1}]));
    let accepted = app
        .post_webhook(id, sign(Standard, secret, &before, "m_before", now(&app)), &before)
        .await;
    assert_eq!(accepted.status, 202);
    let r = app
        .call("DELETE", &format!("{INTEGRATIONS}/{id}"), &d.owner, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["active"], false);
    let body = order_body("GONE-1", json!([{"sku": "WIDGET-001", "quantity": 1}]));
    let r = app
        .post_webhook(id, sign(Standard, secret, &body, "m_gone", now(&app)), &body)
        .await;
    assert_eq!(r.status, 410, "{}", r.body);
    assert_eq!(r.code(), "integration_disabled");
    // For the API it is gone (a DELETE's promise); the audit log keeps its history.
    for (method, path) in [
        ("GET", format!("{INTEGRATIONS}/{id}")),
        ("POST", format!("{INTEGRATIONS}/{id}/rotate-secret")),
        ("DELETE", format!("{INTEGRATIONS}/{id}")),
        ("GET", deliveries_path(id)),
    ] {
        let r = app.call(method, &path, &d.owner, None).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
    }
    let list = app.call("GET", INTEGRATIONS, &d.owner, None).await;
    assert!(!list.body.to_string().contains(id.as_str()));
    app.relay().await;
    assert_eq!(
        orders_for(&app, &d, "BEFORE-1").await.len(),
        1,
        "accepted, so never lost"
    );
    assert!(orders_for(&app, &d, "GONE-1").await.is_empty());
    // Every change is audited, never with a secret.
    let r = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=integration&entity_id={}", secrets[1].0),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["action"], "IntegrationCreated", "{}", r.body);
    let r = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=integration&entity_id={id}"),
            &d.owner,
            None,
        )
        .await;
    let actions: Vec<_> = r.body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(actions, vec![json!("IntegrationDisabled"), json!("IntegrationCreated")]);
    let all = app.call("GET", "/api/v1/audit-log?per_page=100", &d.owner, None).await;
    for (_, secret) in &secrets {
        assert!(!all.body.to_string().contains(secret.as_str()));
    }
}

async fn the_delivery_log_pages_newest_first_and_filters_by_status(app: TestApp) {
    let clock = ManualClock::at("2026-11-30T10:00:00Z");
    let app = app.with_clock(clock.clone());
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    let mut sent = Vec::new();
    for n in 0..7 {
        clock.set(&format!("2026-11-30T10:00:{n:02}Z"));
        let sku = if n % 3 == 0 { "NOPE-1" } else { "WIDGET-001" };
        let body = order_body(&format!("LOG-{n}"), json!([{"sku": sku, "quantity": 1}]));
        let r = send(&app, i, &body, &format!("msg_log_{n}")).await;
        sent.push(r.body["data"]["delivery_id"].clone());
    }
    app.relay().await;
    // Newest first, three pages of 3, 3 and 1, each once.
    let mut seen = Vec::new();
    let mut next = Some(format!("{}?per_page=3", deliveries_path(i.id)));
    while let Some(url) = next {
        let r = app.call("GET", &url, &d.owner, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for row in r.body["data"].as_array().into_iter().flatten() {
            assert!(
                row.get("body").is_none(),
                "the log lists deliveries without their payloads"
            );
            assert!(row["attempts"].as_u64().is_some());
            seen.push(row["id"].clone());
        }
        next = r.body["links"]["next"].as_str().map(str::to_owned);
    }
    let newest_first: Vec<Value> = sent.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    // By status: full pages of exactly that status.
    let failed = deliveries(&app, &d, i.id, "&status=failed").await;
    let want: Vec<Value> = sent
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 3 == 0)
        .map(|(_, v)| v.clone())
        .rev()
        .collect();
    assert_eq!(failed.iter().map(|r| r["id"].clone()).collect::<Vec<_>>(), want);
    assert!(failed
        .iter()
        .all(|r| r["error"].as_str().is_some_and(|e| e.contains("NOPE-1"))));
    let r = app
        .call(
            "GET",
            &format!("{}?status=failed&per_page=2", deliveries_path(i.id)),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(2));
    let placed = deliveries(&app, &d, i.id, "&status=placed").await;
    assert_eq!(placed.len(), 4);
    assert!(placed
        .iter()
        .all(|r| r["order_id"].is_string() && r["alerts"] == json!([])));
    assert!(deliveries(&app, &d, i.id, "&status=received").await.is_empty());
    let r = app
        .call("GET", &format!("{}?status=lost", deliveries_path(i.id)), &d.owner, None)
        .await;
    assert_eq!(r.status, 422);
}

async fn shopify_and_woocommerce_orders_are_read_as_their_platforms_send_them(app: TestApp) {
    let d = demo(&app).await;
    let widgets = stock(&app, &d, "WIDGET-001").await;
    // Shopify's orders/create, as the sample in events/.
    let shop = integ(&d, Shopify);
    let r = send(
        &app,
        shop,
        &sample("shopify-orders-create.json"),
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    // WooCommerce's order.created (4 bolts: more than the 3 in stock, so held).
    let woo = integ(&d, Woocommerce);
    let r = send(&app, woo, &sample("woocommerce-order-created.json"), "8841").await;
    assert_eq!(r.status, 202, "{}", r.body);
    app.relay().await;

    let o = orders_for(&app, &d, "5765436022937").await.remove(0);
    let o = order(&app, &d, &o["id"]).await;
    assert_eq!(o["channel"], "webhook");
    assert_eq!(o["status"], "pending");
    assert_eq!(o["alerts"], json!([]));
    assert_eq!(o["items"][0]["sku"], "WIDGET-001");
    assert_eq!(o["items"][0]["quantity"], 2);
    assert_eq!(o["items"][1]["sku"], "GADGET-002");
    assert_eq!(o["shipping_amount"], "15.00");
    assert_eq!(o["tax_amount"], "31.50");
    assert_eq!(o["customer"]["email"], "jon@northwind.example");
    assert_eq!(o["customer"]["company_name"], "Northwind Supply Co.");
    assert_eq!(o["shipping_info"]["postal_code"], "94607");
    assert_eq!(o["shipping_info"]["country"], "US");
    assert_eq!(o["financial_status"], "paid");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets - 2);

    let w = orders_for(&app, &d, "727").await.remove(0);
    let w = order(&app, &d, &w["id"]).await;
    assert_eq!(w["alerts"], json!(["insufficientStock"]));
    assert_eq!(w["items"][0]["sku"], "BOLT-M8");
    assert_eq!(w["items"][0]["quantity"], 4);
    assert_eq!(w["shipping_amount"], "10.00");
    assert_eq!(w["tax_amount"], "4.50");
    assert_eq!(w["shipping_info"]["country"], "DE");
    assert_eq!(w["customer"]["company_name"], "Schmidt Elektro GmbH");
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 3, "held: nothing taken");
    // The platforms' own customer ids find the customer again.
    let r = send(
        &app,
        woo,
        &sample("woocommerce-order-created.json").replace("\"id\":727", "\"id\":728"),
        "8842",
    )
    .await;
    assert_eq!(r.status, 202);
    app.relay().await;
    let again = orders_for(&app, &d, "728").await.remove(0);
    assert_eq!(order(&app, &d, &again["id"]).await["customer_id"], w["customer_id"]);
    // WooCommerce's pending payment is kept.
    let pending = sample("woocommerce-order-created.json")
        .replace("\"id\":727", "\"id\":729")
        .replace("\"status\":\"processing\"", "\"status\":\"pending\"");
    assert_eq!(send(&app, woo, &pending, "8843").await.status, 202);
    app.relay().await;
    let p = orders_for(&app, &d, "729").await.remove(0);
    assert_eq!(order(&app, &d, &p["id"]).await["financial_status"], "pending");
}

async fn prices_numbers_and_amounts_follow_the_integrations_rights(app: TestApp) {
    let d = demo(&app).await;
    let i = integ(&d, Standard);
    // Prices sent by an integration that may not set them are ignored (the catalog's).
    let mut body: Value = serde_json::from_str(&order_body(
        "PRICE-1",
        json!([{"sku": "WIDGET-001", "quantity": 1, "unit_price": "1.00"}]),
    ))
    .expect("json");
    assert_eq!(send(&app, i, &body.to_string(), "msg_p1").await.status, 202);
    // One that may: its prices are used.
    let r = app
        .call(
            "POST",
            INTEGRATIONS,
            &d.owner,
            Some(json!({"name": "Priced ERP", "kind": "standard", "can_set_prices": true})),
        )
        .await;
    let priced_id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let priced_secret = r.body["data"]["secret"].as_str().expect("secret").to_owned();
    body["origin_order_id"] = json!("PRICE-2");
    let b = body.to_string();
    let r = app
        .post_webhook(&priced_id, sign(Standard, &priced_secret, &b, "msg_p2", now(&app)), &b)
        .await;
    assert_eq!(r.status, 202);
    // An explicit order number, once per company; negative shipping or tax fails naming it.
    let numbered = |origin: &str| {
        let mut b: Value =
            serde_json::from_str(&order_body(origin, json!([{"sku": "WIDGET-001", "quantity": 1}]))).expect("json");
        b["order_number"] = json!("SHOP-1001");
        b.to_string()
    };
    let mut negative: Value =
        serde_json::from_str(&order_body("NEG-1", json!([{"sku": "WIDGET-001", "quantity": 1}]))).expect("json");
    negative["shipping_cost"] = json!("-5.00");
    let mut negative_tax = negative.clone();
    negative_tax["shipping_cost"] = json!("5.00");
    negative_tax["total_tax"] = json!(-1);
    negative_tax["origin_order_id"] = json!("NEG-2");
    let mut absurd = negative_tax.clone();
    absurd["total_tax"] = json!(1e300);
    absurd["origin_order_id"] = json!("NEG-3");
    let mut floaty = negative_tax.clone();
    floaty["total_tax"] = json!("0");
    floaty["items"] = json!([{"sku": "WIDGET-001", "quantity": 2.0}]);
    floaty["origin_order_id"] = json!("FLOAT-1");
    for (n, b) in [
        numbered("NUM-1"),
        numbered("NUM-2"),
        negative.to_string(),
        negative_tax.to_string(),
        absurd.to_string(),
        floaty.to_string(),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(send(&app, i, b, &format!("msg_n{n}")).await.status, 202);
    }
    app.relay().await;
    let price_of = |o: Vec<Value>| o[0]["total_amount"].clone();
    assert_eq!(price_of(orders_for(&app, &d, "PRICE-1").await), "99.99");
    assert_eq!(price_of(orders_for(&app, &d, "PRICE-2").await), "1.00");
    // Whichever the worker placed first has the number; the other failed on it.
    let mut numbered_orders = orders_for(&app, &d, "NUM-1").await;
    numbered_orders.extend(orders_for(&app, &d, "NUM-2").await);
    assert_eq!(numbered_orders.len(), 1);
    assert_eq!(numbered_orders[0]["order_number"], "SHOP-1001");
    assert_eq!(orders_for(&app, &d, "FLOAT-1").await.len(), 1);
    let log = deliveries(&app, &d, i.id, "&status=failed").await;
    let errors: Vec<String> = log
        .iter()
        .map(|r| r["error"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("SHOP-1001")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("shipping_cost")), "{errors:?}");
    assert_eq!(
        errors.iter().filter(|e| e.contains("total_tax")).count(),
        2,
        "{errors:?}"
    );
    for origin in ["NEG-1", "NEG-2", "NEG-3"] {
        assert!(orders_for(&app, &d, origin).await.is_empty(), "{origin}");
    }
}

async fn webhook_orders_count_toward_the_monthly_cap(app: TestApp) {
    let d = demo(&app).await;
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.monthly_order_limit = Some(2);
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let i = integ(&d, Standard);
    for n in 0..3 {
        let b = order_body(&format!("CAP-{n}"), json!([{"sku": "WIDGET-001", "quantity": 1}]));
        assert_eq!(send(&app, i, &b, &format!("msg_cap_{n}")).await.status, 202);
        app.relay().await;
    }
    assert_eq!(orders_for(&app, &d, "CAP-0").await.len(), 1);
    assert_eq!(orders_for(&app, &d, "CAP-1").await.len(), 1);
    assert!(orders_for(&app, &d, "CAP-2").await.is_empty());
    let failed = deliveries(&app, &d, i.id, "&status=failed").await;
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"].as_str().is_some_and(|e| e.contains("per month")),
        "{failed:?}"
    );
    // The storefront is capped too (the webhook orders used the month up).
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let _ = Arc::new(());
}

/// The reference Python package signs the scheme's published vector exactly as the
/// service's own signer does, so the tests' deliveries come from an implementation that
/// agrees with the specification, not merely with us.
#[test]
fn the_reference_library_signs_the_published_vector() {
    let (secret, id, ts) = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
    );
    let body = r#"{"test": 2432232314}"#;
    let headers = sign(Standard, secret, body, id, ts);
    let signature = headers
        .iter()
        .find(|(k, _)| k == "webhook-signature")
        .map(|(_, v)| v.clone());
    assert_eq!(
        signature.as_deref(),
        Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    );
    assert_eq!(
        oms_domain::webhook::sign_standard(secret, id, ts, body.as_bytes()),
        signature
    );
}

/// Shopify's line prices are before its discounts (`total_discounts`): an integration that
/// sets prices keeps the platform's discount as the order's `discount` charge, so the
/// order totals what the shop charged; one that does not gets the catalog's prices and no
/// platform discount. (WooCommerce's line prices are already net of its discounts.)
async fn a_platforms_discount_is_the_orders_only_where_its_prices_are(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call(
            "POST",
            INTEGRATIONS,
            &d.owner,
            Some(json!({"name": "Priced shop", "kind": "shopify", "can_set_prices": true})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let priced = r.body["data"]["id"].as_str().expect("id").to_owned();
    let secret = r.body["data"]["secret"].as_str().expect("secret").to_owned();
    let mut payload: Value = serde_json::from_str(&sample("shopify-orders-create.json")).expect("json");
    payload["total_discounts"] = json!("10.00");
    let discounted = payload.to_string();
    payload["id"] = json!(5765436022938_u64);
    let b = payload.to_string();
    let r = app
        .post_webhook(&priced, sign(Shopify, &secret, &b, "disc-1", now(&app)), &b)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = send(&app, integ(&d, Shopify), &discounted, "disc-2").await;
    assert_eq!(r.status, 202, "{}", r.body);
    app.relay().await;

    let o = orders_for(&app, &d, "5765436022938").await.remove(0);
    let o = order(&app, &d, &o["id"]).await;
    let kinds: Vec<(&str, &str)> = o["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .map(|c| (c["type"].as_str().unwrap_or("?"), c["amount"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(kinds, [("shipping", "15.00"), ("discount", "10.00")], "{o}");
    assert_eq!(o["subtotal_amount"], "349.97", "the shop's prices");
    assert_eq!(o["discount_amount"], "10.00");
    // 349.97 + 31.50 tax + 15.00 shipping - 10.00: the shop's total_price less 10.00.
    assert_eq!(o["total_amount"], "386.47");

    let catalog = orders_for(&app, &d, "5765436022937").await.remove(0);
    let catalog = order(&app, &d, &catalog["id"]).await;
    assert_eq!(catalog["discount_amount"], "0.00", "{catalog}");
    assert!(catalog["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .all(|c| c["type"] != "discount"));
}
