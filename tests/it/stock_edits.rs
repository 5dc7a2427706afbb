//! A stock edit never erases a sale: absolute sets are conditional on the stock they were
//! based on, relative adjustments are one conditional `ADD`, on both adapters.

use futures_util::future::join_all;
use serde_json::{json, Value};

use oms_tests::{on_both_adapters, Reply, TestApp};

use crate::support::{demo, stock, Demo, ORDERS};

on_both_adapters!(
    a_stale_absolute_set_is_refused_with_the_current_stock,
    adjustments_add_and_remove_and_stop_at_zero_audited,
    concurrent_orders_adjustments_and_stale_sets_keep_the_arithmetic_truth,
);

fn product_path(d: &Demo, sku: &str) -> String {
    format!("/api/v1/products/{}", d.id(sku))
}

async fn adjust(app: &TestApp, d: &Demo, sku: &str, delta: i64, reason: &str) -> Reply {
    app.call(
        "POST",
        &format!("{}/stock-adjustments", product_path(d, sku)),
        &d.staff,
        Some(json!({"delta": delta, "reason": reason})),
    )
    .await
}

async fn a_stale_absolute_set_is_refused_with_the_current_stock(app: TestApp) {
    let d = demo(&app).await;
    // The clerk reads 120; a buyer takes 5; the clerk sets 150 "from 120".
    let read = app.call("GET", &product_path(&d, "WIDGET-001"), &d.staff, None).await;
    assert_eq!(read.body["data"]["stock"], 120);
    let sale = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 5}]})),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    let stale = app
        .call(
            "PATCH",
            &product_path(&d, "WIDGET-001"),
            &d.staff,
            Some(json!({"stock": 150, "expected_stock": 120})),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.code(), "stock_changed");
    assert_eq!(stale.body["error"]["details"]["current_stock"], 115);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 115, "the 5 sold units stay sold");
    // Set again from what it is now: accepted.
    let fresh = app
        .call(
            "PATCH",
            &product_path(&d, "WIDGET-001"),
            &d.staff,
            Some(json!({"stock": 150, "expected_stock": 115})),
        )
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 150);
    // A set without the level it is based on is refused, naming the field.
    let blind = app
        .call(
            "PATCH",
            &product_path(&d, "WIDGET-001"),
            &d.staff,
            Some(json!({"stock": 10})),
        )
        .await;
    assert_eq!(blind.status, 422, "{}", blind.body);
    assert_eq!(blind.body["error"]["details"]["fields"][0]["field"], "expected_stock");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 150);
}

async fn adjustments_add_and_remove_and_stop_at_zero_audited(app: TestApp) {
    let d = demo(&app).await;
    let r = adjust(&app, &d, "BOLT-M8", 24, "delivery from the supplier").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["applied"], 24);
    assert_eq!(r.body["data"]["product"]["stock"], 27);
    let r = adjust(&app, &d, "BOLT-M8", -2, "damaged in the warehouse").await;
    assert_eq!(
        (r.body["data"]["applied"].clone(), r.body["data"]["clamped"].clone()),
        (json!(-2), json!(false))
    );
    // Removing more than there is leaves 0, and says what was removed.
    let r = adjust(&app, &d, "BOLT-M8", -1000, "count: none left").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["requested"], -1000);
    assert_eq!(r.body["data"]["applied"], -25);
    assert_eq!(r.body["data"]["clamped"], true);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 0);
    for (body, field) in [
        (json!({"delta": 0, "reason": "x"}), "delta"),
        (json!({"delta": 5, "reason": "  "}), "reason"),
        (json!({"delta": 2_000_000_000i64, "reason": "x"}), "delta"),
    ] {
        let r = app
            .call(
                "POST",
                &format!("{}/stock-adjustments", product_path(&d, "BOLT-M8")),
                &d.staff,
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["fields"][0]["field"], field, "{body}");
    }
    // Up to the maximum stock, and not past it.
    assert_eq!(adjust(&app, &d, "BOLT-M8", 1_000_000_000, "x").await.status, 201);
    let over = adjust(&app, &d, "BOLT-M8", 1, "x").await;
    assert_eq!(over.status, 409, "{}", over.body);
    assert_eq!(over.body["error"]["code"], "stock_limit_exceeded");
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 1_000_000_000);
    assert_eq!(adjust(&app, &d, "BOLT-M8", -1_000_000_000, "x").await.status, 201);
    let finance = app
        .call(
            "POST",
            &format!("{}/stock-adjustments", product_path(&d, "BOLT-M8")),
            &d.finance,
            Some(json!({"delta": 1, "reason": "x"})),
        )
        .await;
    assert_eq!(finance.status, 403);
    // Each applied adjustment is in the audit log with its reason.
    let log = app
        .call(
            "GET",
            &format!(
                "/api/v1/audit-log?entity=product&entity_id={}&action=StockAdjusted",
                d.id("BOLT-M8")
            ),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let reasons: Vec<&str> = log.body["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["summary"]["reason"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        reasons,
        [
            "x",
            "x",
            "count: none left",
            "damaged in the warehouse",
            "delivery from the supplier"
        ]
    );
}

/// 20 orders, 10 adjustments and 5 stale absolute sets at once: the stock ends at exactly
/// what the accepted writes add up to, and every refused write said why.
async fn concurrent_orders_adjustments_and_stale_sets_keep_the_arithmetic_truth(app: TestApp) {
    let d = demo(&app).await;
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.monthly_order_limit = None;
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let sku = "GADGET-002";
    let start = stock(&app, &d, sku).await;
    // One edit first, so every set "from the start" below is stale.
    assert_eq!(adjust(&app, &d, sku, -1, "count").await.status, 201);
    let path = product_path(&d, sku);
    let order = json!({"customer_id": d.t.acme, "items": [{"sku": sku, "quantity": 1}]});
    let orders = (0..20).map(|_| app.call("POST", ORDERS, &d.staff, Some(order.clone())));
    let (app_ref, d_ref) = (&app, &d);
    let adjustments = (0..10).map(|i| {
        let delta = if i % 2 == 0 { 3 } else { -2 };
        async move { (delta, adjust(app_ref, d_ref, sku, delta, "concurrent").await) }
    });
    let sets = (0..5).map(|_| {
        app.call(
            "PATCH",
            &path,
            &d.staff,
            Some(json!({"stock": 500, "expected_stock": start})),
        )
    });
    let (orders, adjustments, sets) = futures_util::join!(join_all(orders), join_all(adjustments), join_all(sets));
    let sold = orders.iter().filter(|r| r.status == 201).count() as i64;
    for r in &orders {
        assert!(r.status == 201, "{}", r.body);
    }
    let mut applied = 0i64;
    for (delta, r) in &adjustments {
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(
            r.body["data"]["applied"],
            Value::from(*delta),
            "nothing clamped: {}",
            r.body
        );
        applied += delta;
    }
    for r in &sets {
        assert_eq!(r.status, 409, "a set from a stale level is refused: {}", r.body);
        assert_eq!(r.code(), "stock_changed");
    }
    let expected = i64::from(start) - 1 - sold + applied;
    assert_eq!(
        i64::from(stock(&app, &d, sku).await),
        expected,
        "start {start} - 1 - {sold} sold + {applied} adjusted"
    );
}
