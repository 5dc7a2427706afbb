//! Bulk stock (issue 13, part 3), on both adapters: set and delta, clamping at 0, all or
//! nothing, one audit entry with every before and after, the one-transaction limit, bad
//! input, permissions and tenants, and orders racing a bulk change.

use futures_util::future::join_all;
use serde_json::{json, Value};

use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, stock, Demo, ORDERS};

on_both_adapters!(
    set_and_delta_apply_to_every_product_with_one_audit_entry,
    a_bulk_change_is_all_or_nothing,
    bad_bulk_requests_are_refused_and_change_nothing,
    the_limit_is_one_transaction_and_a_larger_selection_is_refused_whole,
    orders_racing_a_bulk_change_are_never_lost,
    a_bulk_write_computed_before_a_sale_is_not_written,
);

const BULK: &str = "/api/v1/products/stock/bulk";

fn body(d: &Demo, skus: &[&str], mode: &str, value: i64) -> Value {
    let ids: Vec<String> = skus.iter().map(|s| d.id(s).to_string()).collect();
    json!({"product_ids": ids, "mode": mode, "value": value, "reason": "cycle count"})
}

async fn stocks(app: &TestApp, d: &Demo, skus: &[&str]) -> Vec<u32> {
    let mut out = Vec::new();
    for s in skus {
        out.push(stock(app, d, s).await);
    }
    out
}

async fn bulk_entries(app: &TestApp, d: &Demo) -> usize {
    let log = app
        .call("GET", "/api/v1/audit-log?action=ProductBulkUpdated", &d.owner, None)
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    log.body["data"].as_array().map_or(0, Vec::len)
}

async fn set_and_delta_apply_to_every_product_with_one_audit_entry(app: TestApp) {
    let d = demo(&app).await;
    let skus = ["WIDGET-001", "GADGET-002", "BOLT-M8"];
    let before = stocks(&app, &d, &skus).await;
    let r = app.call("POST", BULK, &d.staff, Some(body(&d, &skus, "set", 40))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stocks(&app, &d, &skus).await, [40, 40, 40]);
    let lines = r.body["data"]["products"].as_array().cloned().unwrap_or_default();
    assert_eq!(lines.len(), 3);
    for (line, (sku, was)) in lines.iter().zip(skus.iter().zip(&before)) {
        assert_eq!(line["sku"], *sku);
        assert_eq!(line["before"], *was);
        assert_eq!(line["after"], 40);
    }
    // A delta below 0 leaves 0, and says so; the others move by the delta.
    app.call("POST", BULK, &d.staff, Some(body(&d, &["BOLT-M8"], "set", 5)))
        .await;
    let r = app
        .call(
            "POST",
            BULK,
            &d.staff,
            Some(body(&d, &["WIDGET-001", "BOLT-M8"], "delta", -10)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stocks(&app, &d, &["WIDGET-001", "BOLT-M8"]).await, [30, 0]);
    assert_eq!(r.body["data"]["products"][0]["clamped"], false);
    assert_eq!(r.body["data"]["products"][1]["clamped"], true);
    let r = app
        .call(
            "POST",
            BULK,
            &d.staff,
            Some(body(&d, &["WIDGET-001", "GADGET-002"], "delta", 7)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stocks(&app, &d, &["WIDGET-001", "GADGET-002"]).await, [37, 47]);
    // One entry per request, listing every product's before and after.
    let log = app
        .call("GET", "/api/v1/audit-log?action=ProductBulkUpdated", &d.owner, None)
        .await;
    let entries = log.body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 4, "{}", log.body);
    let first = &entries[3];
    let widget = d.id("WIDGET-001").to_string();
    assert_eq!(first["before"]["stock"][&widget], before[0]);
    assert_eq!(first["after"]["stock"][&widget], 40);
    assert_eq!(first["summary"]["reason"], "cycle count");
    assert_eq!(first["summary"]["products"].as_array().map(Vec::len), Some(3));
}

async fn a_bulk_change_is_all_or_nothing(app: TestApp) {
    let d = demo(&app).await;
    let skus = ["WIDGET-001", "GADGET-002"];
    let before = stocks(&app, &d, &skus).await;
    // One id that is not this company's: 404, nothing changed.
    let mut b = body(&d, &skus, "set", 3);
    if let Some(ids) = b["product_ids"].as_array_mut() {
        ids.push(json!("00000000-0000-4000-8000-0000000000ff"));
    }
    let r = app.call("POST", BULK, &d.staff, Some(b)).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"), "{}", r.body);
    // Another company's token cannot see these products at all.
    let other = app.token("zulu", "OWNER", None);
    let r = app.call("POST", BULK, &other, Some(body(&d, &skus, "set", 3))).await;
    assert_eq!(r.status, 404, "{}", r.body);
    // One product that would pass the maximum: 409, and the other is not changed either.
    app.call(
        "POST",
        BULK,
        &d.staff,
        Some(body(&d, &["GADGET-002"], "set", 999_999_990)),
    )
    .await;
    let r = app
        .call("POST", BULK, &d.staff, Some(body(&d, &skus, "delta", 20)))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "stock_limit_exceeded"),
        "{}",
        r.body
    );
    assert_eq!(stocks(&app, &d, &skus).await, [before[0], 999_999_990]);
    assert_eq!(
        bulk_entries(&app, &d).await,
        1,
        "only the one successful set was audited"
    );
}

async fn bad_bulk_requests_are_refused_and_change_nothing(app: TestApp) {
    let d = demo(&app).await;
    let w = d.id("WIDGET-001").to_string();
    let before = app.counts(&d.t.company).await;
    let stock_before = stock(&app, &d, "WIDGET-001").await;
    let cases = [
        (
            json!({"product_ids": [], "mode": "set", "value": 1, "reason": "x"}),
            "product_ids",
        ),
        (
            json!({"product_ids": [w, w], "mode": "set", "value": 1, "reason": "x"}),
            "product_ids",
        ),
        (
            json!({"product_ids": ["nope"], "mode": "set", "value": 1, "reason": "x"}),
            "product_ids",
        ),
        (
            json!({"product_ids": w, "mode": "set", "value": 1, "reason": "x"}),
            "product_ids",
        ),
        (
            json!({"product_ids": [w], "mode": "add", "value": 1, "reason": "x"}),
            "mode",
        ),
        (
            json!({"product_ids": [w], "mode": "set", "value": -1, "reason": "x"}),
            "value",
        ),
        (
            json!({"product_ids": [w], "mode": "set", "value": 1_000_000_001_i64, "reason": "x"}),
            "value",
        ),
        (
            json!({"product_ids": [w], "mode": "delta", "value": 0, "reason": "x"}),
            "value",
        ),
        (
            json!({"product_ids": [w], "mode": "delta", "value": 1.5, "reason": "x"}),
            "value",
        ),
        (
            json!({"product_ids": [w], "mode": "delta", "value": "5", "reason": "x"}),
            "value",
        ),
        (
            json!({"product_ids": [w], "mode": "delta", "value": 9e40, "reason": "x"}),
            "value",
        ),
        (
            json!({"product_ids": [w], "mode": "delta", "value": 5, "reason": "  "}),
            "reason",
        ),
        (json!({"product_ids": [w], "mode": "delta", "value": 5}), "reason"),
        (
            json!({"product_ids": [w], "mode": "delta", "value": 5, "reason": "x", "force": true}),
            "force",
        ),
    ];
    for (b, field) in cases {
        let r = app.call("POST", BULK, &d.staff, Some(b.clone())).await;
        assert_eq!(r.status, 422, "{b}: {}", r.body);
        assert!(
            r.body["error"].to_string().contains(field),
            "{b} should name {field}: {}",
            r.body
        );
    }
    for token in [&d.finance, &d.buyer, &d.integration] {
        let r = app
            .call("POST", BULK, token, Some(body(&d, &["WIDGET-001"], "set", 1)))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"]["details"]["permission"], "stock:adjust");
    }
    assert_eq!(app.counts(&d.t.company).await, before);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, stock_before);
    assert_eq!(bulk_entries(&app, &d).await, 0);
}

async fn the_limit_is_one_transaction_and_a_larger_selection_is_refused_whole(app: TestApp) {
    let d = demo(&app).await;
    let limit = oms_domain::usecases::catalog::MAX_BULK_PRODUCTS;
    let mut ids = Vec::new();
    for i in 0..=limit {
        let r = app
            .call(
                "POST",
                "/api/v1/products",
                &d.owner,
                Some(json!({"sku": format!("BULK-{i}"), "name": format!("Bulk {i}"), "price": "1.00", "stock": 10})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["data"]["id"].clone());
    }
    let r = app
        .call(
            "POST",
            BULK,
            &d.staff,
            Some(json!({"product_ids": ids, "mode": "delta", "value": 5, "reason": "delivery"})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "too_many_products"), "{}", r.body);
    ids.pop();
    let r = app
        .call(
            "POST",
            BULK,
            &d.staff,
            Some(json!({"product_ids": ids, "mode": "delta", "value": 5, "reason": "delivery"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let lines = r.body["data"]["products"].as_array().cloned().unwrap_or_default();
    assert_eq!(lines.len(), limit);
    assert!(lines.iter().all(|l| l["after"] == 15));
}

async fn orders_racing_a_bulk_change_are_never_lost(app: TestApp) {
    let d = demo(&app).await;
    let start = stock(&app, &d, "WIDGET-001").await;
    let bulk = app.call(
        "POST",
        BULK,
        &d.staff,
        Some(body(&d, &["WIDGET-001", "GADGET-002"], "delta", 50)),
    );
    let orders = join_all((0..12).map(|_| app.call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))));
    let (bulk, orders) = tokio::join!(bulk, orders);
    assert_eq!(bulk.status, 200, "{}", bulk.body);
    let placed = orders.iter().filter(|r| r.status == 201).count() as u32;
    assert!(placed > 0);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, start + 50 - placed);
}

/// The race window itself, on the store: a bulk change computed from the stock it read,
/// then a sale, then the write. The write must be refused whole (naming the product that
/// moved), so the sale is not erased; the use case then recomputes.
async fn a_bulk_write_computed_before_a_sale_is_not_written(app: TestApp) {
    use oms_domain::audit::{AuditAction, AuditEntry, EntityKind};
    use oms_domain::auth::Actor;
    use oms_domain::ids::EventId;

    let d = demo(&app).await;
    let (widget, gadget) = (d.id("WIDGET-001"), d.id("GADGET-002"));
    let seen = (stock(&app, &d, "WIDGET-001").await, stock(&app, &d, "GADGET-002").await);
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let actor = Actor::from_claims("user-staff", d.t.company.as_str(), "STAFF", None).expect("actor");
    let audit = AuditEntry::new(
        EventId::new(uuid::Uuid::new_v4()),
        chrono::Utc::now(),
        &actor,
        AuditAction::ProductBulkUpdated,
        EntityKind::Product,
        "bulk",
        None,
        None,
        json!({}),
    );
    let moved = app
        .store()
        .set_stocks(&d.t.company, &[(widget, seen.0, 50), (gadget, seen.1, 50)], &audit)
        .await
        .expect("write");
    assert_eq!(moved.expect_err("refused"), [(widget, Some(seen.0 - 1))]);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, seen.0 - 1, "the sale stands");
    assert_eq!(stock(&app, &d, "GADGET-002").await, seen.1, "all or nothing");
    assert_eq!(bulk_entries(&app, &d).await, 0);
}
